"""Reference data: the legal-basis library, checklist templates and 三停 measures.

The files in server/data/ are the source of truth (reviewed like code, see server/data/README.md).
`load_all()` validates them and brings the database in line: legal bases are upserted by code;
a checklist file whose `version` is new becomes a new ChecklistTemplate (older versions stay,
inactive, because inspections record the version they used); the same version with different
content is refused so that a recorded version always means the same list.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, func, select, update

from server.extensions import db
from server.models import VENUE_TYPES, ChecklistItem, ChecklistTemplate, LegalBasis
from server.models.base import utcnow
from server.services import audit
from server.services.access import authorize
from server.services.errors import NotFound, RuleViolation

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

SEVERITIES = ("general", "major")
CORRECTION_MODES = ("immediate", "deadline")
BASIS_KINDS = ("obligation", "penalty", "procedure")
FINE_PARTIES = ("unit", "individual", "commercial", "non_commercial")
PERIOD_UNITS = ("hours", "days", "working_days", "months")
SANCTIONS = (
    "warning", "order_correction", "suspend_business", "stop_use", "stop_construction",
    "forced_execution", "temporary_seal", "revoke_permit", "disciplinary_action",
    "referral_public_security", "referral_emergency_management",
)
_DETENTION = re.compile(r"^detention_days:(\d{1,2})(?:-(\d{1,2}))?$")
_BASIS_CODE = re.compile(r"^[A-Z][A-Z0-9]*-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_ITEM_CODE = re.compile(r"^[A-Z]{2}-\d{2}$")
MAX_DEFAULT_DAYS = 180

BASIS_FIELDS = ("law", "version_date", "article", "clause", "item", "kind", "text", "fine_range",
                "other_sanctions", "unverified", "note", "periods")
ITEM_FIELDS = ("code", "section", "text", "check_method", "default_severity", "correction_mode",
               "default_days", "legal_basis_codes", "requirement", "gb35181_code")
_ITEM_REQUIRED = ("code", "section", "text", "check_method", "default_severity", "correction_mode",
                  "legal_basis_codes", "requirement")


# --- reading and validating the files ----------------------------------------------------

def _invalid(file: str, detail: str) -> RuleViolation:
    return RuleViolation("reference_invalid", file=file, detail=detail)


@lru_cache(maxsize=64)
def _read_json_cached(path: str, mtime_ns: int, size: int):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _read_json(path: Path, label: str):
    """Parse a data file; the parse is cached until the file changes (mtime/size)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise _invalid(label, "file missing") from None
    try:
        return _read_json_cached(str(path), stat.st_mtime_ns, stat.st_size)
    except json.JSONDecodeError as err:
        raise _invalid(label, f"not valid JSON: {err}") from None


def _fingerprint(data_dir: Path) -> tuple:
    files = sorted(data_dir.glob("*.json")) + sorted((data_dir / "checklists").glob("*.json"))
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _check_keys(obj: dict, allowed, required, label: str) -> None:
    if not isinstance(obj, dict):
        raise _invalid(label, "expected an object")
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise _invalid(label, f"unknown field(s) {unknown}")
    missing = [k for k in required if obj.get(k) in (None, "", [])]
    if missing:
        raise _invalid(label, f"missing {missing}")


