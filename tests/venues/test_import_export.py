"""Importing a venue register from .xlsx/.csv and exporting it back to .xlsx."""
from __future__ import annotations

import csv
import inspect
import io
import time
from urllib.parse import unquote

import pytest
import openpyxl
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, Venue
from server.services import venue_io
from server.services.errors import BadInput, Forbidden, RuleViolation

HEADER = ["编码", "名称", "类型", "地址", "网格编码", "重点单位", "风险等级", "负责人", "联系电话",
          "层数", "建筑面积", "容纳人数", "挂牌整治", "纬度", "经度"]
ALLOWED_TYPES = "高层建筑、群租房、店面房、歌舞娱乐场所、易燃易爆单位、危化品单位、其他"


def xlsx(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def good_row(n, grid="G-A1", **kw):
    row = {"编码": f"BL-{n:05d}", "名称": f"导入场所{n}", "类型": "店面房", "地址": f"新碶长江路 {n} 号",
           "网格编码": grid, "重点单位": "否", "风险等级": "低", "负责人": "李四", "联系电话": "13912345678",
           "层数": 2, "建筑面积": 120.5, "容纳人数": 30, "挂牌整治": "否", "纬度": 29.88, "经度": 121.85}
    row.update(kw)
    return [row[h] for h in HEADER]


def venue_count():
    return db.session.scalar(select(func.count()).select_from(Venue))


def mixed_rows(world):
    """Good and bad rows; the comment gives the spreadsheet row number (header is row 1)."""
    return [
        good_row(1, 名称="星海KTV", 类型="歌舞娱乐场所", 重点单位="是", 风险等级="高"),        # 2 good
        good_row(2, 类型="城堡"),                                                          # 3 wrong type
        good_row(3, 名称=""),                                                              # 4 missing name
        good_row(4, 联系电话="1234"),                                                       # 5 bad phone
        good_row(1, 名称="星海KTV二号"),                                                    # 6 duplicate code
        good_row(6, 编码="", 名称="小卖部", 地址="长江路 1 号"),                              # 7 good (no code)
        good_row(7, 编码="", 名称="小卖部", 地址="长江路 1 号"),                              # 8 duplicate name+address
        good_row(8, 网格编码="G-X9"),                                                       # 9 unknown grid
        good_row(9, 网格编码="G-B1"),                                                       # 10 grid out of scope
        good_row(10, 网格编码="S-A"),                                                       # 11 a street, not a grid
        good_row(11, 编码="", 名称=world.venue_a.name, 地址=world.venue_a.address,
                 风险等级="中"),                                                            # 12 updates venue_a
        [None] * len(HEADER),                                                              # 13 blank: skipped
        good_row(13, 重点单位="可能", 风险等级="极高", 层数="三"),                            # 14 three bad cells
        good_row(14, 类型="group_rental", 联系电话="0574-86781234"),                         # 15 good (type code)
    ]


EXPECTED_PROBLEMS = [
    {"row": 3, "column": "类型", "message": f"类型“城堡”无效，应为：{ALLOWED_TYPES}"},
    {"row": 4, "column": "名称", "message": "不能为空"},
    {"row": 5, "column": "联系电话", "message": "联系电话“1234”格式不正确"},
    {"row": 6, "column": "编码", "message": "与第 2 行的编码重复"},
    {"row": 8, "column": "名称", "message": "与第 7 行的名称和地址重复"},
    {"row": 9, "column": "网格编码", "message": "网格编码“G-X9”不存在"},
    {"row": 10, "column": "网格编码", "message": "网格“G-B1”不在您负责的辖区内"},
    {"row": 11, "column": "网格编码", "message": "“S-A”不是网格编码（检查对象必须登记在网格上）"},
    {"row": 14, "column": "重点单位", "message": "“可能”无效，应填写“是”或“否”"},
    {"row": 14, "column": "风险等级", "message": "风险等级“极高”无效，应为：低、中、高"},
    {"row": 14, "column": "层数", "message": "“三”不是有效的非负整数"},
]


def test_dry_run_reports_every_bad_cell_and_writes_nothing(world):
    before_venues = venue_count()
    before_events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    report = venue_io.import_venues(world.users["supervisor_a"], "register.xlsx", xlsx(mixed_rows(world)))
    # (the default of the service is a dry run; the API's default is a real run)
    assert report["dry_run"] is True
    assert report["errors"] == EXPECTED_PROBLEMS
    assert report["totals"] == {"rows": 13, "valid": 4, "would_create": 3, "would_update": 1,
                                "unchanged": 0, "errors": 9}
    assert (report["created"], report["updated"]) == (0, 0)
    assert venue_count() == before_venues
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before_events


def test_import_writes_good_rows_and_reimport_is_idempotent(world):
    sup = world.users["supervisor_a"]
    data = xlsx(mixed_rows(world))
    before = venue_count()
    report = venue_io.import_venues(sup, "register.xlsx", data, dry_run=False)
    assert report["errors"] == EXPECTED_PROBLEMS
    assert (report["created"], report["updated"]) == (3, 1)
    assert venue_count() == before + 3
    ktv = db.session.scalar(select(Venue).where(Venue.code == "BL-00001"))
    assert (ktv.name, ktv.type, ktv.key_unit, ktv.risk_level, ktv.area_id, ktv.floor_area, ktv.lat) == (
        "星海KTV", "entertainment", True, "high", world.grid_a.id, 120.5, 29.88)
    assert db.session.scalar(select(Venue).where(Venue.code == "BL-00014")).contact_phone == "0574-86781234"
    db.session.refresh(world.venue_a)
    assert (world.venue_a.risk_level, world.venue_a.code, world.venue_a.version) == ("medium", None, 2)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity.in_(["venue", "venue_import"]))).all()
    assert sorted(actions) == sorted(["venue.create"] * 3 + ["venue.update", "venue.import"])

    again = venue_io.import_venues(sup, "register.xlsx", data, dry_run=False)
    assert again["totals"] == {"rows": 13, "valid": 4, "would_create": 0, "would_update": 0,
                               "unchanged": 4, "errors": 9}
    assert (again["created"], again["updated"]) == (0, 0)
    assert venue_count() == before + 3
    assert world.venue_a.version == 2


