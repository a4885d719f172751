"""The demo brigade: a district modelled on 北仑区 (Beilun, Ningbo) with its nine streets, grids,
staff, venue owners and a few thousand venues.

Two halves:
- *planning* (`plan_demo`) is pure: from a seed it computes every area, person and venue as plain
  dicts, with no database. Each stage draws from its own `random.Random(f"{seed}/<stage>")`, never
  the global `random` module, so the same seed gives the same data on every machine, and a
  stage added later (the brigade's year of inspection records, DOMAIN §1) cannot shift what the
  earlier stages produce. Venue *i* depends only on venues before it, so a 300-venue demo is the
  first 300 venues of the 3,000-venue one.
- *loading* (`build_demo`) writes what is missing, keyed by area code, username and venue code,
  in one transaction. Running it again creates nothing.

A later step (`build_year`, not written yet) will read the venues and staff back by their codes
and usernames and add a year of inspections, hazards, documents and cases on top.
"""
from __future__ import annotations

import inspect
import itertools
import logging
import random
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, select

from server.demo import names as N
from server.models.base import utcnow

logger = logging.getLogger(__name__)

DEFAULT_SEED = 2017
DEFAULT_VENUES = 3000
DEFAULT_OWNERS = 30
# The one password every demo account shares. Not a secret: it is printed by `flask demo logins`
# and in README.md, which tells operators to change it (or not load the demo) on a real server.
DEMO_PASSWORD = "firesweep-demo"
VENUE_CODE_PREFIX = "BL-V-"
# Venue ids are uuid5(namespace, code), so they too are the same on every machine.
VENUE_ID_NAMESPACE = uuid.UUID("6f1d2c3e-2017-4b1a-9c0e-0b0e1e2017aa")
LAT_RANGE = (29.83, 29.95)
LNG_RANGE = (121.75, 122.05)

ROLE_LABELS = {"admin": "管理员", "supervisor": "监督员", "inspector": "检查员", "owner": "业主"}


@dataclass(frozen=True)
class StaffMember:
    """A fixed brigade account: the people README's demo logins name."""

    username: str
    role: str
    display_name: str
    title: str
    area_codes: tuple[str, ...]
    enforcement_id: str | None = None


def _street(code: str) -> str:
    return f"{N.DISTRICT['code']}-{code}"


STAFF: tuple[StaffMember, ...] = (
    StaffMember("admin", "admin", "系统管理员", "系统管理员", ("BL",)),
    StaffMember("supervisor", "supervisor", "陈志刚", "大队长", ("BL",)),
    StaffMember("wanghaibo", "supervisor", "王海波", "副大队长", ("BL",)),
    StaffMember("lijun", "supervisor", "李军", "防火监督员",
                (_street("XQ"), _street("DQ"), _street("XG"), _street("QJS"), _street("XP"))),
    StaffMember("zhouli", "supervisor", "周丽", "防火监督员",
                (_street("CQ"), _street("CX"), _street("MS"), _street("BF"))),
    # Every street has at least two inspectors: an inspection needs two (DESIGN §5).
    StaffMember("inspector1", "inspector", "林晓峰", "检查员", (_street("XQ"),), "330206100138"),
    StaffMember("inspector2", "inspector", "徐佳颖", "检查员", (_street("XQ"),), "330206100152"),
    StaffMember("hujianhua", "inspector", "胡建华", "检查员", (_street("DQ"),), "330206100207"),
    StaffMember("yingwei", "inspector", "应伟", "检查员", (_street("DQ"), _street("XP")), "330206100213"),
    StaffMember("zhaolei", "inspector", "赵磊", "检查员", (_street("XG"), _street("QJS")), "330206100326"),
    StaffMember("wubin", "inspector", "邬斌", "检查员", (_street("XG"), _street("QJS")), "330206100331"),
    StaffMember("sunhao", "inspector", "孙浩", "检查员", (_street("XP"), _street("CQ")), "330206100449"),
    StaffMember("daiting", "inspector", "戴婷", "检查员", (_street("CQ"),), "330206100458"),
    StaffMember("yuqiang", "inspector", "俞强", "检查员", (_street("CX"), _street("MS")), "330206100562"),
    StaffMember("maofeng", "inspector", "毛峰", "检查员", (_street("CX"), _street("MS")), "330206100575"),
    StaffMember("hepeng", "inspector", "贺鹏", "检查员", (_street("BF"), _street("CQ")), "330206100681"),
    StaffMember("shenjie", "inspector", "沈杰", "检查员", (_street("BF"), _street("XP")), "330206100694"),
)