def _iso_date(value, label: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(label, f"bad date {value!r} (use YYYY-MM-DD)") from None


def _validate_basis(raw: dict, label: str) -> dict:
    _check_keys(raw, ("code",) + BASIS_FIELDS, ("code", "law", "version_date", "article", "kind", "text"), label)
    code = raw["code"]
    if not _BASIS_CODE.match(code) or len(code) > 64:
        raise _invalid(label, f"bad code {code!r}")
    label = f"{label} {code}"
    if raw["kind"] not in BASIS_KINDS:
        raise _invalid(label, f"kind must be one of {BASIS_KINDS}")
    for key in ("article", "clause", "item"):
        if raw.get(key) is not None and not re.fullmatch(r"\d{1,3}", str(raw[key])):
            raise _invalid(label, f"{key} must be a number written as a string")
    fines = raw.get("fine_range")
    if fines is not None:
        if not isinstance(fines, dict) or not fines:
            raise _invalid(label, "fine_range must be an object or null")
        for party, rng in fines.items():
            if party not in FINE_PARTIES:
                raise _invalid(label, f"fine_range party {party!r} not in {FINE_PARTIES}")
            if (not isinstance(rng, list) or len(rng) != 2 or not all(isinstance(x, int) for x in rng)
                    or not 0 <= rng[0] <= rng[1]):
                raise _invalid(label, f"fine_range {party} must be [min, max] in whole yuan")
    for sanction in raw.get("other_sanctions") or []:
        m = _DETENTION.match(sanction)
        if sanction not in SANCTIONS and not (m and (m.group(2) is None or int(m.group(1)) <= int(m.group(2)))):
            raise _invalid(label, f"unknown sanction {sanction!r}")
    for period in raw.get("periods") or []:
        _check_keys(period, ("key", "value", "unit", "from"), ("key", "value", "unit"), f"{label} periods")
        if period["unit"] not in PERIOD_UNITS or not isinstance(period["value"], int) or period["value"] <= 0:
            raise _invalid(label, f"bad period {period}")
    if not isinstance(raw.get("unverified", False), bool):
        raise _invalid(label, "unverified must be true or false")
    return {
        "code": code,
        "law": raw["law"],
        "version_date": _iso_date(raw["version_date"], label),
        "article": str(raw["article"]),
        "clause": None if raw.get("clause") is None else str(raw["clause"]),
        "item": None if raw.get("item") is None else str(raw["item"]),
        "kind": raw["kind"],
        "text": raw["text"],
        "fine_range": fines,
        "other_sanctions": list(raw.get("other_sanctions") or []),
        "unverified": bool(raw.get("unverified", False)),
        "note": raw.get("note") or None,
        "periods": raw.get("periods") or None,
    }


def _validate_item(raw: dict, label: str, basis_codes: set[str]) -> dict:
    _check_keys(raw, ITEM_FIELDS, _ITEM_REQUIRED, label)
    code = raw["code"]
    if not _ITEM_CODE.match(code):
        raise _invalid(label, f"bad item code {code!r} (e.g. GR-03)")
    label = f"{label} {code}"
    if raw["default_severity"] not in SEVERITIES:
        raise _invalid(label, f"default_severity must be one of {SEVERITIES}")
    mode, days = raw["correction_mode"], raw.get("default_days")
    if mode not in CORRECTION_MODES:
        raise _invalid(label, f"correction_mode must be one of {CORRECTION_MODES}")
    if mode == "deadline" and not (isinstance(days, int) and 1 <= days <= MAX_DEFAULT_DAYS):
        raise _invalid(label, f"a deadline item needs default_days between 1 and {MAX_DEFAULT_DAYS}")
    if mode == "immediate" and days is not None:
        raise _invalid(label, "an immediate item has no default_days")
    codes = raw["legal_basis_codes"]
    if not isinstance(codes, list):
        raise _invalid(label, "legal_basis_codes must be a list")
    unknown = [c for c in codes if c not in basis_codes]
    if unknown:
        raise _invalid(label, f"legal_basis_codes not in legal_bases.json: {unknown}")
    return {k: raw.get(k) for k in ITEM_FIELDS}


def _content_hash(template: dict) -> str:
    canonical = json.dumps(template, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_files(data_dir: Path | None = None) -> dict:
    """Validate every data file and return the merged, checked content (cached per file state).

    :raises RuleViolation: `reference_invalid` naming the file and the problem.
    """
    data_dir = Path(data_dir or DATA_DIR)
    return _read_files_cached(str(data_dir), _fingerprint(data_dir))


@lru_cache(maxsize=8)
def _read_files_cached(data_dir: str, _fingerprint_key: tuple) -> dict:
    root = Path(data_dir)
    bases_doc = _read_json(root / "legal_bases.json", "legal_bases.json")
    _check_keys(bases_doc, ("version", "date", "description", "bases"), ("version", "bases"), "legal_bases.json")
    bases: dict[str, dict] = {}
    for i, raw in enumerate(bases_doc["bases"]):
        basis = _validate_basis(raw, f"legal_bases.json #{i + 1}")
        if basis["code"] in bases:
            raise _invalid("legal_bases.json", f"code {basis['code']} appears twice")
        bases[basis["code"]] = basis
    source_version = str(bases_doc["version"])

    common_doc = _read_json(root / "checklists" / "common.json", "checklists/common.json")
    _check_keys(common_doc, ("version", "description", "items"), ("version", "items"), "checklists/common.json")
    common = [_validate_item(raw, "checklists/common.json", set(bases)) for raw in common_doc["items"]]

    templates: dict[str, dict] = {}
    for venue_type in VENUE_TYPES:
        label = f"checklists/{venue_type}.json"
        doc = _read_json(root / "checklists" / f"{venue_type}.json", label)
        _check_keys(doc, ("venue_type", "version", "effective_from", "title", "description", "common_exclude", "items"),
                    ("venue_type", "version", "effective_from", "title", "items"), label)
        if doc["venue_type"] != venue_type:
            raise _invalid(label, f"venue_type {doc['venue_type']!r} does not match the file name")
        if not isinstance(doc["version"], int) or doc["version"] < 1:
            raise _invalid(label, "version must be a whole number ≥ 1")
        exclude = set(doc.get("common_exclude") or [])
        unknown_excl = exclude - {c["code"] for c in common}
        if unknown_excl:
            raise _invalid(label, f"common_exclude names unknown items {sorted(unknown_excl)}")
        own = [_validate_item(raw, label, set(bases)) for raw in doc["items"]]
        items = [c for c in common if c["code"] not in exclude] + own
        seen: set[str] = set()
        for it in items:
            if it["code"] in seen:
                raise _invalid(label, f"item code {it['code']} appears twice")
            seen.add(it["code"])
        body = {"venue_type": venue_type, "title": doc["title"],
                "effective_from": _iso_date(doc["effective_from"], label), "items": items}
        templates[venue_type] = dict(body, version=doc["version"], content_hash=_content_hash(body))

    three_stop = _read_json(root / "three_stop_measures.json", "three_stop_measures.json")
    _validate_three_stop(three_stop, set(bases))
    return {"bases": bases, "source_version": source_version, "templates": templates, "three_stop": three_stop}


def _validate_three_stop(doc: dict, basis_codes: set[str]) -> None:
    label = "three_stop_measures.json"
    _check_keys(doc, ("version", "date", "description", "sets", "venue_types"), ("version", "sets", "venue_types"), label)
    for name, spec in doc["sets"].items():
        _check_keys(spec, ("name", "issued_by", "legal_basis_codes", "measures", "note"),
                    ("name", "issued_by", "measures"), f"{label} {name}")
        if spec["issued_by"] not in ("brigade", "district_government"):
            raise _invalid(label, f"{name}: issued_by must be brigade or district_government")
        unknown = [c for c in spec.get("legal_basis_codes") or [] if c not in basis_codes]
        if unknown:
            raise _invalid(label, f"{name}: legal_basis_codes not in legal_bases.json: {unknown}")
        for measure in spec["measures"]:
            _check_keys(measure, ("code", "name", "name_en"), ("code", "name"), f"{label} {name}")
    missing = set(VENUE_TYPES) - set(doc["venue_types"])
    if missing:
        raise _invalid(label, f"venue types without a measure set: {sorted(missing)}")
    for venue_type, set_name in doc["venue_types"].items():
        if venue_type not in VENUE_TYPES or set_name not in doc["sets"]:
            raise _invalid(label, f"{venue_type} → {set_name} is not a known venue type and set")


# --- loading into the database -------------------------------------------------------------

def _basis_row(basis: dict, source_version: str) -> dict:
    return dict(basis, source_version=source_version)


def load_all(commit: bool = True, data_dir: Path | None = None) -> dict:
    """Bring the database in line with server/data/; return what changed. Idempotent.

    Cheap when nothing changed (the files are parsed once per process and change, and the
    database is read with two small queries), so `make run` and tests can call it freely.

    :raises RuleViolation: `reference_invalid`, `reference_version_not_bumped` or
        `reference_version_behind`; nothing is written in that case.
    """
    files = read_files(data_dir)
    report = {"legal_bases": {"added": [], "updated": [], "unchanged": 0, "not_in_files": []},
              "checklists": {"created": [], "unchanged": []}}

    # Plan the checklist changes first, so a refused file leaves the database untouched.
    stored: dict[str, list] = {}
    for row in db.session.execute(select(ChecklistTemplate.id, ChecklistTemplate.venue_type,
                                         ChecklistTemplate.version, ChecklistTemplate.content_hash,
                                         ChecklistTemplate.active)):
        stored.setdefault(row.venue_type, []).append(row)
    to_create, to_activate = [], []
    for venue_type, tpl in files["templates"].items():
        rows = stored.get(venue_type, [])
        same = next((r for r in rows if r.version == tpl["version"]), None)
        newest = max((r.version for r in rows), default=0)
        if same is not None:
            if same.content_hash != tpl["content_hash"]:
                raise RuleViolation("reference_version_not_bumped", file=f"checklists/{venue_type}.json",
                                    version=tpl["version"])
            if not same.active or any(r.active for r in rows if r.id != same.id):
                to_activate.append((venue_type, same.id))
            report["checklists"]["unchanged"].append({"venue_type": venue_type, "version": tpl["version"]})
        elif tpl["version"] < newest:
            raise RuleViolation("reference_version_behind", file=f"checklists/{venue_type}.json",
                                version=tpl["version"], current=newest)
        else:
            to_create.append(tpl)

    # Legal bases: upsert by code. Bases no longer in the file are kept (old templates and
    # issued documents cite them) and reported.
    existing = {b.code: b for b in db.session.scalars(select(LegalBasis))}
    new_rows = []
    for code, basis in files["bases"].items():
        row = existing.get(code)
        wanted = _basis_row(basis, files["source_version"])
        if row is None:
            new_rows.append(wanted)
            report["legal_bases"]["added"].append(code)
            continue
        changed = False
        for key, value in wanted.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
        if changed:
            report["legal_bases"]["updated"].append(code)
        else:
            report["legal_bases"]["unchanged"] += 1
    report["legal_bases"]["not_in_files"] = sorted(set(existing) - set(files["bases"]))
    # Core executemany (not ORM bulk): tests load into an empty database many times over.
    if new_rows:
        db.session.execute(LegalBasis.__table__.insert(), new_rows)

    for venue_type, template_id in to_activate:
        _make_only_active(venue_type, template_id)
    if to_create:
        _create_templates(to_create)
        for tpl in to_create:
            report["checklists"]["created"].append({"venue_type": tpl["venue_type"], "version": tpl["version"],
                                                    "items": len(tpl["items"])})
    if commit:
        db.session.commit()
    return report


def _create_templates(templates: list[dict]) -> None:
    """Insert new template versions and their items; they become the only active version of their type."""
    table = ChecklistTemplate.__table__
    created_at = utcnow()
    db.session.execute(table.insert(), [
        {"venue_type": t["venue_type"], "version": t["version"], "title": t["title"],
         "effective_from": t["effective_from"], "active": True, "content_hash": t["content_hash"],
         "created_at": created_at} for t in templates])
    ids = {(r.venue_type, r.version): r.id for r in db.session.execute(
        select(table.c.id, table.c.venue_type, table.c.version).where(
            table.c.venue_type.in_([t["venue_type"] for t in templates])))}
    new_ids = [ids[(t["venue_type"], t["version"])] for t in templates]
    db.session.execute(ChecklistItem.__table__.insert(), [
        dict(item, template_id=ids[(t["venue_type"], t["version"])], position=i)
        for t in templates for i, item in enumerate(t["items"])])
    db.session.execute(update(table).where(table.c.venue_type.in_([t["venue_type"] for t in templates]),
                                           table.c.id.not_in(new_ids)).values(active=False))
    # Rows already in the session (e.g. a template read earlier) must not show the old flag.
    db.session.expire_all()


def _make_only_active(venue_type: str, template_id: int) -> None:
    table = ChecklistTemplate.__table__
    db.session.execute(update(table).where(table.c.venue_type == venue_type)
                       .values(active=table.c.id == template_id))
    db.session.expire_all()


def report_changed(report: dict) -> bool:
    lb, cl = report["legal_bases"], report["checklists"]
    return bool(lb["added"] or lb["updated"] or cl["created"])


def reload(actor) -> dict:
    """Reload the data files now (admin); the reload is audited with what changed."""
    authorize(actor, "reference.manage")
    report = load_all(commit=False)
    audit.record(actor, "reference.reload", "reference", "server/data", after=report)
    db.session.commit()
    return report


# --- reading -----------------------------------------------------------------------------

def current_template(venue_type: str) -> ChecklistTemplate:
    """The active checklist template of a venue type (what a new inspection uses)."""
    template = db.session.scalar(_current_template_query(), {"venue_type": venue_type})
    if template is None:
        raise NotFound("checklist_not_found", venue_type=venue_type)
    return template


@lru_cache(maxsize=1)
def _current_template_query():
    """Built once (parameter venue_type): every synced inspection asks, and making the statement
    cost about as much as running it."""
    return select(ChecklistTemplate).where(ChecklistTemplate.venue_type == bindparam("venue_type"),
                                           ChecklistTemplate.active.is_(True))


def template_version(venue_type: str, version: int) -> ChecklistTemplate:
    """A given version of a venue type's checklist, active or not (what an old inspection used)."""
    template = db.session.scalar(select(ChecklistTemplate).where(
        ChecklistTemplate.venue_type == venue_type, ChecklistTemplate.version == version))
    if template is None:
        raise NotFound("checklist_version_not_found", venue_type=venue_type, version=version)
    return template


def list_templates(actor, *, venue_type: str | None = None, version: int | None = None) -> list[ChecklistTemplate]:
    """Current templates (one per venue type), or the given version when `version` is set."""
    authorize(actor, "reference.read")
    stmt = select(ChecklistTemplate).order_by(ChecklistTemplate.venue_type, ChecklistTemplate.version)
    if venue_type:
        stmt = stmt.where(ChecklistTemplate.venue_type == venue_type)
    if version is not None:
        stmt = stmt.where(ChecklistTemplate.version == version)
    else:
        stmt = stmt.where(ChecklistTemplate.active.is_(True))
    return db.session.scalars(stmt).all()


def view_template(actor, template_id: int) -> ChecklistTemplate:
    authorize(actor, "reference.read")
    template = db.session.get(ChecklistTemplate, template_id)
    if template is None:
        raise NotFound("checklist_template_not_found", id=template_id)
    return template


def list_legal_bases(actor, *, law: str | None = None, article: str | None = None, kind: str | None = None,
                     unverified: bool | None = None, q: str | None = None, page: int = 1, page_size: int = 50):
    """Legal bases, filtered; `law` matches a fragment of the law's name (e.g. 消防法)."""
    authorize(actor, "reference.read")
    stmt = select(LegalBasis)
    if law:
        stmt = stmt.where(LegalBasis.law.contains(law, autoescape=True))
    if article:
        stmt = stmt.where(LegalBasis.article == str(article))
    if kind:
        stmt = stmt.where(LegalBasis.kind == kind)
    if unverified is not None:
        stmt = stmt.where(LegalBasis.unverified.is_(unverified))
    if q:
        stmt = stmt.where(LegalBasis.text.contains(q, autoescape=True) | LegalBasis.code.contains(q, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(LegalBasis.code).limit(page_size).offset((page - 1) * page_size)).all()
    return rows, total


def legal_basis(code: str) -> LegalBasis:
    basis = db.session.scalar(select(LegalBasis).where(LegalBasis.code == code))
    if basis is None:
        raise NotFound("legal_basis_not_found", code=code)
    return basis


def view_legal_basis(actor, code: str) -> LegalBasis:
    authorize(actor, "reference.read")
    return legal_basis(code)


def legal_bases(codes) -> dict[str, LegalBasis]:
    """Bases by code, for printing several on one document (missing codes are left out)."""
    codes = list(codes)
    if not codes:
        return {}
    return {b.code: b for b in db.session.scalars(select(LegalBasis).where(LegalBasis.code.in_(codes)))}


def period(key: str) -> dict:
    """A period set by a provision, e.g. period("reinspection") → 3 working days, with its basis."""
    # Scanned in Python: ~60 rows, and a JSON column's null differs between databases.
    for basis in db.session.scalars(select(LegalBasis).order_by(LegalBasis.code)):
        for p in basis.periods or []:
            if p.get("key") == key:
                return {"key": key, "value": p["value"], "unit": p["unit"], "from": p.get("from"),
                        "basis_code": basis.code, "unverified": basis.unverified}
    raise NotFound("period_not_found", key=key)


_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """1..999 in Chinese numerals as used in citations: 60 → 六十, 16 → 十六, 105 → 一百零五."""
    if not 0 < n < 1000:
        return str(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        out += _DIGITS[ones]
    return out


def citation(basis) -> str:
    """How a notice cites the basis: 《中华人民共和国消防法》第六十条第一款第三项."""
    text = f"《{basis.law}》第{zh_number(int(basis.article))}条"
    if basis.clause:
        text += f"第{zh_number(int(basis.clause))}款"
    if basis.item:
        text += f"第{zh_number(int(basis.item))}项"
    return text


def three_stop_measures(actor, venue_type: str | None = None) -> list[dict]:
    """The 三停 measures configured per venue type (server/data/three_stop_measures.json)."""
    authorize(actor, "reference.read")
    return measures_for_types([venue_type] if venue_type else list(VENUE_TYPES))


def measures_for_types(venue_types) -> list[dict]:
    doc = read_files()["three_stop"]
    out = []
    for venue_type in venue_types:
        set_name = doc["venue_types"].get(venue_type)
        if set_name is None:
            raise NotFound("three_stop_not_configured", venue_type=venue_type)
        spec = doc["sets"][set_name]
        out.append({"venue_type": venue_type, "set": set_name, "name": spec["name"], "issued_by": spec["issued_by"],
                    "measures": spec["measures"], "legal_basis_codes": spec.get("legal_basis_codes") or [],
                    "note": spec.get("note"), "version": str(doc["version"])})
    return out