def test_csv_in_utf8_with_and_without_bom_and_in_gb18030_with_english_headers(world):
    admin = world.users["admin"]
    rows = [good_row(1), good_row(2, 类型="群租房", 网格编码="G-B1")]
    for encoding in ("utf-8-sig", "utf-8", "gb18030"):
        report = venue_io.import_venues(admin, "r.csv", csv_bytes(rows, encoding=encoding))
        assert (report["errors"], report["totals"]["would_create"]) == ([], 2), encoding
    english = ["code", "name", "type", "address", "grid_code", "key_unit", "risk_level",
               "responsible_person", "contact_phone", "floors", "floor_area", "occupancy",
               "listed_for_remediation", "lat", "lng"]
    report = venue_io.import_venues(admin, "r.csv", csv_bytes(rows, header=english), dry_run=False)
    assert (report["errors"], report["created"]) == ([], 2)
    assert db.session.scalar(select(Venue.type).where(Venue.code == "BL-00002")) == "group_rental"


def test_headers_may_carry_units_and_unknown_columns_are_listed(world):
    header = ["名称", "类型", "地址", "网格编码", "建筑面积（㎡）", "备注"]
    report = venue_io.import_venues(world.users["admin"], "r.xlsx",
                                    xlsx([["老街面馆", "店面房", "老街 1 号", "G-A1", 80, "无"]], header=header),
                                    dry_run=False)
    assert (report["errors"], report["created"], report["ignored_columns"]) == ([], 1, ["备注"])
    assert db.session.scalar(select(Venue.floor_area).where(Venue.name == "老街面馆")) == 80


def test_whole_file_problems_are_errors_not_rows(world):
    admin = world.users["admin"]
    with pytest.raises(RuleViolation) as err:
        venue_io.import_venues(admin, "r.xlsx", xlsx([["x"]], header=["名称", "备注"]))
    assert err.value.reason == "venue_import_missing_columns"
    assert err.value.message() == "缺少必需的列：类型、地址、网格编码。"
    with pytest.raises(RuleViolation) as err:
        venue_io.import_venues(admin, "r.csv", csv_bytes([good_row(i) for i in range(1, 6)]), max_rows=4)
    assert err.value.reason == "venue_import_too_many_rows"
    with pytest.raises(BadInput) as err:
        venue_io.import_venues(admin, "r.pdf", b"%PDF-1.4")
    assert err.value.reason == "venue_import_bad_format"
    with pytest.raises(BadInput):
        venue_io.import_venues(admin, "r.xlsx", b"PK\x03\x04 not really a zip")
    with pytest.raises(venue_io.TooLarge) as err:
        venue_io.import_venues(admin, "r.csv", b"x" * 2000, max_bytes=1000)
    assert err.value.status == 413


