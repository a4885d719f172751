"""Inspections: two inspectors, scope, template version, venue snapshot, finishing, immutability."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEvent, Inspection
from server.services import hazards, inspections
from server.services.errors import Forbidden, RuleViolation
from tests import factories


@pytest.fixture
def template(world):
    return factories.checklist_template("storefront")


def _sign_all(insp):
    return {str(u.id): factories.blob() for u in insp.inspectors}


def test_start_records_template_version_snapshot_and_actor(world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = factories.inspection(a, world.venue_a, second=a2, lat=29.9, lng=121.8, gps_accuracy_m=12.5)
    assert insp.status == "in_progress"
    assert (insp.template_id, insp.template_version) == (template.id, 1)
    assert {u.username for u in insp.inspectors} == {"inspector_a", "inspector_a2"}
    assert insp.venue_snapshot["name"] == "明州路小吃店"
    assert insp.venue_snapshot["responsible_person"] == "王五"
    assert insp.venue_snapshot["area_name"] == "新碶第一网格"
    assert insp.started_at is not None and insp.gps_accuracy_m == 12.5
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_id == insp.id)).all()
    assert [e.action for e in events] == ["inspection.create"]


def test_snapshot_keeps_the_venue_as_it_was(world, template):
    a = world.users["inspector_a"]
    insp = factories.inspection(a, world.venue_a)
    world.venue_a.name = "改名后的小吃店"
    db.session.commit()
    assert db.session.get(Inspection, insp.id).venue_snapshot["name"] == "明州路小吃店"


def test_newest_active_template_is_used(world):
    factories.checklist_template("storefront", version=1)
    newest = factories.checklist_template("storefront", version=2)
    factories.checklist_template("storefront", version=3, active=False)
    insp = factories.inspection(world.users["inspector_a"], world.venue_a)
    assert (insp.template_id, insp.template_version) == (newest.id, 2)


def test_finishing_with_one_inspector_is_refused(world, template):
    a = world.users["inspector_a"]
    insp = factories.inspection(a, world.venue_a)
    with pytest.raises(RuleViolation) as err:
        inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp),
                                      owner_signature_hash=factories.blob())
    assert err.value.reason == "inspection_two_inspectors"
    assert "检查人员不少于两人" in err.value.message("zh-CN")


def test_second_inspector_added_later_then_finish_succeeds(world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = factories.inspection(a, world.venue_a)
    inspections.add_inspector(a, insp.id, a2.id)
    done = inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp),
                                         owner_signature_hash=factories.blob(), owner_signer_name="王五")
    assert done.status == "finished" and done.finished_at is not None
    assert set(done.inspector_signatures) == {str(a.id), str(a2.id)}


def test_inspector_of_another_area_cannot_join(world, template):
    a = world.users["inspector_a"]
    insp = factories.inspection(a, world.venue_a)
    with pytest.raises(RuleViolation) as err:
        inspections.add_inspector(a, insp.id, world.users["inspector_b"].id)
    assert err.value.reason == "inspector_out_of_area"


@pytest.mark.parametrize("username", ["owner_a", "admin"])
def test_only_field_staff_can_be_inspectors(world, template, username):
    a = world.users["inspector_a"]
    with pytest.raises(RuleViolation) as err:
        factories.inspection(a, world.venue_a, second=world.users[username])
    assert err.value.reason == "inspector_not_field_staff"


def test_inspector_cannot_inspect_a_venue_outside_their_area(world, template):
    with pytest.raises(Forbidden) as err:
        factories.inspection(world.users["inspector_b"], world.venue_a)
    assert err.value.reason == "out_of_scope"


def test_finish_needs_every_inspector_signature(world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = factories.inspection(a, world.venue_a, second=a2)
    with pytest.raises(RuleViolation) as err:
        inspections.finish_inspection(a, insp.id, inspector_signatures={str(a.id): factories.blob()},
                                      owner_signature_hash=factories.blob())
    assert err.value.reason == "inspection_inspector_signature_missing"
    assert "inspector_a2" in err.value.message("zh-CN")


def test_owner_refusal_needs_witness_and_photo(world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = factories.inspection(a, world.venue_a, second=a2)
    with pytest.raises(RuleViolation) as err:
        inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp), owner_refused=True,
                                      refusal_witness="社区网格员李四")
    assert err.value.reason == "inspection_refusal_needs_witness_and_photo"
    with pytest.raises(RuleViolation) as err:
        inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp))
    assert err.value.reason == "inspection_owner_signature_missing"
    done = inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp), owner_refused=True,
                                         refusal_witness="社区网格员李四", refusal_photo_hash=factories.blob())
    assert done.owner_refused and done.refusal_witness == "社区网格员李四" and done.owner_signature_hash is None


def test_finish_refuses_a_signature_that_was_never_uploaded(world, template):
    a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
    insp = factories.inspection(a, world.venue_a, second=a2)
    with pytest.raises(RuleViolation) as err:
        inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp),
                                      owner_signature_hash="ab" * 32)
    assert err.value.reason == "blob_missing"


class TestFinishedInspectionIsImmutable:
    @pytest.fixture
    def finished(self, world, template):
        a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
        insp = factories.inspection(a, world.venue_a, second=a2)
        inspections.record_item_result(a, inspection_id=insp.id, item_code="EXT-1", result="fail")
        return inspections.finish_inspection(a, insp.id, inspector_signatures=_sign_all(insp),
                                             owner_signature_hash=factories.blob())

    def test_update_refused(self, world, finished):
        with pytest.raises(RuleViolation) as err:
            inspections.update_inspection(world.users["inspector_a"], finished, {"summary": "改一下"})
        assert err.value.reason == "inspection_finished"

    def test_finish_again_refused(self, world, finished):
        with pytest.raises(RuleViolation) as err:
            inspections.finish_inspection(world.users["inspector_a"], finished.id,
                                          inspector_signatures=_sign_all(finished),
                                          owner_signature_hash=factories.blob())
        assert err.value.reason == "inspection_finished"

    def test_new_item_result_refused(self, world, finished):
        with pytest.raises(RuleViolation) as err:
            inspections.record_item_result(world.users["inspector_a"], inspection_id=finished.id,
                                           item_code="EXIT-1", result="pass")
        assert err.value.reason == "inspection_finished"

    def test_item_result_edit_refused(self, world, finished):
        row = inspections.inspection_detail(world.users["inspector_a"], finished.id)["items"][0]
        with pytest.raises(RuleViolation) as err:
            inspections.update_item_result(world.users["inspector_a"], row, {"result": "pass"})
        assert err.value.reason == "inspection_finished"

    def test_hazard_from_item_refused(self, world, finished):
        with pytest.raises(RuleViolation) as err:
            hazards.create_hazard(world.users["inspector_a"], inspection_id=finished.id, item_code="EXT-1")
        assert err.value.reason == "inspection_finished"

    def test_adding_an_inspector_refused(self, world, finished):
        with pytest.raises(RuleViolation) as err:
            inspections.add_inspector(world.users["inspector_a"], finished.id, world.users["supervisor_a"].id)
        assert err.value.reason == "inspection_finished"

    def test_correction_is_an_addendum(self, world, finished):
        a, a2 = world.users["inspector_a"], world.users["inspector_a2"]
        addendum = factories.inspection(a, world.venue_a, second=a2, corrects_id=finished.id,
                                        summary="更正：灭火器位置记录有误")
        assert addendum.corrects_id == finished.id and addendum.status == "in_progress"
        assert db.session.get(Inspection, finished.id).summary is None


def test_addendum_only_for_a_finished_inspection(world, template):
    a = world.users["inspector_a"]
    open_one = factories.inspection(a, world.venue_a)
    with pytest.raises(RuleViolation) as err:
        factories.inspection(a, world.venue_a, corrects_id=open_one.id)
    assert err.value.reason == "addendum_needs_finished"


def test_update_refuses_fields_that_are_not_editable(world, template):
    a = world.users["inspector_a"]
    insp = factories.inspection(a, world.venue_a)
    for field in ("status", "finished_at", "venue_id", "template_version"):
        with pytest.raises(RuleViolation) as err:
            inspections.update_inspection(a, insp, {field: "x"})
        assert err.value.reason == "field_not_editable"
    inspections.update_inspection(a, insp, {"summary": "现场检查发现 1 处隐患", "gps_accuracy_m": 8.0})
    assert insp.summary == "现场检查发现 1 处隐患"


def test_item_results_one_per_item_and_only_template_items(world, template):
    a = world.users["inspector_a"]
    insp = factories.inspection(a, world.venue_a)
    photo = factories.blob()
    row = inspections.record_item_result(a, inspection_id=insp.id, item_code="EXT-1", result="fail",
                                         note="两具灭火器压力不足", photo_hashes=[photo])
    assert row.item_id == template.items[1].id and row.photo_hashes == [photo]
    with pytest.raises(Exception) as err:
        inspections.record_item_result(a, inspection_id=insp.id, item_code="EXT-1", result="pass")
    assert err.value.reason == "item_result_exists"
    with pytest.raises(RuleViolation) as err:
        inspections.record_item_result(a, inspection_id=insp.id, item_code="NOPE-9", result="pass")
    assert err.value.reason == "item_not_in_template"