DEMO_OWNER = {"username": "owner", "display_name": "王建国"}


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    display_name: str
    areas: str


def _areas_label(codes) -> str:
    by_code = {N.DISTRICT["code"]: N.DISTRICT["name"]}
    by_code.update({_street(s["code"]): s["name"] for s in N.STREETS})
    return "、".join(by_code[c] for c in codes)


# The demo logins README.md lists and `flask demo logins` prints: one place for both.
DEMO_LOGINS: tuple[DemoLogin, ...] = tuple(
    DemoLogin(s.role, s.username, DEMO_PASSWORD, s.display_name, _areas_label(s.area_codes))
    for s in STAFF if s.username in ("admin", "supervisor", "lijun", "inspector1", "inspector2")
) + (DemoLogin("owner", DEMO_OWNER["username"], DEMO_PASSWORD, DEMO_OWNER["display_name"], "本人名下场所（2 处）"),)


# --- planning (pure) -----------------------------------------------------------------------

@dataclass
class DemoPlan:
    areas: list[dict]
    venues: list[dict]
    owners: list[dict]


def area_plan() -> list[dict]:
    """District → nine streets → their grids, parents before children."""
    district = N.DISTRICT
    rows = [{"code": district["code"], "name": district["name"], "level": "district", "parent": None}]
    for st in N.STREETS:
        rows.append({"code": _street(st["code"]), "name": st["name"], "level": "street",
                     "parent": district["code"]})
    for st in N.STREETS:
        for i in range(st["grids"]):
            rows.append({"code": grid_code(st, i), "name": f"{st['short']}第{N.GRID_NUMERALS[i]}网格",
                         "level": "grid", "parent": _street(st["code"])})
    return rows


def grid_code(street: dict, index: int) -> str:
    return f"{_street(street['code'])}-G{index + 1:02d}"


def _short(place: str) -> str:
    """明州路 → 明州, 横河村 → 横河, 春晓大道 → 春晓: the form used inside shop names."""
    for suffix in ("大道", "路", "村"):
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place