def test_inspectors_and_owners_cannot_import(world):
    for name in ("inspector_a", "owner_a"):
        with pytest.raises(Forbidden):
            venue_io.import_venues(world.users[name], "r.xlsx", xlsx([good_row(1)]))


def test_existing_venue_outside_scope_is_reported_not_updated(world):
    db.session.get(Venue, world.venue_b.id).code = "BL-B"
    db.session.commit()
    report = venue_io.import_venues(world.users["supervisor_a"], "r.xlsx", xlsx([good_row(1, 编码="BL-B")]))
    assert report["errors"] == [{"row": 2, "column": "编码",
                                 "message": "编码“BL-B”对应的已有场所不在您负责的辖区内"}]


@pytest.mark.slow
def test_ten_thousand_rows_import_in_one_go(world, built_file):
    rows = [good_row(n, 网格编码="G-A1" if n % 2 else "G-B1") for n in range(1, 10_001)]
    # Writing it costs openpyxl 3.6 s of CPU: built once, then read from the test cache.
    data = built_file(("xlsx", openpyxl.__version__, inspect.getsource(xlsx), HEADER, rows),
                      lambda: xlsx(rows))
    started = time.perf_counter()
    report = venue_io.import_venues(world.users["admin"], "big.xlsx", data, dry_run=False)
    elapsed = time.perf_counter() - started
    assert (report["errors"], report["created"]) == ([], 10_000)
    assert venue_count() == 10_002
    again = venue_io.import_venues(world.users["admin"], "big.xlsx", data)
    assert again["totals"]["unchanged"] == 10_000
    print(f"10,000-row import: {elapsed:.1f} s")  # figures belong in bench/, this is for the log


# --- HTTP -------------------------------------------------------------------------------

