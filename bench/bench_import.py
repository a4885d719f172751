"""Import of a 10,000-row venue register (.xlsx) — issue 2, target < 10 s.

Builds a deterministic 10,000-row workbook with the Chinese headers, then times, on a throwaway
SQLite file and PostgreSQL database, through the service the API handler calls:
  1. reading the file alone (openpyxl, read-only),
  2. the dry run (read + judge every row, nothing written),
  3. the real import (one transaction: 10,000 venues + 10,000 audit events),
  4. re-importing the same file (all rows unchanged; nothing written).

    .venv/bin/python bench/bench_import.py [--rows 10000] [--db sqlite,postgres]
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import database, make_app  # noqa: E402

HEADER = ["编码", "名称", "类型", "地址", "网格编码", "重点单位", "风险等级", "负责人", "联系电话",
          "层数", "建筑面积", "容纳人数", "挂牌整治", "纬度", "经度"]
TYPES = ["店面房", "群租房", "高层建筑", "歌舞娱乐场所", "易燃易爆单位", "危化品单位", "其他"]


def workbook(rows: int) -> bytes:
    from openpyxl import Workbook

    rng = random.Random(7)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("登记表")
    ws.append(HEADER)
    for n in range(1, rows + 1):
        ws.append([f"IMP{n:06d}", f"导入场所{n}", rng.choice(TYPES), f"新碶街道长江路{n}号", f"G{n % 12 + 1:02d}",
                   rng.choice(["是", "否"]), rng.choice(["低", "中", "高"]), "李四", f"139{n:08d}",
                   rng.randint(1, 30), round(rng.uniform(30, 5000), 1), rng.randint(1, 500), "否",
                   round(29.8 + rng.random() / 10, 6), round(121.8 + rng.random() / 10, 6)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def run(kind: str, data: bytes):
    from server.extensions import db
    from server.services import accounts, venue_io

    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        with app.app_context():
            db.create_all()
            district = accounts.create_area(None, code="D", name="北仑区", level="district")
            street = accounts.create_area(None, code="S", name="新碶街道", level="street", parent_id=district.id)
            for g in range(1, 13):
                accounts.create_area(None, code=f"G{g:02d}", name=f"新碶第{g}网格", level="grid", parent_id=street.id)
            admin = accounts.create_user(None, username="admin", password="bench-password-1",
                                         display_name="管理员", role="admin")
            _, t_read = timed(lambda: venue_io.read_table("r.xlsx", data))
            dry, t_dry = timed(lambda: venue_io.import_venues(admin, "r.xlsx", data, dry_run=True))
            real, t_real = timed(lambda: venue_io.import_venues(admin, "r.xlsx", data, dry_run=False))
            again, t_again = timed(lambda: venue_io.import_venues(admin, "r.xlsx", data, dry_run=False))
            assert dry["totals"]["errors"] == 0 and real["created"] == dry["totals"]["rows"]
            assert again["created"] == again["updated"] == 0
            db.session.remove()
            db.engine.dispose()
        print(f"| {kind} | {real['created']:,} | {t_read:.1f} | {t_dry:.1f} | {t_real:.1f} | {t_again:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    data, t_build = timed(lambda: workbook(args.rows))
    print(f"workbook: {args.rows:,} rows, {len(data) / 1e6:.1f} MB (built in {t_build:.1f} s)\n")
    print("| database | rows created | read s | dry run s | import s | re-import s |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in args.db.split(","):
        run(kind, data)


if __name__ == "__main__":
    main()
