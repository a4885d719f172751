"""Venue search with 100,000 venues through the full HTTP stack (issue 2).

Seeds a deterministic register (fixed seed, bulk insert) into a throwaway SQLite file and a
throwaway PostgreSQL database, starts a real gunicorn server (one worker) and measures p50/p95
latency of typical searches with a keep-alive http.client, logged in as
  - a street supervisor (one of nine streets, ~11,000 venues in scope) and
  - a brigade-leader supervisor whose area is the whole district (all 100,000 venues).

    .venv/bin/python bench/bench_venue_search.py [--venues 100000] [--repeat 60] [--db sqlite,postgres]

While working on the search, seed once and measure many times (one database kind at a time):

    .venv/bin/python bench/bench_venue_search.py --db postgres --keep /tmp/vs   # seeds, keeps it
    .venv/bin/python bench/bench_venue_search.py --db postgres --reuse /tmp/vs  # measures only
    .venv/bin/python bench/bench_venue_search.py --db postgres --drop /tmp/vs   # drops it

Target: p95 < 50 ms on the 2-core machine.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import PG_BASE, Client, database, gunicorn, make_app  # noqa: E402

PASSWORD = "bench-password-1"
STREETS = ["新碶", "小港", "大碶", "霞浦", "柴桥", "戚家山", "春晓", "梅山", "白峰"]
ROADS = ["明州路", "长江路", "黄山路", "太河路", "庐山路", "华山路", "泰山路", "岷山路", "衡山路", "恒山路",
         "新大路", "中河路", "东河路", "西河路", "复兴路", "淮河路", "珠江路", "松花江路", "黑龙江路", "嵩山路",
         "天目山路", "四明山路", "雁荡山路", "凤凰山路", "宝山路", "沿山河路", "通途路", "渡口路", "春晓大道",
         "梅山大道", "昆仑山路", "太白山路", "峨眉山路", "五台山路", "井冈山路", "大港路", "小港路", "红联路",
         "枫林路", "金塘路", "滨江路", "海发路", "港城路", "港湾路", "银杏路", "樟树路", "桂花路", "丹桂路",
         "百合路", "兰园路", "竹园路", "柳汀路", "青林路", "镇海路", "聚才路", "学苑路", "甬江路", "灵峰路",
         "新矸路", "骆霞路"]
BRANDS = ["星光", "海天", "金港", "宏达", "华联", "永兴", "恒大", "鑫鑫", "阿强", "老张", "顺发", "明珠", "东方",
          "天一", "甬港", "北仑", "福满", "吉祥", "如意", "万达", "新时代", "好又多", "百姓", "小林", "美佳", "红叶",
          "蓝天", "绿洲", "金鼎", "银河", "翠苑", "桃源", "春风", "秋实", "福运", "兴旺", "昌盛", "大众", "小菜园",
          "味道", "家和", "安居", "乐居", "新世纪", "海景", "港湾", "嘉禾", "宝利", "聚丰", "益民"]
KINDS = {
    "storefront": ["便利店", "小吃店", "五金店", "理发店", "服装店", "面馆", "快餐店", "烟酒店", "电动车行", "水果店"],
    "group_rental": ["群租房", "出租屋", "员工宿舍"],
    "high_rise": ["大厦", "公寓", "花园", "国际广场", "商务楼"],
    "entertainment": ["KTV", "酒吧", "网吧", "歌舞厅", "足浴店"],
    "flammable": ["加油站", "液化气站", "油漆仓库", "烟花爆竹店"],
    "hazardous_chemical": ["化工有限公司", "化学品仓库", "危化品仓储"],
    "other": ["仓库", "厂房", "幼儿园", "养老院"],
}
TYPE_WEIGHTS = {"storefront": 45, "group_rental": 20, "high_rise": 10, "entertainment": 8, "flammable": 5,
                "hazardous_chemical": 4, "other": 8}
GRIDS_PER_STREET = 12


def seed(app, n_venues: int):
    """Areas, two supervisors and n venues; bulk inserted, same data on every run."""
    from sqlalchemy import insert

    from server.extensions import db
    from server.models import Venue
    from server.services import accounts
    from server.services.accounts import create_area

    rng = random.Random(20260601)
    with app.app_context():
        db.create_all()
        district = create_area(None, code="BL", name="北仑区", level="district")
        grids, street_areas = [], []
        for i, street in enumerate(STREETS):
            s = create_area(None, code=f"BL{i + 1:02d}", name=f"{street}街道", level="street", parent_id=district.id)
            street_areas.append(s)
            for g in range(GRIDS_PER_STREET):
                grids.append(create_area(None, code=f"BL{i + 1:02d}{g + 1:02d}", name=f"{street}第{g + 1}网格",
                                         level="grid", parent_id=s.id))
        accounts.create_user(None, username="sup_street", password=PASSWORD, display_name="街道监督员",
                             role="supervisor", area_ids=[street_areas[0].id])
        accounts.create_user(None, username="sup_district", password=PASSWORD, display_name="大队领导",
                             role="supervisor", area_ids=[district.id])
        grid_ids = [(g.id, STREETS[k // GRIDS_PER_STREET]) for k, g in enumerate(grids)]
        types = list(TYPE_WEIGHTS)
        weights = list(TYPE_WEIGHTS.values())
        start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        rows = []
        for n in range(n_venues):
            vtype = rng.choices(types, weights)[0]
            grid_id, street = grid_ids[rng.randrange(len(grid_ids))]
            created = start + timedelta(minutes=n * 7)
            rows.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "code": f"BLV{n + 1:06d}",
                "name": f"{rng.choice(BRANDS)}{rng.choice(KINDS[vtype])}",
                "type": vtype,
                "key_unit": rng.random() < 0.08,
                "address": f"{street}街道{rng.choice(ROADS)}{rng.randint(1, 999)}号",
                "area_id": grid_id,
                "responsible_person": "负责人",
                "contact_phone": f"13{rng.randint(0, 999999999):09d}",
                "risk_level": rng.choices(["low", "medium", "high"], [70, 22, 8])[0],
                "listed_for_remediation": rng.random() < 0.02,
                "version": 1, "server_seq": n + 1, "created_at": created, "updated_at": created,
                "field_versions": {},
            })
        t0 = time.perf_counter()
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(Venue), rows[i:i + 5000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # VACUUM sets the visibility map so the covering index answers without heap reads,
            # as autovacuum would after a bulk load in production.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE venues")
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        seconds = time.perf_counter() - t0
        return {"street": street_areas[0].id, "district": district.id, "street2": street_areas[1].id,
                "grid": grids[0].id, "seed_seconds": seconds}


def queries(ids):
    return [
        ("q: name fragment 星光", {"q": "星光"}),
        ("q: address fragment 长江路", {"q": "长江路"}),
        ("q: rare fragment 小菜园面馆", {"q": "小菜园面馆"}),
        ("type + area (street)", {"type": "storefront", "area_id": ids["street"]}),
        ("type + area (grid) + key unit", {"type": "storefront", "area_id": ids["grid"], "key_unit": "true"}),
        ("page 1, sort name", {"sort": "name", "page": 1}),
        ("page 50, sort name", {"sort": "name", "page": 50}),
        ("page 50, sort -risk_level", {"sort": "-risk_level", "page": 50}),
    ]


def measure(client, params, repeat):
    path = "/api/v1/venues?" + urlencode(dict(params, page_size=50))
    for _ in range(5):
        client.request("GET", path)
    times = []
    total = None
    for _ in range(repeat):
        t = time.perf_counter()
        _, body = client.request("GET", path)
        times.append((time.perf_counter() - t) * 1000)
        total = body["meta"]["total"]
    times.sort()
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, total


def seeded_ids(app):
    """The ids seed() returned, looked up by area code in a database seeded earlier (--reuse)."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Area

    with app.app_context():
        by_code = dict(db.session.execute(select(Area.code, Area.id)).all())
        db.engine.dispose()
    return {"street": by_code["BL01"], "district": by_code["BL"], "street2": by_code["BL02"],
            "grid": by_code["BL0101"]}


