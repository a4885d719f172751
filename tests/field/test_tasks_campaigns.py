"""Tasks (planning, today's work, closing on finish) and campaign sweeps (doors, outcomes, coverage)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from server.extensions import db
from server.models import Task
from server.services import campaigns, inspections, tasks
from server.services.errors import Forbidden, RuleViolation
from tests import factories

DUE = date(2026, 3, 10)


# --- tasks -------------------------------------------------------------------------------

def test_task_closes_when_its_inspection_finishes(world):
    sup, a, a2 = world.users["supervisor_a"], world.users["inspector_a"], world.users["inspector_a2"]
    task = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id, a2.id])
    assert task.status == "open"
    insp = factories.inspection(a, world.venue_a, second=a2, task_id=task.id)
    assert (task.status, task.inspection_id) == ("in_progress", insp.id)
    factories_sig = {str(a.id): factories.blob(), str(a2.id): factories.blob()}
    inspections.finish_inspection(a, insp.id, inspector_signatures=factories_sig,
                                  owner_signature_hash=factories.blob())
    assert db.session.get(Task, task.id).status == "done"
    assert tasks.todays_work(a, on=DUE) == []


def test_inspection_started_from_venue_search_picks_up_the_inspectors_task(world):
    sup, a = world.users["supervisor_a"], world.users["inspector_a"]
    task = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id])
    insp = factories.inspection(a, world.venue_a)
    assert insp.task_id == task.id


def test_of_two_tasks_due_the_same_day_a_visit_takes_the_one_planned_first(world):
    sup, a = world.users["supervisor_a"], world.users["inspector_a"]
    later = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id])
    first = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id])
    # Planned first, stored second: the row the database reads first is not the one to take.
    first.created_at = later.created_at - timedelta(hours=1)
    db.session.commit()
    assert factories.inspection(a, world.venue_a).task_id == first.id
    assert factories.inspection(a, world.venue_a).task_id == later.id


def test_todays_work_is_open_tasks_due_by_the_day(world):
    sup, a, a2 = world.users["supervisor_a"], world.users["inspector_a"], world.users["inspector_a2"]
    late = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=date(2026, 3, 9), assignee_ids=[a.id])
    today = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id, a2.id])
    tasks.create_task(sup, venue_id=world.venue_a.id, due_date=date(2026, 3, 11), assignee_ids=[a.id])
    tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a2.id])
    cancelled = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE, assignee_ids=[a.id])
    tasks.cancel_task(sup, cancelled.id, reason="场所已停业")
    assert [t.id for t in tasks.todays_work(a, on=DUE)] == [late.id, today.id]


def test_assignee_must_cover_the_venue(world):
    with pytest.raises(RuleViolation) as err:
        tasks.create_task(world.users["supervisor_a"], venue_id=world.venue_a.id, due_date=DUE,
                          assignee_ids=[world.users["inspector_b"].id])
    assert err.value.reason == "inspector_out_of_area"


def test_only_the_desk_plans_and_only_in_scope(world):
    with pytest.raises(Forbidden) as err:
        tasks.create_task(world.users["inspector_a"], venue_id=world.venue_a.id, due_date=DUE)
    assert err.value.reason == "role_forbidden"
    with pytest.raises(Forbidden) as err:
        tasks.create_task(world.users["supervisor_a"], venue_id=world.venue_b.id, due_date=DUE)
    assert err.value.reason == "out_of_scope"


def test_bulk_planning_from_a_filter(world):
    sup, a = world.users["supervisor_a"], world.users["inspector_a"]
    rentals = [factories.venue(world.grid_a, type="group_rental") for _ in range(3)]
    factories.venue(world.grid_a, type="storefront")
    factories.venue(world.grid_b, type="group_rental")  # outside the supervisor's street
    result = tasks.plan_bulk(sup, filters={"type": "group_rental", "area_id": world.street_a.id}, due_date=DUE,
                             kind="campaign_sweep", assignee_ids=[a.id])
    assert sorted(t.venue_id for t in result["created"]) == sorted(v.id for v in rentals)
    assert all(t.kind == "campaign_sweep" and [u.id for u in t.assignees] == [a.id] for t in result["created"])
    again = tasks.plan_bulk(sup, filters={"type": "group_rental", "area_id": world.street_a.id}, due_date=DUE,
                            kind="campaign_sweep", assignee_ids=[a.id])
    assert again["created"] == [] and sorted(again["skipped_venue_ids"]) == sorted(v.id for v in rentals)


def test_cancel_needs_a_reason_and_only_open_tasks(world):
    sup = world.users["supervisor_a"]
    task = tasks.create_task(sup, venue_id=world.venue_a.id, due_date=DUE)
    with pytest.raises(RuleViolation) as err:
        tasks.cancel_task(sup, task.id, reason="")
    assert err.value.reason == "task_cancel_reason_required"
    tasks.cancel_task(sup, task.id, reason="重复安排")
    with pytest.raises(RuleViolation) as err:
        tasks.update_task(sup, task.id, {"due_date": date(2026, 4, 1)})
    assert err.value.reason == "task_closed"


# --- campaigns ---------------------------------------------------------------------------

@pytest.fixture
def campaign(world):
    return campaigns.create_campaign(world.users["admin"], name="群租房消防安全专项整治", starts_on=date(2026, 3, 1),
                                     ends_on=date(2026, 6, 30), venue_types=["group_rental"],
                                     area_ids=[world.street_a.id, world.street_b.id])


def _visit(user, door, outcome, **kw):
    return campaigns.record_visit(user, door, {"outcome": outcome, **kw})


def test_campaign_needs_areas_inside_the_creators_scope(world):
    with pytest.raises(Forbidden):
        campaigns.create_campaign(world.users["supervisor_a"], name="x", starts_on=DUE, ends_on=DUE,
                                  area_ids=[world.street_b.id])
    with pytest.raises(RuleViolation) as err:
        campaigns.create_campaign(world.users["supervisor_a"], name="x", starts_on=DUE, ends_on=date(2026, 1, 1),
                                  area_ids=[world.street_a.id])
    assert err.value.reason == "campaign_period_reversed"


def test_doors_from_venues_of_the_campaign_types(world, campaign):
    rentals = [factories.venue(world.grid_a, type="group_rental") for _ in range(2)]
    factories.venue(world.grid_a, type="storefront")
    doors = campaigns.add_doors_from_venues(world.users["admin"], campaign.id)
    assert sorted(d.venue_id for d in doors) == sorted([world.venue_b.id] + [v.id for v in rentals])
    assert campaigns.add_doors_from_venues(world.users["admin"], campaign.id) == []  # no duplicates


def test_door_outcomes_and_coverage(world, campaign):
    sup, a = world.users["supervisor_a"], world.users["inspector_a"]
    doors_a = campaigns.add_doors(world.users["admin"], campaign.id,
                                  [{"label": f"{n}号", "address": f"红旗路{n}号", "area_id": world.grid_a.id}
                                   for n in range(1, 5)])
    doors_b = campaigns.add_doors(world.users["admin"], campaign.id,
                                  [{"label": "1幢", "address": "小港路1号", "area_id": world.grid_b.id}])
    visited_at = datetime(2026, 4, 3, 2, 0, tzinfo=timezone.utc)  # Friday 10:00 in Ningbo
    _visit(a, doors_a[0], "no_problem")
    _visit(a, doors_a[1], "nobody_home", visited_at=visited_at)
    _visit(a, doors_a[2], "refused")
    assert doors_a[1].revisit_due == date(2026, 4, 7)  # next working day after the Qingming break
    with pytest.raises(RuleViolation) as err:
        _visit(a, doors_a[3], "problem_found")
    assert err.value.reason == "door_problem_needs_inspection"
    insp = factories.inspection(a, world.venue_a)
    _visit(a, doors_a[3], "problem_found", inspection_id=insp.id)
    with pytest.raises(Forbidden):  # grid B is not inspector A's
        _visit(a, doors_b[0], "no_problem")

    cov = campaigns.coverage(world.users["admin"], campaign.id)
    assert cov["overall"]["total"] == 5 and cov["overall"]["visited"] == 4 and cov["overall"]["percent"] == 80.0
    grid_a = next(g for g in cov["grids"] if g["area_id"] == world.grid_a.id)
    assert grid_a["street_id"] == world.street_a.id
    assert (grid_a["total"], grid_a["visited"], grid_a["percent"]) == (4, 4, 100.0)
    assert grid_a["by_outcome"] == {"pending": 0, "no_problem": 1, "problem_found": 1, "nobody_home": 1, "refused": 1}
    street_b = next(s for s in cov["streets"] if s["area_id"] == world.street_b.id)
    assert (street_b["total"], street_b["visited"], street_b["percent"]) == (1, 0, 0.0)
    # A supervisor sees the coverage of their own street only.
    mine = campaigns.coverage(sup, campaign.id)
    assert [s["area_id"] for s in mine["streets"]] == [world.street_a.id]


def test_door_outside_the_campaign_areas_is_refused(world):
    camp = campaigns.create_campaign(world.users["admin"], name="街道A专项", starts_on=DUE, ends_on=DUE,
                                     area_ids=[world.street_a.id])
    with pytest.raises(RuleViolation) as err:
        campaigns.add_doors(world.users["admin"], camp.id, [{"label": "x", "area_id": world.grid_b.id}])
    assert err.value.reason == "door_outside_campaign"


def test_supervisor_of_another_street_does_not_see_the_campaign(world):
    camp = campaigns.create_campaign(world.users["supervisor_a"], name="街道A专项", starts_on=DUE, ends_on=DUE,
                                     area_ids=[world.street_a.id])
    rows, total = campaigns.list_campaigns(world.users["inspector_b"])
    assert total == 0 and rows == []
    rows, total = campaigns.list_campaigns(world.users["inspector_a"])
    assert [c.id for c in rows] == [camp.id]
