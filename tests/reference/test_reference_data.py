"""The reference files and their loader: legal bases, checklists per venue type, 三停 measures."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from server.models import VENUE_TYPES, ChecklistItem, ChecklistTemplate, LegalBasis
from server.services import reference
from server.services.errors import NotFound, RuleViolation

DATA = reference.DATA_DIR


def _json(relative):
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


def _count(model):
    from server.extensions import db

    return db.session.scalar(select(func.count()).select_from(model))


# --- the files themselves ------------------------------------------------------------------

def test_every_checklist_item_cites_legal_bases_that_exist_in_the_library():
    known = {b["code"] for b in _json("legal_bases.json")["bases"]}
    files = ["common.json"] + [f"{t}.json" for t in VENUE_TYPES]
    checked = 0
    for name in files:
        for item in _json(f"checklists/{name}")["items"]:
            assert item["legal_basis_codes"], f"{name} {item['code']} cites nothing"
            missing = set(item["legal_basis_codes"]) - known
            assert not missing, f"{name} {item['code']} cites unknown {missing}"
            checked += 1
    assert checked >= 5 * len(files)  # the loop really saw the files


def test_three_stop_measures_cite_known_bases_and_cover_every_venue_type():
    known = {b["code"] for b in _json("legal_bases.json")["bases"]}
    doc = _json("three_stop_measures.json")
    assert set(doc["venue_types"]) == set(VENUE_TYPES)
    for spec in doc["sets"].values():
        assert set(spec["legal_basis_codes"]) <= known


def test_files_pass_validation():
    files = reference.read_files()
    assert set(files["templates"]) == set(VENUE_TYPES)
    for venue_type, tpl in files["templates"].items():
        assert 10 <= len(tpl["items"]) <= 25, venue_type


@pytest.mark.parametrize("code", ["XFF2021-61-1", "XFF2021-61-2", "XFF2021-70-1", "XFF2021-70-2"])
def test_provisions_domain_marks_unverified_are_flagged(code):
    assert _json("legal_bases.json")["bases"] and next(
        b for b in _json("legal_bases.json")["bases"] if b["code"] == code)["unverified"] is True


def test_article_60_covers_items_one_to_seven_and_individuals():
    bases = {b["code"]: b for b in _json("legal_bases.json")["bases"]}
    for item in range(1, 8):
        basis = bases[f"XFF2021-60-1-{item}"]
        assert (basis["article"], basis["clause"], basis["item"]) == ("60", "1", str(item))
        assert basis["fine_range"]["unit"] == [5000, 50000]
    assert bases["XFF2021-60-2"]["fine_range"] == {"individual": [0, 500]}
    assert "warning" in bases["XFF2021-60-2"]["other_sanctions"]


# --- loading into the database --------------------------------------------------------------

def test_each_venue_type_has_a_current_template_after_loading(reference_data):
    for venue_type in VENUE_TYPES:
        template = reference.current_template(venue_type)
        assert template.active and template.version >= 1
        codes = [i.code for i in template.items]
        assert len(codes) == len(set(codes))
        assert [i.position for i in template.items] == sorted(i.position for i in template.items)
        for item in template.items:
            if item.correction_mode == "deadline":
                assert item.default_days and item.default_days > 0
            else:
                assert item.default_days is None
            assert item.requirement and item.check_method


def test_loaded_items_resolve_to_legal_basis_rows(reference_data):
    cited = {code for venue_type in VENUE_TYPES for item in reference.current_template(venue_type).items
             for code in item.legal_basis_codes}
    assert "XFF2021-60-1-3" in cited
    assert set(reference.legal_bases(cited)) == cited


def test_common_section_is_merged_unless_a_type_excludes_an_item(reference_data):
    common = [i["code"] for i in _json("checklists/common.json")["items"]]
    for venue_type in VENUE_TYPES:
        excluded = set(_json(f"checklists/{venue_type}.json").get("common_exclude", []))
        codes = [i.code for i in reference.current_template(venue_type).items]
        assert codes[: len(common) - len(excluded)] == [c for c in common if c not in excluded]
    # high-rise replaces the general e-bike item with its own (高层规定 art. 37)
    high_rise = {i.code: i for i in reference.current_template("high_rise").items}
    assert "CM-08" not in high_rise
    assert "GCGD2021-37" in high_rise["HR-09"].legal_basis_codes


def test_group_rental_checklist_names_the_stairwell_e_bike_hazard(reference_data):
    items = {i.code: i for i in reference.current_template("group_rental").items}
    assert items["GR-03"].text == "楼梯间、疏散走道停放电动自行车或充电"
    assert items["GR-03"].correction_mode == "immediate"
    assert items["GR-03"].legal_basis_codes == ["XFF2021-28", "XFF2021-60-1-3"]


def test_loading_twice_changes_nothing(reference_data):
    first = reference_data
    assert len(first["legal_bases"]["added"]) == _count(LegalBasis)
    assert len(first["checklists"]["created"]) == len(VENUE_TYPES)
    counts = (_count(LegalBasis), _count(ChecklistTemplate), _count(ChecklistItem))
    second = reference.load_all()
    assert not reference.report_changed(second)
    assert second["legal_bases"]["unchanged"] == counts[0]
    assert (_count(LegalBasis), _count(ChecklistTemplate), _count(ChecklistItem)) == counts


def test_bumping_a_version_creates_a_new_template_and_keeps_the_old(db, data_copy):
    reference.load_all(data_dir=data_copy.path)
    old = reference.current_template("group_rental")
    old_id, old_version, old_texts = old.id, old.version, [i.text for i in old.items]

    def bump(doc):
        doc["version"] += 1
        doc["items"][0]["text"] = "采用泡沫夹芯彩钢板分隔房间（修订）"
    data_copy.edit("checklists/group_rental.json", bump)
    report = reference.load_all(data_dir=data_copy.path)

    assert report["checklists"]["created"] == [
        {"venue_type": "group_rental", "version": old_version + 1, "items": len(old_texts)}]
    new = reference.current_template("group_rental")
    assert new.version == old_version + 1 and new.id != old_id
    assert "采用泡沫夹芯彩钢板分隔房间（修订）" in [i.text for i in new.items]
    kept = reference.template_version("group_rental", old_version)
    assert kept.id == old_id and kept.active is False
    assert [i.text for i in kept.items] == old_texts
    # other types are untouched
    assert reference.current_template("storefront").version == 1


def test_same_version_with_different_content_is_refused_and_nothing_is_written(db, data_copy):
    reference.load_all(data_dir=data_copy.path)
    data_copy.edit("checklists/storefront.json", lambda d: d["items"][0].update(default_days=45))
    data_copy.edit("legal_bases.json", lambda d: d["bases"][0].update(text="改过的条文"))
    before = reference.legal_basis(_json("legal_bases.json")["bases"][0]["code"]).text
    with pytest.raises(RuleViolation) as err:
        reference.load_all(data_dir=data_copy.path)
    assert err.value.reason == "reference_version_not_bumped"
    assert err.value.params["file"] == "checklists/storefront.json"
    assert "version" in err.value.message("en")
    from server.extensions import db as _db
    _db.session.rollback()
    assert reference.legal_basis(_json("legal_bases.json")["bases"][0]["code"]).text == before


def test_a_common_change_needs_every_type_bumped(db, data_copy):
    reference.load_all(data_dir=data_copy.path)
    data_copy.edit("checklists/common.json", lambda d: d["items"][0].update(text="灭火器（修订）"))
    with pytest.raises(RuleViolation) as err:
        reference.load_all(data_dir=data_copy.path)
    assert err.value.reason == "reference_version_not_bumped"


def test_a_version_lower_than_the_stored_one_is_refused(db, data_copy):
    data_copy.edit("checklists/other.json", lambda d: d.update(version=3))
    reference.load_all(data_dir=data_copy.path)
    data_copy.edit("checklists/other.json", lambda d: d.update(version=2))
    with pytest.raises(RuleViolation) as err:
        reference.load_all(data_dir=data_copy.path)
    assert err.value.reason == "reference_version_behind"


def test_an_item_citing_an_unknown_basis_is_rejected(db, data_copy):
    data_copy.edit("checklists/flammable.json",
                   lambda d: d["items"][0].update(legal_basis_codes=["XFF2021-999"]))
    with pytest.raises(RuleViolation) as err:
        reference.load_all(data_dir=data_copy.path)
    assert err.value.reason == "reference_invalid"
    assert "XFF2021-999" in err.value.params["detail"]
    assert _count(LegalBasis) == 0


@pytest.mark.parametrize("change, fragment", [
    (lambda it: it.update(default_severity="serious"), "default_severity"),
    (lambda it: it.update(correction_mode="deadline", default_days=None), "default_days"),
    (lambda it: it.update(colour="red"), "unknown field"),
    (lambda it: it.update(code="gr3"), "bad item code"),
])
def test_malformed_items_are_rejected_with_the_file_named(db, data_copy, change, fragment):
    data_copy.edit("checklists/group_rental.json", lambda d: change(d["items"][0]))
    with pytest.raises(RuleViolation) as err:
        reference.read_files(data_copy.path)
    assert err.value.params["file"].startswith("checklists/group_rental.json")
    assert fragment in err.value.params["detail"]


def test_editing_a_legal_basis_updates_it_by_code(db, data_copy):
    reference.load_all(data_dir=data_copy.path)

    def verify(doc):
        basis = next(b for b in doc["bases"] if b["code"] == "XFF2021-61-2")
        basis["unverified"] = False
    data_copy.edit("legal_bases.json", verify)
    report = reference.load_all(data_dir=data_copy.path)
    assert report["legal_bases"]["updated"] == ["XFF2021-61-2"]
    assert reference.legal_basis("XFF2021-61-2").unverified is False


def test_a_basis_removed_from_the_file_is_kept_and_reported(db, data_copy):
    reference.load_all(data_dir=data_copy.path)
    data_copy.edit("legal_bases.json",
                   lambda d: d.update(bases=[b for b in d["bases"] if b["code"] != "XZCF2021-72-1-1"]))
    report = reference.load_all(data_dir=data_copy.path)
    assert report["legal_bases"]["not_in_files"] == ["XZCF2021-72-1-1"]
    assert reference.legal_basis("XZCF2021-72-1-1").code == "XZCF2021-72-1-1"


# --- reading --------------------------------------------------------------------------------

@pytest.mark.parametrize("code, text", [
    ("XFF2021-60-1-3", "《中华人民共和国消防法》第六十条第一款第三项"),
    ("XFF2021-16", "《中华人民共和国消防法》第十六条第一款"),
    ("ZAF2012-39", "《中华人民共和国治安管理处罚法》第三十九条"),
    ("GCGD2021-37", "《高层民用建筑消防安全管理规定》第三十七条第一款"),
])
def test_citation_is_written_as_on_a_notice(reference_data, code, text):
    assert reference.citation(reference.legal_basis(code)) == text


@pytest.mark.parametrize("n, text", [(1, "一"), (10, "十"), (16, "十六"), (60, "六十"), (100, "一百"),
                                     (105, "一百零五"), (120, "一百二十")])
def test_chinese_numerals(n, text):
    assert reference.zh_number(n) == text


def test_periods_come_from_the_data_with_their_basis(reference_data):
    reinspection = reference.period("reinspection")
    assert reinspection["unit"] == "working_days"
    assert reinspection["basis_code"] in {b["code"] for b in _json("legal_bases.json")["bases"]}
    source = next(p for b in _json("legal_bases.json")["bases"] for p in b.get("periods") or []
                  if p["key"] == "reinspection")
    assert reinspection["value"] == source["value"]
    with pytest.raises(NotFound):
        reference.period("no_such_period")


def test_current_template_without_data_says_to_load_it(db):
    with pytest.raises(NotFound) as err:
        reference.current_template("storefront")
    assert "flask reference load" in err.value.message("zh-CN")


def test_three_stop_measures_depend_on_the_venue_type(world):
    admin = world.users["admin"]
    [rental] = reference.three_stop_measures(admin, "group_rental")
    assert [m["name"] for m in rental["measures"]] == ["停租", "停水", "停电"]
    assert rental["issued_by"] == "district_government"
    [shop] = reference.three_stop_measures(admin, "storefront")
    assert [m["name"] for m in shop["measures"]] == ["停产", "停业", "停止使用"]
    assert len(reference.three_stop_measures(admin)) == len(VENUE_TYPES)


def test_reload_is_audited_and_admin_only(reference_data, world):
    from server.models import AuditEvent
    from server.services.errors import Forbidden

    with pytest.raises(Forbidden):
        reference.reload(world.users["supervisor_a"])
    report = reference.reload(world.users["admin"])
    assert not reference.report_changed(report)
    from server.extensions import db
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reference.reload"))
    assert event.user_id == world.users["admin"].id
    assert event.after["legal_bases"]["unchanged"] == _count(LegalBasis)
