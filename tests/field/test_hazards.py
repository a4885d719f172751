"""Hazards: creation from items, working-day deadlines, and every state transition."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEvent, Hazard
from server.models.field import HAZARD_STATES
from server.services import hazards, inspections
from server.services.errors import BadInput, Forbidden, RuleViolation
from tests import factories

FOUND = date(2025, 9, 30)
ACTIONS = ("notify", "claim_rectified", "verify_fixed", "mark_overdue", "escalate", "determine_major", "withdraw")

# The life cycle of DESIGN §8, written out by hand: (state, action) → new state. Everything
# not listed must be refused with `illegal_transition`.
LEGAL = {
    ("major_pending", "determine_major"): "open",
    ("open", "notify"): "notified",
    ("open", "withdraw"): "withdrawn",
    ("notified", "claim_rectified"): "rectification_claimed",
    ("notified", "verify_fixed"): "verified_fixed",
    ("notified", "mark_overdue"): "overdue",
    ("rectification_claimed", "verify_fixed"): "verified_fixed",
    ("rectification_claimed", "mark_overdue"): "overdue",
    ("overdue", "verify_fixed"): "verified_fixed",
    ("overdue", "escalate"): "escalated",
}


@pytest.fixture
def template(world):
    return factories.checklist_template("storefront")


@pytest.fixture
def open_inspection(world, template):
    return factories.inspection(world.users["inspector_a"], world.venue_a, second=world.users["inspector_a2"])


def _hazard_in(world, state: str) -> Hazard:
    """A free-standing hazard put straight into `state` (test set-up, not a transition)."""
    severity = "major" if state == "major_pending" else "general"
    hazard = hazards.create_hazard(world.users["inspector_a"], venue_id=world.venue_a.id, description="疏散通道堆放杂物",
                                   severity=severity, found_on=FOUND, deadline_days=3)
    hazard.state = state
    db.session.commit()
    return hazard


def _params(world, action: str) -> dict:
    """Everything each action may need, so a refusal can only come from the state table."""
    users = world.users
    return {"as_of": FOUND + timedelta(days=60), "reason": "经核实不属于隐患",
            "determined_by": [users["supervisor_a"].id, users["inspector_a"].id, users["inspector_a2"].id],
            "confirmed": True}


@pytest.mark.parametrize("state", HAZARD_STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_table(world, state, action):
    hazard = _hazard_in(world, state)
    supervisor = world.users["supervisor_a"]
    expected = LEGAL.get((state, action))
    if expected is None:
        with pytest.raises(RuleViolation) as err:
            hazards.transition(supervisor, hazard.id, action, **_params(world, action))
        assert err.value.reason == "illegal_transition"
        assert err.value.params == {"from_state": state, "action": action}
        assert db.session.get(Hazard, hazard.id).state == state
    else:
        before = hazard.state_changed_at
        moved = hazards.transition(supervisor, hazard.id, action, **_params(world, action))
        assert moved.state == expected
        assert moved.state_changed_at >= before
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_id == hazard.id,
                                                            AuditEvent.action == f"hazard.{action}")).one()
        assert event.before["state"] == state and event.after["state"] == expected


def test_every_state_and_action_is_covered():
    assert set(HAZARD_STATES) >= {s for s, _ in LEGAL} and set(hazards.ACTIONS) == set(ACTIONS)
    table = {(s, a): t for a, (sources, t, _) in hazards.TRANSITIONS.items() for s in sources}
    assert table == LEGAL


def test_unknown_action_is_bad_input(world):
    hazard = _hazard_in(world, "open")
    with pytest.raises(BadInput) as err:
        hazards.transition(world.users["supervisor_a"], hazard.id, "delete")
    assert err.value.reason == "hazard_unknown_action"


def test_inspector_cannot_escalate_or_determine(world):
    inspector = world.users["inspector_a"]
    with pytest.raises(Forbidden):
        hazards.transition(inspector, _hazard_in(world, "overdue").id, "escalate")
    with pytest.raises(Forbidden):
        hazards.transition(inspector, _hazard_in(world, "major_pending").id, "determine_major",
                           **_params(world, "determine_major"))


def test_owner_may_claim_rectification_of_own_venue_only(world):
    owner = world.users["owner_a"]
    claimed = hazards.transition(owner, _hazard_in(world, "notified").id, "claim_rectified")
    assert claimed.state == "rectification_claimed"
    with pytest.raises(Forbidden):
        hazards.transition(owner, _hazard_in(world, "open").id, "notify")
    other = hazards.create_hazard(world.users["inspector_b"], venue_id=world.venue_b.id, description="电动车楼道充电",
                                  deadline_days=3, found_on=FOUND)
    other = hazards.transition(world.users["inspector_b"], other.id, "notify", as_of=FOUND)
    with pytest.raises(Forbidden):
        hazards.transition(owner, other.id, "claim_rectified")


def test_inspector_of_another_area_is_refused(world):
    hazard = _hazard_in(world, "open")
    with pytest.raises(Forbidden) as err:
        hazards.transition(world.users["inspector_b"], hazard.id, "notify")
    assert err.value.reason == "out_of_scope"
    with pytest.raises(Forbidden):
        hazards.create_hazard(world.users["inspector_b"], venue_id=world.venue_a.id, description="x")


def test_mark_overdue_only_after_the_deadline(world):
    hazard = _hazard_in(world, "notified")
    with pytest.raises(RuleViolation) as err:
        hazards.transition(None, hazard.id, "mark_overdue", as_of=hazard.deadline)
    assert err.value.reason == "hazard_not_past_deadline"
    assert hazards.transition(None, hazard.id, "mark_overdue",
                              as_of=hazard.deadline + timedelta(days=1)).state == "overdue"


def test_daily_tick_marks_passed_deadlines(world):
    late, on_time = _hazard_in(world, "notified"), _hazard_in(world, "rectification_claimed")
    on_time.deadline = FOUND + timedelta(days=90)
    db.session.commit()
    marked = hazards.mark_overdue_hazards(FOUND + timedelta(days=30))
    assert [h.id for h in marked] == [late.id]
    assert db.session.get(Hazard, on_time.id).state == "rectification_claimed"


def test_system_may_not_do_anything_but_mark_overdue(world):
    with pytest.raises(Forbidden):
        hazards.transition(None, _hazard_in(world, "overdue").id, "escalate")


def test_major_determination_needs_three_people_and_records_them(world):
    hazard = _hazard_in(world, "major_pending")
    users = world.users
    with pytest.raises(RuleViolation) as err:
        hazards.transition(users["supervisor_a"], hazard.id, "determine_major",
                           determined_by=[users["supervisor_a"].id, users["inspector_a"].id,
                                          users["inspector_a"].id])
    assert err.value.reason == "hazard_determination_needs_three"
    with pytest.raises(RuleViolation):  # cannot skip the determination and notify
        hazards.transition(users["supervisor_a"], hazard.id, "notify")
    done = hazards.transition(users["supervisor_a"], hazard.id, "determine_major", **_params(world, "x"),
                              note="集体讨论：住宿与经营未分隔，构成重大火灾隐患")
    assert done.state == "open" and done.severity == "major"
    assert sorted(done.major_determination["by"]) == sorted(
        [users["supervisor_a"].id, users["inspector_a"].id, users["inspector_a2"].id])
    assert done.major_determination["confirmed"] is True


def test_major_candidate_not_confirmed_becomes_general(world):
    hazard = _hazard_in(world, "major_pending")
    done = hazards.transition(world.users["supervisor_a"], hazard.id, "determine_major",
                              **{**_params(world, "x"), "confirmed": False})
    assert (done.state, done.severity) == ("open", "general")


def test_withdraw_needs_a_reason(world):
    hazard = _hazard_in(world, "open")
    with pytest.raises(RuleViolation) as err:
        hazards.transition(world.users["inspector_a"], hazard.id, "withdraw", reason=" ")
    assert err.value.reason == "hazard_withdraw_reason_required"
    done = hazards.transition(world.users["inspector_a"], hazard.id, "withdraw", reason="误判")
    assert done.withdrawn_reason == "误判"


# --- creation and deadlines ----------------------------------------------------------

def test_hazard_from_failed_item_copies_the_item(world, open_inspection):
    a = world.users["inspector_a"]
    inspections.record_item_result(a, inspection_id=open_inspection.id, item_code="EXT-1", result="fail")
    hazard = hazards.create_hazard(a, inspection_id=open_inspection.id, item_code="EXT-1", location="一楼大厅",
                                   found_on=date(2025, 6, 2))
    assert hazard.venue_id == world.venue_a.id and hazard.item_code == "EXT-1"
    assert hazard.description == "灭火器过期失效"
    assert hazard.legal_basis_codes == ["XFF-16-1-2"] and hazard.requirement == "更换灭火器"
    assert (hazard.severity, hazard.correction_mode, hazard.deadline_days) == ("general", "deadline", 3)
    assert hazard.deadline == date(2025, 6, 5)  # Monday + 3 working days
    assert hazard.state == "open" and hazard.item_id is not None


def test_major_item_starts_awaiting_collective_determination(world, open_inspection):
    hazard = hazards.create_hazard(world.users["inspector_a"], inspection_id=open_inspection.id,
                                   item_code="LIVE-1", found_on=date(2025, 6, 2))
    assert (hazard.severity, hazard.state) == ("major", "major_pending")


def test_no_hazard_from_a_passed_item(world, open_inspection):
    a = world.users["inspector_a"]
    inspections.record_item_result(a, inspection_id=open_inspection.id, item_code="EXT-1", result="pass")
    with pytest.raises(RuleViolation) as err:
        hazards.create_hazard(a, inspection_id=open_inspection.id, item_code="EXT-1")
    assert err.value.reason == "hazard_item_not_failed"


def test_immediate_hazard_is_due_the_day_it_is_found(world, open_inspection):
    a = world.users["inspector_a"]
    hazard = hazards.create_hazard(a, inspection_id=open_inspection.id, item_code="EXIT-1", found_on=FOUND)
    assert (hazard.correction_mode, hazard.deadline) == ("immediate", FOUND)
    with pytest.raises(RuleViolation) as err:
        hazards.create_hazard(a, venue_id=world.venue_a.id, description="安全出口上锁", correction_mode="immediate",
                              found_on=FOUND, deadline=FOUND + timedelta(days=5), deadline_override_reason="x")
    assert err.value.reason == "hazard_immediate_deadline"


def test_deadline_skips_the_national_day_holiday(world):
    # 2025: 1–8 October are holidays; Saturday 11 October is a make-up working day (调休).
    hazard = hazards.create_hazard(world.users["inspector_a"], venue_id=world.venue_a.id, description="灭火器失效",
                                   found_on=date(2025, 9, 30), deadline_days=3)
    assert hazard.deadline == date(2025, 10, 11)


def test_deadline_override_needs_a_reason(world):
    a = world.users["inspector_a"]
    with pytest.raises(RuleViolation) as err:
        hazards.create_hazard(a, venue_id=world.venue_a.id, description="消防控制室无人值守", found_on=FOUND,
                              deadline_days=3, deadline=FOUND + timedelta(days=30))
    assert err.value.reason == "hazard_deadline_reason_required"
    hazard = hazards.create_hazard(a, venue_id=world.venue_a.id, description="消防控制室无人值守", found_on=FOUND,
                                   deadline_days=3, deadline=FOUND + timedelta(days=30),
                                   deadline_override_reason="需招聘持证人员")
    assert hazard.deadline == FOUND + timedelta(days=30)
    assert hazard.deadline_override_reason == "需招聘持证人员"
    # Changing the days later recomputes unless the override is kept with its reason.
    hazards.update_hazard(a, hazard, {"deadline": None, "deadline_days": 5})
    assert hazard.deadline_override_reason is None and hazard.deadline > FOUND


def test_state_is_not_editable_and_notified_hazard_is_locked(world):
    a = world.users["inspector_a"]
    hazard = _hazard_in(world, "open")
    with pytest.raises(RuleViolation) as err:
        hazards.update_hazard(a, hazard, {"state": "verified_fixed"})
    assert err.value.reason == "field_not_editable"
    hazards.transition(a, hazard.id, "notify", as_of=FOUND)
    with pytest.raises(RuleViolation) as err:
        hazards.update_hazard(a, hazard, {"description": "改"})
    assert err.value.reason == "hazard_locked"


def test_raising_severity_sends_hazard_to_determination(world):
    a = world.users["inspector_a"]
    hazard = _hazard_in(world, "open")
    hazards.update_hazard(a, hazard, {"severity": "major"})
    assert hazard.state == "major_pending"
    hazards.update_hazard(a, hazard, {"severity": "general"})
    assert hazard.state == "open"


def test_photos_must_be_uploaded_first(world):
    with pytest.raises(RuleViolation) as err:
        hazards.create_hazard(world.users["inspector_a"], venue_id=world.venue_a.id, description="x",
                              photo_hashes=["cd" * 32])
    assert err.value.reason == "blob_missing"


def test_list_overdue_includes_passed_deadlines_not_yet_ticked(world):
    late = _hazard_in(world, "notified")
    _hazard_in(world, "open")
    rows, total = hazards.list_hazards(world.users["supervisor_a"], overdue=True,
                                       as_of=late.deadline + timedelta(days=1))
    assert (total, [h.id for h in rows]) == (1, [late.id])
    rows, total = hazards.list_hazards(world.users["inspector_b"], overdue=True,
                                       as_of=late.deadline + timedelta(days=1))
    assert total == 0