def kept_database(kind: str, keep: Path) -> str:
    """A database that outlives the run (--keep): a file in `keep`, or a PostgreSQL database
    named after the directory, its URL written there (dropped with --drop)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    keep.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = "sqlite:///" + str(keep / "bench.db")
    else:
        name = f"firesweep_bench_{keep.name}"
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    (keep / f"{kind}.url").write_text(url)
    return url


def drop_kept(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        Path(make_url(url).database).unlink(missing_ok=True)
        return
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def run(kind, n_venues, repeat, keep=None):
    if keep is not None:
        url = kept_database(kind, keep)
        ids = seed(make_app(url, keep), n_venues)
        print(f"\n## {kind}: {n_venues:,} venues seeded in {ids['seed_seconds']:.1f} s, kept: {url}")
        return
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        app = make_app(url, Path(tmp))
        ids = seed(app, n_venues)
        print(f"\n## {kind}: {n_venues:,} venues (seeded in {ids['seed_seconds']:.1f} s)")
        with app.app_context():
            from server.extensions import db
            db.engine.dispose()
        serve(url, Path(tmp), ids, repeat)


def serve(url, tmp, ids, repeat):
    with gunicorn(url, tmp) as port:
        for user in ("sup_street", "sup_district"):
            client = Client(port).login(user, PASSWORD)
            print(f"\n{user}\n")
            print("| search | matches | p50 ms | p95 ms |")
            print("|---|---:|---:|---:|")
            for label, params in queries(ids):
                if user == "sup_street" and params.get("area_id") not in (None, ids["street"], ids["grid"]):
                    continue
                p50, p95, total = measure(client, params, repeat)
                print(f"| {label} | {total:,} | {p50:.1f} | {p95:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--keep", type=Path, help="seed into this directory (PostgreSQL: a kept database) and stop")
    parser.add_argument("--reuse", type=Path, help="measure a database seeded earlier with --keep")
    parser.add_argument("--drop", type=Path, help="drop a database kept with --keep")
    args = parser.parse_args()
    for kind in args.db.split(","):
        if args.reuse or args.drop:
            url = ((args.reuse or args.drop) / f"{kind}.url").read_text()
            if args.drop:
                drop_kept(url)
                continue
            print(f"\n## {kind}: reusing {url}")
            serve(url, args.reuse, seeded_ids(make_app(url, args.reuse)), args.repeat)
        else:
            run(kind, args.venues, args.repeat, keep=args.keep)


if __name__ == "__main__":
    main()
