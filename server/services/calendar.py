"""Working days on the Chinese calendar: public holidays and 调休 make-up workdays.

Precedence for a day: an admin's CalendarOverride, then the State Council schedule shipped in
the `chinese_calendar` package (chinesecalendar), then — for a year neither covers — plain
weekends. That last case is a guess, so `calendar_coverage()` and the API say which years are
official. Nothing is cached across calls: an override takes effect on the next call. Within one
call the overrides of each year touched are read once (`WorkCalendar`), and within a
`shared_calendar()` block (one sync push: one transaction) all calls share one `WorkCalendar`.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import metadata

from chinese_calendar import constants as cc_constants
from sqlalchemy import bindparam, select

from server.extensions import db
from server.models import CalendarOverride
from server.services import audit
from server.services.access import authorize
from server.services.errors import NotFound, RuleViolation

SOURCE_OFFICIAL = "official"        # the package has the State Council schedule for the year
SOURCE_OVERRIDE = "override"        # not in the package; an admin entered the year's days
SOURCE_WEEKENDS = "weekends_only"   # neither: Saturdays and Sundays off, holidays unknown
MAX_SPAN_DAYS = 366 * 20            # a deadline or span beyond this is a caller's mistake


@lru_cache(maxsize=1)
def package_years() -> tuple[int, int]:
    """First and last year whose official schedule the installed package carries.

    Cached: the package's tables are fixed for the life of the process (unlike overrides).
    """
    years = [d.year for d in cc_constants.holidays]
    return min(years), max(years)


def _package_is_workday(day: date) -> bool:
    # chinese_calendar.is_workday(day) does exactly this, after re-scanning its whole table for
    # the supported year range on every call (~10x slower); the range is checked by the caller.
    return day in cc_constants.workdays or (day.weekday() < 5 and day not in cc_constants.holidays)


def package_version() -> str:
    try:
        return metadata.version("chinesecalendar")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed with the app
        return "unknown"


def _plain_date(value) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}")
    return value


def _holiday_name(english: str) -> str:
    try:
        return cc_constants.Holiday(english).chinese
    except ValueError:
        return english


@lru_cache(maxsize=1)
def _overrides_query():
    """The overrides from `first` to `last`; built once (a push asks for each year it touches)."""
    return select(CalendarOverride).where(CalendarOverride.day >= bindparam("first"),
                                          CalendarOverride.day <= bindparam("last"))


class WorkCalendar:
    """One lookup session: the overrides of each year are read once and reused for this call.

    Build a new one per request or batch; do not keep one across requests.
    """

    def __init__(self):
        self._overrides: dict[int, dict[date, CalendarOverride]] = {}
        self._first, self._last = package_years()
        # add_working_days answers of this lookup session: a push batch asks for the same
        # (day found, default days) deadline for hazard after hazard.
        self._added: dict[tuple[date, int], date] = {}

    def overrides(self, year: int) -> dict[date, CalendarOverride]:
        if year not in self._overrides:
            rows = db.session.scalars(_overrides_query(), {"first": date(year, 1, 1), "last": date(year, 12, 31)})
            self._overrides[year] = {r.day: r for r in rows}
        return self._overrides[year]

    def official(self, year: int) -> bool:
        return self._first <= year <= self._last

    def source(self, year: int) -> str:
        if self.official(year):
            return SOURCE_OFFICIAL
        return SOURCE_OVERRIDE if self.overrides(year) else SOURCE_WEEKENDS

    def is_workday(self, day: date) -> bool:
        override = self.overrides(day.year).get(day)
        if override is not None:
            return override.is_workday
        if self.official(day.year):
            return _package_is_workday(day)
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        if n < 0:
            raise RuleViolation("calendar_negative_days", days=n)
        if n > MAX_SPAN_DAYS:
            raise RuleViolation("calendar_span_too_long", days=n)
        key = (start, n)
        day = self._added.get(key)
        if day is None:
            day = start
            while n:
                day += timedelta(days=1)
                if self.is_workday(day):
                    n -= 1
            self._added[key] = day
        return day

    def working_days_between(self, a: date, b: date) -> int:
        if b < a:
            return -self.working_days_between(b, a)
        if (b - a).days > MAX_SPAN_DAYS:
            raise RuleViolation("calendar_span_too_long", days=(b - a).days)
        count, day = 0, a
        while day < b:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


_shared: ContextVar[WorkCalendar | None] = ContextVar("shared_calendar", default=None)


@contextmanager
def shared_calendar():
    """One `WorkCalendar` for every call inside the block (a sync push computes a deadline per
    hazard; reading the year's overrides once per batch instead of once per hazard)."""
    token = _shared.set(WorkCalendar())
    try:
        yield
    finally:
        _shared.reset(token)


def _calendar() -> WorkCalendar:
    return _shared.get() or WorkCalendar()


def is_workday(day: date) -> bool:
    """True if `day` is a working day (make-up Saturdays/Sundays included)."""
    return _calendar().is_workday(_plain_date(day))


def add_working_days(day: date, n: int) -> date:
    """The date n working days after `day` (`day` itself not counted); n = 0 gives `day`."""
    return _calendar().add_working_days(_plain_date(day), n)


def working_days_between(a: date, b: date) -> int:
    """Working days in (a, b]; negative when b is before a, so swapping the dates flips the sign."""
    return _calendar().working_days_between(_plain_date(a), _plain_date(b))


def _all_covered(cal: WorkCalendar, a: date, b: date) -> bool:
    lo, hi = min(a, b).year, max(a, b).year
    return all(cal.source(y) != SOURCE_WEEKENDS for y in range(lo, hi + 1))


def deadline_view(actor, start: date, days: int) -> dict:
    """add_working_days for the API, saying whether every year crossed has a real schedule."""
    authorize(actor, "reference.read")
    cal = WorkCalendar()
    result = cal.add_working_days(_plain_date(start), days)
    return {"date": start, "days": days, "result": result, "official": _all_covered(cal, start, result)}


def between_view(actor, start: date, end: date) -> dict:
    """working_days_between for the API, with the same coverage flag."""
    authorize(actor, "reference.read")
    cal = WorkCalendar()
    count = cal.working_days_between(_plain_date(start), _plain_date(end))
    return {"start": start, "end": end, "working_days": count, "official": _all_covered(cal, start, end)}


def calendar_coverage() -> dict:
    """Which years are official (package), which an admin entered, and the fallback for the rest."""
    first, last = package_years()
    override_years = sorted({d.year for d in db.session.scalars(select(CalendarOverride.day))})
    return {
        "package": "chinesecalendar",
        "package_version": package_version(),
        "official_from": first,
        "official_to": last,
        "override_years": override_years,
        "admin_years": [y for y in override_years if not first <= y <= last],
        "fallback": SOURCE_WEEKENDS,
    }


def year_calendar(actor, year: int) -> dict:
    """Holidays and make-up workdays of a year, each with its source, and the year's coverage."""
    authorize(actor, "reference.read")
    if not 1949 < year < 2200:
        raise RuleViolation("calendar_bad_year", year=year)
    cal = WorkCalendar()
    holidays: dict[date, dict] = {}
    workdays: dict[date, dict] = {}
    if cal.official(year):
        for day, name in cc_constants.holidays.items():
            if day.year == year:
                holidays[day] = {"date": day, "name": _holiday_name(name), "source": "package"}
        for day, name in cc_constants.workdays.items():
            if day.year == year:
                workdays[day] = {"date": day, "name": _holiday_name(name), "source": "package"}
    for day, override in cal.overrides(year).items():
        holidays.pop(day, None)
        workdays.pop(day, None)
        entry = {"date": day, "name": override.name, "source": "override"}
        if override.is_workday:
            workdays[day] = entry
        else:
            holidays[day] = entry
    return {
        "year": year,
        "source": cal.source(year),
        "official": cal.official(year),
        "holidays": [holidays[d] for d in sorted(holidays)],
        "workdays": [workdays[d] for d in sorted(workdays)],
        "coverage": calendar_coverage(),
    }


def list_overrides(actor, year: int | None = None) -> list[CalendarOverride]:
    authorize(actor, "reference.read")
    stmt = select(CalendarOverride).order_by(CalendarOverride.day)
    if year is not None:
        stmt = stmt.where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
    return db.session.scalars(stmt).all()


def set_override(actor, *, day: date, is_workday: bool, name: str = "") -> CalendarOverride:
    """Mark a day as a holiday or a working day (admin); replaces an earlier override of that day."""
    authorize(actor, "reference.manage")
    day = _plain_date(day)
    row = db.session.get(CalendarOverride, day)
    before = audit.snapshot(row) if row is not None else None
    if row is None:
        row = CalendarOverride(day=day)
        db.session.add(row)
    row.is_workday = bool(is_workday)
    row.name = (name or "").strip()
    row.created_by_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record(actor, "calendar.override.set", "calendar_override", day.isoformat(),
                 before=before, after=audit.snapshot(row))
    db.session.commit()
    return row


def delete_override(actor, day: date) -> None:
    """Remove an override (admin); the day falls back to the package or to weekends."""
    authorize(actor, "reference.manage")
    day = _plain_date(day)
    row = db.session.get(CalendarOverride, day)
    if row is None:
        raise NotFound("calendar_override_not_found", day=day.isoformat())
    audit.record(actor, "calendar.override.delete", "calendar_override", day.isoformat(),
                 before=audit.snapshot(row))
    db.session.delete(row)
    db.session.commit()
