"""Official document numbers: allocation, number blocks (leases) for offline issue, the register.

A number reads `<agency short name><kind word>字〔<year>〕第NNNN号` (北仑消限字〔2026〕第0001号),
counted per agency, kind and year, with no gaps and no duplicates.

How "no gaps, no duplicates" holds with many app processes on one PostgreSQL:
- the next serial lives in one `number_counters` row per (agency, kind, year);
- `take_serials` bumps it with `UPDATE … RETURNING` *inside the caller's transaction*. The row
  lock is held until that transaction ends, so concurrent issuers queue on it, and a rolled-back
  issue rolls the counter back too — a number is consumed only by a committed issue;
- a block leased to a phone is taken from the same counter; a leased serial that is never used
  is voided with a reason when the lease is returned (VoidedNumber) and never handed out again.
So every serial below the counter is exactly one of: issued (a document), voided, or leased
and not yet used. The register shows each one's fate.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, select, text, update

from server.extensions import db
from server.models import Document, NumberCounter, NumberLease, VoidedNumber
from server.models.base import utcnow
from server.services import audit
from server.services.access import ADMIN, SUPERVISOR, authorize
from server.services.errors import Forbidden, NotFound, RuleViolation

CHINA = ZoneInfo("Asia/Shanghai")
MAX_LEASE = 20  # serials one device may hold unused per kind and year


def local_today(now: datetime | None = None) -> date:
    """Today's date in China (documents are dated in local time, whatever the server's zone)."""
    return (now or utcnow()).astimezone(CHINA).date()


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def agency_short_name() -> str:
    return current_app.config["AGENCY_SHORT_NAME"]


def format_number(short_name: str, kind_word: str, year: int, serial: int) -> str:
    """北仑消 + 限 + 2026 + 1 → 北仑消限字〔2026〕第0001号."""
    return f"{short_name}{kind_word}字〔{year}〕第{serial:04d}号"


def number_for(kind: str, year: int, serial: int, agency: str | None = None) -> str:
    from server.services.documents import kind_spec

    return format_number(agency or agency_short_name(), kind_spec(kind)["kind_word"], year, serial)


def take_serials(agency: str, kind: str, year: int, count: int = 1) -> int:
    """Reserve `count` consecutive serials in the current transaction; returns the first.

    Must run inside the transaction that uses the serials: the counter row stays locked until
    it commits, and a rollback gives the serials back.
    """
    params = {"a": agency, "k": kind, "y": year, "n": count}
    # Create the counter row if this is the year's first number; a concurrent creator makes
    # this wait for its commit and then do nothing (ON CONFLICT DO NOTHING, PostgreSQL and SQLite).
    db.session.execute(text(
        "INSERT INTO number_counters (agency, kind, year, next_serial) VALUES (:a, :k, :y, 1) "
        "ON CONFLICT DO NOTHING"), params)
    next_serial = db.session.execute(text(
        "UPDATE number_counters SET next_serial = next_serial + :n "
        "WHERE agency = :a AND kind = :k AND year = :y RETURNING next_serial"), params).scalar_one()
    return next_serial - count


def _check_kind(kind: str) -> dict:
    from server.services.documents import kind_spec

    spec = kind_spec(kind)
    if not spec.get("numbered", True):
        raise RuleViolation("number_kind_unnumbered", kind=kind)
    return spec


def _used_serials(agency: str, kind: str, year: int, low: int, high: int) -> set[int]:
    rows = db.session.scalars(select(Document.serial).where(
        Document.agency == agency, Document.kind == kind, Document.year == year,
        Document.serial.between(low, high)))
    return set(rows)


def _voided_serials(agency: str, kind: str, year: int, low: int, high: int) -> set[int]:
    rows = db.session.scalars(select(VoidedNumber.serial).where(
        VoidedNumber.agency == agency, VoidedNumber.kind == kind, VoidedNumber.year == year,
        VoidedNumber.serial.between(low, high)))
    return set(rows)


def unused_serials(lease: NumberLease) -> list[int]:
    taken = (_used_serials(lease.agency, lease.kind, lease.year, lease.first_serial, lease.last_serial)
             | _voided_serials(lease.agency, lease.kind, lease.year, lease.first_serial, lease.last_serial))
    return [s for s in range(lease.first_serial, lease.last_serial + 1) if s not in taken]


def lease_numbers(actor, *, kind: str, count: int, device_id: str, year: int | None = None,
                  today: date | None = None) -> NumberLease:
    """Lease the next `count` (1–20) serials of `kind` and `year` to one phone for issuing
    without signal. The year is this year (in China); from December 1 it may be the next one,
    so a phone that is offline on the first days of January still holds numbers of the new
    year (a notice is numbered in the year it is issued: `claim_leased`)."""
    authorize(actor, "number.lease")
    spec = _check_kind(kind)
    if actor.role not in spec["issue_roles"]:
        raise Forbidden("document_kind_forbidden", kind=kind)
    if not 1 <= int(count) <= MAX_LEASE:
        raise RuleViolation("number_lease_count", max=MAX_LEASE)
    device_id = (device_id or "").strip()
    if not device_id or len(device_id) > 64:
        raise RuleViolation("number_device_required")
    agency = agency_short_name()
    today = today or local_today()
    if year is None:
        year = today.year
    elif not (year == today.year or (year == today.year + 1 and today.month == 12)):
        raise RuleViolation("number_lease_year", year=year, current=today.year)
    open_leases = db.session.scalars(select(NumberLease).where(
        NumberLease.device_id == device_id, NumberLease.agency == agency, NumberLease.kind == kind,
        NumberLease.year == year, NumberLease.closed_at.is_(None)))
    held = sum(len(unused_serials(lz)) for lz in open_leases)
    if held + count > MAX_LEASE:
        raise RuleViolation("number_lease_limit", max=MAX_LEASE, held=held)
    first = take_serials(agency, kind, year, count)
    lease = NumberLease(id=str(uuid.uuid4()), agency=agency, kind=kind, year=year,
                        first_serial=first, last_serial=first + count - 1,
                        device_id=device_id, user_id=actor.id)
    db.session.add(lease)
    db.session.flush()
    audit.record(actor, "number.lease", "number_lease", lease.id, after=audit.snapshot(lease))
    db.session.commit()
    return lease


def get_lease(actor, lease_id: str) -> NumberLease:
    lease = db.session.get(NumberLease, lease_id)
    if lease is None:
        raise NotFound("number_lease_not_found")
    if lease.user_id != actor.id and actor.role not in (SUPERVISOR, ADMIN):
        raise Forbidden("number_lease_not_yours")
    return lease


def return_lease(actor, lease_id: str, *, reason: str | None = None) -> tuple[NumberLease, list[int]]:
    """Close a lease: every serial not used by an issued document is voided with the reason."""
    if actor.role != ADMIN:
        authorize(actor, "number.lease")
    lease = get_lease(actor, lease_id)
    # Close it first, and only if it is still open. Write requests already run one after the
    # other (server/database.py), so a second return of the lease (two top-ups of one phone at
    # once) and an offline issue on it (`claim_leased`, in a sync push) see this one's commit;
    # the conditional UPDATE keeps a second return a clean `number_lease_closed` for any other
    # caller too, instead of voiding the same serials twice and failing on the key.
    closed = db.session.execute(
        update(NumberLease).where(NumberLease.id == lease.id, NumberLease.closed_at.is_(None))
        .values(closed_at=utcnow()).execution_options(synchronize_session=False))
    if closed.rowcount != 1:
        raise RuleViolation("number_lease_closed")
    db.session.refresh(lease)
    reason = (reason or "").strip() or "号段退回，未使用"
    voided = unused_serials(lease)
    for serial in voided:
        db.session.add(VoidedNumber(agency=lease.agency, kind=lease.kind, year=lease.year,
                                    serial=serial, reason=reason, lease_id=lease.id,
                                    voided_by_id=actor.id))
    audit.record(actor, "number.lease_return", "number_lease", lease.id,
                 after={"voided": voided, "reason": reason})
    db.session.commit()
    return lease, voided


def claim_leased(*, kind: str, serial: int, lease_id: str, device_id: str | None, year: int) -> NumberLease:
    """Check that an offline-issued serial belongs to THIS device's open lease of the year the
    document is issued in, and is unused. A lease of last year is refused after New Year: the
    number would carry the wrong year (〔2026〕 on a notice dated 2027), and last year's
    unused serials are voided when the phone returns the lease.

    Runs inside the issuing transaction; the documents' unique (agency, kind, year, serial)
    constraint is the last word if two replays race.
    """
    lease = db.session.get(NumberLease, lease_id) if lease_id else None
    if lease is None:
        raise RuleViolation("number_lease_not_found")
    if not device_id or lease.device_id != device_id:
        raise RuleViolation("number_lease_wrong_device")
    if lease.kind != kind or lease.agency != agency_short_name():
        raise RuleViolation("number_lease_kind_mismatch")
    if lease.year != year:
        raise RuleViolation("number_lease_other_year", lease_year=lease.year, year=year)
    if not lease.first_serial <= int(serial) <= lease.last_serial:
        raise RuleViolation("number_serial_outside_lease", serial=serial)
    if _voided_serials(lease.agency, kind, lease.year, serial, serial):
        raise RuleViolation("number_serial_voided", serial=serial)
    if _used_serials(lease.agency, kind, lease.year, serial, serial):
        raise RuleViolation("number_serial_used", serial=serial)
    if lease.closed_at is not None:
        raise RuleViolation("number_lease_closed")
    return lease


def register(actor, *, kind: str, year: int) -> dict:
    """Every serial of a kind and year with its fate: issued, voided, leased (unused) or free."""
    authorize(actor, "number.register")
    spec = _check_kind(kind)
    agency = agency_short_name()
    counter = db.session.get(NumberCounter, (agency, kind, year))
    next_serial = counter.next_serial if counter else 1
    docs = {d.serial: d for d in db.session.scalars(select(Document).where(
        Document.agency == agency, Document.kind == kind, Document.year == year,
        Document.serial.is_not(None)))}
    voided = {v.serial: v for v in db.session.scalars(select(VoidedNumber).where(
        VoidedNumber.agency == agency, VoidedNumber.kind == kind, VoidedNumber.year == year))}
    leased: dict[int, NumberLease] = {}
    for lz in db.session.scalars(select(NumberLease).where(and_(
            NumberLease.agency == agency, NumberLease.kind == kind, NumberLease.year == year))):
        for serial in range(lz.first_serial, lz.last_serial + 1):
            leased[serial] = lz
    items = []
    for serial in range(1, next_serial + 1):
        row = {"serial": serial,
               "number": format_number(agency, spec["kind_word"], year, serial),
               "document_id": None, "document_state": None, "reason": None,
               "lease_id": None, "device_id": None}
        lz = leased.get(serial)
        if lz is not None:
            row["lease_id"], row["device_id"] = lz.id, lz.device_id
        if serial in docs:
            row.update(fate="issued", document_id=docs[serial].id, document_state=docs[serial].state)
        elif serial in voided:
            row.update(fate="voided", reason=voided[serial].reason)
        elif lz is not None and lz.closed_at is None:
            row["fate"] = "leased"
        elif serial == next_serial:
            row["fate"] = "free"  # the next number to be handed out
        else:
            row["fate"] = "missing"  # never happens unless rows were removed behind our back
        items.append(row)
    counts = {f: sum(1 for r in items if r["fate"] == f)
              for f in ("issued", "voided", "leased", "free", "missing")}
    return {"agency": agency, "kind": kind, "year": year, "next_serial": next_serial,
            "counts": counts, "items": items}