def _upload(client, data, filename="register.xlsx", dry_run=None, **kw):
    url = "/api/v1/venues/import" + ("" if dry_run is None else f"?dry_run={str(dry_run).lower()}")
    return client.post(url, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data", **kw)


def test_api_dry_run_then_import(login, world):
    c = login("supervisor_a")
    data = xlsx(mixed_rows(world))
    before = venue_count()
    resp = _upload(c, data, dry_run=True)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["errors"] == EXPECTED_PROBLEMS and body["dry_run"] is True
    assert venue_count() == before
    body = _upload(c, data).get_json()
    assert (body["dry_run"], body["created"], body["updated"]) == (False, 3, 1)
    assert venue_count() == before + 3


def test_api_import_messages_follow_the_language(login, world):
    c = login("admin")
    body = _upload(c, xlsx([good_row(1, 联系电话="1234")]), dry_run=True,
                   headers={"Accept-Language": "en"}).get_json()
    assert body["errors"] == [{"row": 2, "column": "联系电话", "message": 'Phone number "1234" is not valid'}]


def test_api_import_refuses_oversized_files_with_a_clear_error(app, login, world, monkeypatch):
    monkeypatch.setitem(app.config, "VENUE_IMPORT_MAX_BYTES", 1000)
    resp = _upload(login("admin"), b"x" * 5000, filename="r.csv")
    body = resp.get_json()
    assert resp.status_code == 413 and body["reason"] == "venue_import_too_large"
    assert body["message"] == "文件过大（1001 字节），上限为 1000 字节。"


def test_api_import_needs_a_file(login, world):
    resp = login("admin").post("/api/v1/venues/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.get_json()["errors"]["files"]


def test_export_is_filtered_scoped_and_round_trips_through_import(login, world):
    c = login("admin")
    assert _upload(c, xlsx([good_row(n, 网格编码="G-A1" if n % 2 else "G-B1",
                                     类型="群租房" if n % 3 == 0 else "店面房") for n in range(1, 13)])).status_code == 200
    resp = c.get("/api/v1/venues/export", query_string={"type": "storefront", "sort": "name"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == venue_io_xlsx()
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="venues-') and disposition.endswith('.xlsx')
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("检查对象登记表-")
    ws = load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    storefront_total = db.session.scalar(select(func.count()).select_from(Venue).where(Venue.type == "storefront"))
    assert len(rows) - 1 == storefront_total == 9  # 8 imported + venue_a
    assert {r[2] for r in rows[1:]} == {"店面房"}
    assert [r[1] for r in rows[1:]] == sorted(r[1] for r in rows[1:])

    # everything exported comes back unchanged
    body = _upload(c, resp.data, filename="export.xlsx", dry_run=True).get_json()
    assert body["errors"] == []
    assert body["totals"] == {"rows": 9, "valid": 9, "would_create": 0, "would_update": 0,
                              "unchanged": 9, "errors": 0}

    # a supervisor's export holds only their scope
    sup = login("supervisor_a")
    rows = list(load_workbook(io.BytesIO(sup.get("/api/v1/venues/export").data), read_only=True)
                .worksheets[0].iter_rows(values_only=True))
    assert {r[4] for r in rows[1:]} == {"G-A1"}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "venue.export")) == 2


def venue_io_xlsx():
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_streaming_xlsx_reader_agrees_with_openpyxl(world):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in mixed_rows(world):
        ws.append(row)
    ws["P20"] = "=1+1"          # a formula without a cached value reads as blank in both
    ws["A22"] = True
    data = io.BytesIO()
    wb.save(data)
    data = data.getvalue()

    def norm(rows):
        out = [[venue_io._cell_text(c) for c in row] for row in rows]
        out = [row[:max((i + 1 for i, c in enumerate(row) if c), default=0)] for row in out]
        while out and not out[-1]:
            out.pop()
        return out

    fast = venue_io._fast_xlsx_rows(data)
    assert fast is not None
    assert norm(fast) == norm(venue_io._openpyxl_rows(data))


def test_copy_writes_exactly_what_the_bulk_insert_writes(world, monkeypatch):
    """PostgreSQL imports new rows with COPY; SQLite (and COPY_NEW_ROWS off) with executemany.
    The same file imported both ways stores the same venues and audit events, column by column
    (what the database stores, read back as text), ids and times aside."""
    from sqlalchemy import String, cast

    from server.models import AuditEvent

    admin = world.users["admin"]
    rows = [good_row(n, 类型=t, 风险等级=r, 重点单位=k, 联系电话=p, 纬度=lat, 层数=f)
            for n, (t, r, k, p, lat, f) in enumerate([
                ("店面房", "高", "是", "13912345678", 29.88, 2), ("群租房", "低", "否", "", "", ""),
                ("其他", "中", "否", "0574-86781234-802", 30.1, 31)], start=1)]
    skip_venue = {"id", "code", "server_seq", "created_at", "updated_at"}

    def imported(prefix):
        data = xlsx([[prefix + str(c) if i == 0 else c for i, c in enumerate(row)] for row in rows])
        assert venue_io.import_venues(admin, "r.xlsx", data, dry_run=False)["created"] == 3
        venues_ = db.session.execute(
            select(*[cast(c, String) for c in Venue.__table__.columns if c.name not in skip_venue], Venue.id)
            .where(Venue.code.like(prefix + "%")).order_by(Venue.code)).all()
        ids = [v[-1] for v in venues_]
        events = db.session.execute(
            select(AuditEvent.user_id, AuditEvent.role, AuditEvent.action, AuditEvent.entity,
                   cast(AuditEvent.before, String), AuditEvent.after, AuditEvent.entity_id)
            .where(AuditEvent.entity_id.in_(ids))).all()
        by_id = {e[-1]: e[:-1] for e in events}
        strip = lambda after: {k: v for k, v in after.items() if k not in skip_venue}  # noqa: E731
        return ([tuple(v[:-1]) for v in venues_],
                [(*by_id[i][:5], strip(by_id[i][5])) for i in ids], [by_id[i][5]["id"] == i for i in ids])

    monkeypatch.setattr(venue_io, "COPY_NEW_ROWS", True)
    fast = imported("A")
    monkeypatch.setattr(venue_io, "COPY_NEW_ROWS", False)
    slow = imported("B")
    assert fast == slow
    assert all(fast[2]) and len(fast[1]) == 3


def test_writes_go_on_while_an_export_reads_the_register(app, login, world, monkeypatch):
    """Building a large register's workbook takes seconds (openpyxl); only the audit row at the
    end is written, so phones' pushes and other saves do not wait for the export."""
    import threading

    from server.services import venue_io
    from tests.concurrency import lease_two, write_while_paused

    desk, phone = login("supervisor_a"), login("inspector_a")
    db.session.commit()
    reading, release = threading.Event(), threading.Event()
    real_order_by = venue_io.venues.order_by

    def order_by(sort):  # called while the export reads, before its rows stream in
        reading.set()
        assert release.wait(30)
        return real_order_by(sort)

    monkeypatch.setattr(venue_io.venues, "order_by", order_by)
    meanwhile, exported, leased = write_while_paused(
        app, lambda: desk.get("/api/v1/venues/export").status_code, reading, release, lambda: lease_two(phone))
    assert meanwhile, "the lease waited for the export"
    assert (exported, leased) == (200, 201)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "venue.export")) == 1