class _People:
    """Chinese names (with pinyin, for usernames) and mobile numbers from one RNG."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._surnames = [s[:2] for s in N.SURNAMES]
        self._cum_weights = list(itertools.accumulate(s[2] for s in N.SURNAMES))

    def surname(self) -> tuple[str, str]:
        return self.rng.choices(self._surnames, cum_weights=self._cum_weights)[0]

    def person(self) -> tuple[str, str]:
        """(name, pinyin), e.g. ("张建国", "zhangjianguo")."""
        sur, sur_py = self.surname()
        pool = N.GIVEN_MALE if self.rng.random() < 0.62 else N.GIVEN_FEMALE
        parts = [self.rng.choice(pool)] if self.rng.random() < 0.3 else self.rng.sample(pool, 2)
        return sur + "".join(p[0] for p in parts), sur_py + "".join(p[1] for p in parts)

    def mobile(self) -> str:
        return self.rng.choice(N.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"


class _VenueMaker:
    """Draws venues one at a time; names, addresses and GPS fit the venue's type and street."""

    RISK = {  # weights of low / medium / high per type
        "high_rise": (30, 50, 20), "group_rental": (8, 52, 40), "storefront": (55, 35, 10),
        "entertainment": (10, 50, 40), "flammable": (0, 40, 60), "hazardous_chemical": (0, 25, 75),
        "other": (45, 40, 15),
    }
    OWNED_TYPES = ("storefront", "group_rental", "entertainment", "flammable", "other")

    def __init__(self, seed: int):
        self.rng = random.Random(f"{seed}/venues")
        self.people = _People(self.rng)
        self.addresses: set[str] = set()
        self.unit_names: set[str] = set()
        self.street_weights = [s["weight"] for s in N.STREETS]
        from server.models import VENUE_TYPES

        self.types = VENUE_TYPES
        self.type_weights = {
            st["code"]: [N.TYPE_WEIGHTS[t] * st["mix"].get(t, 1.0) for t in VENUE_TYPES]
            for st in N.STREETS
        }

    # helpers
    def _brand(self) -> str:
        return self.rng.choice(N.BRAND_FIRST) + self.rng.choice(N.BRAND_SECOND)

    def _pick(self, seq):
        i = self.rng.randrange(len(seq))
        return i, seq[i]

    def _unique_name(self, make) -> str:
        """Unit names (companies, KTVs, buildings) are unique in the register; shops may repeat."""
        for _ in range(40):
            name = make()
            if name not in self.unit_names:
                break
        else:
            name = f"{name}（{len(self.unit_names) + 1}号）"
        self.unit_names.add(name)
        return name

    def _address(self, st, place: str, lo: int, hi: int, suffix: str = "号") -> tuple[str, int]:
        for _ in range(60):
            number = self.rng.randint(lo, hi)
            addr = f"{N.DISTRICT['name']}{st['name']}{place}{number}{suffix}"
            if addr not in self.addresses:
                break
        else:  # a crowded road: use the next free number beyond the range
            number = hi + 1
            while (addr := f"{N.DISTRICT['name']}{st['name']}{place}{number}{suffix}") in self.addresses:
                number += 1
        self.addresses.add(addr)
        return addr, number

    def _gps(self, st) -> tuple[float, float]:
        clat, clng = st["centre"]
        lat = min(max(self.rng.gauss(clat, 0.009), clat - 0.025, LAT_RANGE[0]), clat + 0.025, LAT_RANGE[1])
        lng = min(max(self.rng.gauss(clng, 0.012), clng - 0.03, LNG_RANGE[0]), clng + 0.03, LNG_RANGE[1])
        return round(lat, 6), round(lng, 6)

    def _area(self, lo: float, hi: float) -> float:
        return round(self.rng.uniform(lo, hi), 1)

    # one venue
    def make(self, index: int) -> dict:
        rng = self.rng
        # The first venues walk the streets and the types once, so even a tiny demo has them all.
        if index < len(N.STREETS):
            st = N.STREETS[index]
        else:
            st = rng.choices(N.STREETS, self.street_weights)[0]
        if index < len(self.types):
            vtype = self.types[index]
        else:
            vtype = rng.choices(self.types, self.type_weights[st["code"]])[0]
        person, pinyin = self.people.person()
        v = getattr(self, f"_{vtype}")(st, person)
        risk = rng.choices(("low", "medium", "high"), self.RISK[vtype])[0]
        if v.pop("crowded", False) and risk == "low":
            risk = "medium"
        # 挂牌整治: the district lists a few of the worst for remediation.
        listed = rng.random() < {"low": 0.0, "medium": 0.02, "high": 0.12}[risk]
        lat, lng = self._gps(st)
        grid = (v.pop("locality") + v.pop("number") // 150) % st["grids"]
        v.update({
            "code": f"{VENUE_CODE_PREFIX}{index + 1:06d}", "type": vtype, "street": _street(st["code"]),
            "grid": grid_code(st, grid), "lat": lat, "lng": lng, "responsible_person": person,
            "pinyin": pinyin, "contact_phone": self.people.mobile(), "risk_level": risk,
            "listed_for_remediation": listed,
        })
        v.setdefault("notes", None)
        v.setdefault("person_in_name", False)
        return v

    def _storefront(self, st, person):
        rng = self.rng
        road_i, road = self._pick(st["roads"])
        trade = rng.choice(N.SHOP_TRADES)
        style = rng.choices(("surname", "nick", "chain", "word", "road"), (30, 14, 14, 22, 20))[0]
        if style == "surname":
            name = f"{person[0]}记{trade}"
        elif style == "nick":
            name = f"阿{rng.choice(N.NICKNAMES)}{trade}"
        elif style == "chain":
            name = f"{rng.choice(N.SHOP_CHAINS)}（{road}店）"
        elif style == "word":
            name = f"{rng.choice(N.SHOP_WORDS)}{trade}"
        else:
            name = f"{_short(road)}{trade}"
        address, number = self._address(st, road, 1, 899)
        three_in_one = rng.random() < 0.12  # 三合一: living, storage and business under one roof
        floors = rng.choices((1, 2, 3), (60, 30, 10))[0]
        return {
            "name": name, "address": address, "number": number, "locality": road_i,
            "key_unit": False, "floors": floors, "floor_area": self._area(18, 90 * floors + 60),
            "occupancy": rng.randint(2, 12) + (rng.randint(5, 30) if "饭" in trade or "馆" in trade else 0),
            "notes": "店内住人，存在“三合一”现象" if three_in_one else None, "crowded": three_in_one,
            "person_in_name": style == "surname",
        }

    def _group_rental(self, st, person):
        rng = self.rng
        rooms = rng.randint(6, 28)
        people = rooms + rng.randint(2, rooms + 8)
        if rng.random() < 0.75:
            loc_i, village = self._pick(st["villages"])
            address, number = self._address(st, village, 1, 260)
            name = f"{st['name']}{village}{number}号出租房（二房东：{person[0]}某）"
            floors = rng.choices((2, 3, 4, 5), (20, 40, 30, 10))[0]
        else:
            loc_i, compound = self._pick(st["compounds"])
            building, room = rng.randint(1, 36), rng.choice((1, 2, 3, 4, 5, 6)) * 100 + rng.randint(1, 4)
            address, number = self._address(st, f"{compound}{building}幢", room, room, "室")
            name = f"{compound}{building}幢{number}室群租房（二房东：{person[0]}某）"
            loc_i += len(st["villages"])
            floors, rooms, people = 1, min(rooms, 8), min(people, 16)
        return {
            "name": name, "address": address, "number": number, "locality": loc_i, "key_unit": False,
            "floors": floors, "floor_area": self._area(20 * rooms, 32 * rooms + 60), "occupancy": people,
            "notes": f"出租{rooms}间，居住约{people}人", "person_in_name": True,
        }

    def _high_rise(self, st, person):
        rng = self.rng
        road_i, road = self._pick(st["roads"])
        residential = rng.random() < 0.4
        if residential:
            road_i, compound = self._pick(st["compounds"])
            drawn = []

            def building():
                drawn.append(rng.randint(1, 36))
                return f"{compound}{drawn[-1]}幢"
            name = self._unique_name(building)
            number = drawn[-1]
            address = f"{N.DISTRICT['name']}{st['name']}{name}"
            self.addresses.add(address)
            floors = rng.randint(18, 33)
            area, occupancy, key = self._area(9000, 26000), rng.randint(180, 650), rng.random() < 0.7
        else:
            def make():
                if st["code"] == "XQ" and rng.random() < 0.35:
                    return rng.choice(N.HIGH_RISE_NAMES) + rng.choice(N.TOWER_LETTERS) + "座"
                return f"{st['short']}{self._brand()}{rng.choice(N.HIGH_RISE_KINDS)}"
            name = self._unique_name(make)
            address, number = self._address(st, road, 1, 999)
            floors = rng.randint(12, 38)
            area, occupancy, key = self._area(12000, 85000), rng.randint(300, 3000), rng.random() < 0.97
        return {"name": name, "address": address, "number": number, "locality": road_i, "key_unit": key,
                "floors": floors, "floor_area": area, "occupancy": occupancy}

    def _entertainment(self, st, person):
        rng = self.rng
        road_i, road = self._pick(st["roads"])

        def make():
            base = rng.choice(N.ENTERTAINMENT_WORDS) + rng.choice(N.ENTERTAINMENT_KINDS)
            return base if rng.random() < 0.6 else f"{base}（{_short(road)}店）"
        name = self._unique_name(make)
        address, number = self._address(st, road, 1, 999)
        floors = rng.choices((1, 2, 3, 4), (30, 35, 25, 10))[0]
        return {"name": name, "address": address, "number": number, "locality": road_i,
                "key_unit": rng.random() < 0.85, "floors": floors,
                "floor_area": self._area(150, 700 * floors), "occupancy": rng.randint(30, 150 * floors)}

    def _flammable(self, st, person):
        rng = self.rng
        pattern = rng.choice(N.FLAMMABLE_PATTERNS)
        on_road = "站" in pattern
        if on_road:
            loc_i, place = self._pick(st["roads"])
        else:
            loc_i, place = self._pick(st["zones"])
            loc_i += len(st["roads"])
        name = self._unique_name(lambda: pattern.format(
            place=_short(rng.choice(st["villages"] if rng.random() < 0.5 else st["roads"])), brand=self._brand()))
        address, number = self._address(st, place if on_road else f"{place}{rng.choice(st['roads'])}", 1, 699)
        return {"name": name, "address": address, "number": number, "locality": loc_i,
                "key_unit": rng.random() < 0.9, "floors": rng.choice((1, 1, 2)),
                "floor_area": self._area(300, 5000), "occupancy": rng.randint(3, 30)}

    def _hazardous_chemical(self, st, person):
        rng = self.rng
        zone_i, zone = self._pick(st["zones"])
        name = self._unique_name(lambda: rng.choice(N.CHEMICAL_PATTERNS).format(brand=self._brand()))
        address, number = self._address(st, f"{zone}{rng.choice(st['roads'])}", 1, 599)
        return {"name": name, "address": address, "number": number, "locality": zone_i,
                "key_unit": rng.random() < 0.98, "floors": rng.randint(1, 4),
                "floor_area": self._area(2000, 80000), "occupancy": rng.randint(20, 400)}

    def _other(self, st, person):
        rng = self.rng
        pattern = rng.choice(N.OTHER_PATTERNS)
        crowded = any(w in pattern for w in ("幼儿园", "养老院", "养老服务", "卫生院", "农贸市场", "宾馆", "酒店"))
        road_i, road = self._pick(st["roads"])
        name = self._unique_name(lambda: pattern.format(place=_short(rng.choice(st["villages"]))
                                                        if rng.random() < 0.6 else st["short"],
                                                        brand=self._brand()))
        address, number = self._address(st, road, 1, 999)
        floors = rng.randint(1, 6)
        return {"name": name, "address": address, "number": number, "locality": road_i,
                "key_unit": rng.random() < (0.6 if crowded else 0.15), "floors": floors,
                "floor_area": self._area(200, 1800 * floors), "occupancy": rng.randint(10, 80 * floors),
                "crowded": crowded}


def plan_venues(seed: int, count: int) -> list[dict]:
    maker = _VenueMaker(seed)
    return [maker.make(i) for i in range(count)]


def plan_owners(seed: int, venues: list[dict], count: int) -> list[dict]:
    """Owner accounts for the first owner-run venues; about one in three runs a second venue.

    An owner is the responsible person of their venue; a second venue takes the owner as its
    responsible person (only venues whose name does not carry a person, e.g. not "张记…").
    """
    rng = random.Random(f"{seed}/owners")
    pool = [v for v in venues if v["type"] in _VenueMaker.OWNED_TYPES]
    free = [v for v in pool if not v["person_in_name"]]
    used: set[str] = set()
    owners: list[dict] = []
    usernames = {s.username for s in STAFF} | {DEMO_OWNER["username"]}

    def take(candidates):
        for v in candidates:
            if v["code"] not in used:
                used.add(v["code"])
                return v
        return None

    def adopt(owner, v):
        v["responsible_person"], v["contact_phone"] = owner["display_name"], owner["phone"]
        owner["venue_codes"].append(v["code"])

    if count <= 0:
        return owners
    # The demo owner login runs a shop and one more venue.
    first = take(v for v in free if v["type"] == "storefront") or take(free)
    if first is None:
        return owners
    demo = dict(DEMO_OWNER, phone=first["contact_phone"], venue_codes=[])
    adopt(demo, first)
    second = take(v for v in free if v["type"] != first["type"])
    if second is not None:
        adopt(demo, second)
    owners.append(demo)
    while len(owners) < count:
        v = take(pool)
        if v is None:
            break
        username = v["pinyin"]
        n = 2
        while username in usernames:
            username, n = f"{v['pinyin']}{n}", n + 1
        usernames.add(username)
        owner = {"username": username, "display_name": v["responsible_person"],
                 "phone": v["contact_phone"], "venue_codes": [v["code"]]}
        if rng.random() < 0.33 and (extra := take(free)) is not None:
            adopt(owner, extra)
        owners.append(owner)
    return owners


def plan_demo(seed: int = DEFAULT_SEED, venues: int = DEFAULT_VENUES, owners: int = DEFAULT_OWNERS) -> DemoPlan:
    """Everything the demo will contain, computed without a database."""
    venue_rows = plan_venues(seed, venues)
    return DemoPlan(areas=area_plan(), venues=venue_rows, owners=plan_owners(seed, venue_rows, owners))


def staff_phone(seed: int, username: str) -> str:
    return _People(random.Random(f"{seed}/staff/{username}")).mobile()


# --- loading -------------------------------------------------------------------------------

@dataclass
class DemoResult:
    areas_created: int = 0
    users_created: int = 0
    venues_created: int = 0
    reference: str = "skipped"
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # seconds per stage, for bench/

    @property
    def created_anything(self) -> bool:
        return bool(self.areas_created or self.users_created or self.venues_created)


def _venue_row(v: dict, area_id: int) -> dict:
    now = utcnow()
    return {
        "id": str(uuid.uuid5(VENUE_ID_NAMESPACE, v["code"])), "code": v["code"], "name": v["name"],
        "type": v["type"], "key_unit": v["key_unit"], "address": v["address"], "area_id": area_id,
        "lat": v["lat"], "lng": v["lng"], "responsible_person": v["responsible_person"],
        "contact_phone": v["contact_phone"], "floors": v["floors"], "floor_area": v["floor_area"],
        "occupancy": v["occupancy"], "risk_level": v["risk_level"],
        "listed_for_remediation": v["listed_for_remediation"], "notes": v["notes"],
        "version": 1, "field_versions": {}, "created_at": now, "updated_at": now,
    }


def load_reference(log) -> str:
    """Load the reference data (checklists, legal bases, calendar) when that module exists."""
    try:
        from server.services import reference
    except ImportError:
        log("参考数据：server.services.reference 尚不存在，跳过加载（skipped: no reference module）")
        return "skipped"
    load_all = getattr(reference, "load_all", None)
    if load_all is None:
        log("参考数据：server.services.reference.load_all 尚不存在，跳过加载（skipped: no load_all）")
        return "skipped"
    required = [p for p in inspect.signature(load_all).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    load_all(*([None] * len(required)))  # the one possible positional argument is the actor (CLI: None)
    log("参考数据：已加载（检查表、法律依据、节假日）")
    return "loaded"


def build_demo(seed: int = DEFAULT_SEED, venues: int = DEFAULT_VENUES, owners: int = DEFAULT_OWNERS,
               log=None, reference: bool = True) -> DemoResult:
    """Create the Beilun demo brigade (areas, staff, owners, venues); idempotent.

    Rows are matched on area code, username and venue code; whatever already exists is left as
    it is, so a second run writes nothing. Everything new is written in one transaction.
    """
    from server.extensions import db
    from server.models import Area, User, Venue, take_server_seqs
    from server.auth import hash_password
    from server.services import accounts, audit

    log = log or logger.info
    result = DemoResult()
    started = last = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        result.timings[stage], last = now - last, now

    if reference:
        result.reference = load_reference(log)
        lap("reference")
    plan = plan_demo(seed, venues, owners)
    lap("plan")
    try:
        # Areas, parents first, through the accounts service (it keeps the materialised path).
        areas = {a.code: a for a in db.session.scalars(
            select(Area).where(Area.code.in_([a["code"] for a in plan.areas])))}
        for row in plan.areas:
            if row["code"] in areas:
                continue
            parent = areas[row["parent"]] if row["parent"] else None
            areas[row["code"]] = accounts.create_area(
                None, code=row["code"], name=row["name"], level=row["level"],
                parent_id=parent.id if parent else None, commit=False)
            result.areas_created += 1
        lap("areas")

        # Venues: one bulk insert of the ones not there yet.
        codes = [v["code"] for v in plan.venues]
        existing = set()
        for i in range(0, len(codes), 900):
            existing.update(db.session.scalars(select(Venue.code).where(Venue.code.in_(codes[i:i + 900]))))
        new = [_venue_row(v, areas[v["grid"]].id) for v in plan.venues if v["code"] not in existing]
        if new:
            # A Core bulk insert skips the ORM's per-object flush; it hands out the sync
            # sequence numbers itself, as the before_flush hook would.
            first = take_server_seqs(db.session, len(new))
            for i, row in enumerate(new):
                row["server_seq"] = first + i
            db.session.execute(insert(Venue), new)
        result.venues_created = len(new)
        lap("venues")
        log(f"场所：新建 {len(new)} 处，已存在 {len(existing)} 处")

        # Staff and owners through the accounts service. They all share the public demo password,
        # so it is hashed once (one argon2 hash costs ~0.2 s; 47 of them dominated the load).
        shared_hash = hash_password(DEMO_PASSWORD)
        wanted = [s.username for s in STAFF] + [o["username"] for o in plan.owners]
        taken = set(db.session.scalars(select(User.username).where(User.username.in_(wanted))))
        for s in STAFF:
            if s.username in taken:
                continue
            accounts.create_user(None, username=s.username, password=DEMO_PASSWORD, password_hash=shared_hash,
                                 display_name=s.display_name, role=s.role,
                                 area_ids=[areas[c].id for c in s.area_codes],
                                 enforcement_id=s.enforcement_id, phone=staff_phone(seed, s.username),
                                 commit=False)
            result.users_created += 1
        owner_codes = [c for o in plan.owners for c in o["venue_codes"]]
        venue_ids = dict(db.session.execute(select(Venue.code, Venue.id).where(Venue.code.in_(owner_codes))).all())
        for o in plan.owners:
            if o["username"] in taken:
                continue
            accounts.create_user(None, username=o["username"], password=DEMO_PASSWORD, password_hash=shared_hash,
                                 display_name=o["display_name"], role="owner", phone=o["phone"],
                                 venue_ids=[venue_ids[c] for c in o["venue_codes"]], commit=False)
            result.users_created += 1
        log(f"账号：新建 {result.users_created} 个，区域：新建 {result.areas_created} 个")
        lap("users")

        result.counts = {"areas": len(plan.areas), "venues": len(plan.venues),
                         "staff": len(STAFF), "owners": len(plan.owners)}
        if result.created_anything:
            audit.record(None, "demo.load", "demo", N.DISTRICT["code"], after={
                "seed": seed, "areas_created": result.areas_created, "users_created": result.users_created,
                "venues_created": result.venues_created})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    result.seconds = time.perf_counter() - started
    return result
