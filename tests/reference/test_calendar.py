"""Working days on the Chinese calendar: 春节 and 国庆 of several years, 调休 make-up days,
admin overrides for a year the package does not cover.

Expected dates come from the State Council's published schedules (国务院办公厅关于节假日安排的通知);
each is also checked against the chinese_calendar package so a wrong expectation is caught here.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import select

from server.models import AuditEvent
from server.services import calendar
from server.services.errors import Forbidden, NotFound, RuleViolation

FIRST_YEAR, LAST_YEAR = calendar.package_years()
UNCOVERED = LAST_YEAR + 1


def _covered(year):
    return FIRST_YEAR <= year <= LAST_YEAR


def _skip_unless_covered(*days):
    for d in days:
        if not _covered(d.year):
            pytest.skip(f"chinesecalendar {calendar.package_version()} has no schedule for {d.year}")


# Make-up working days (调休) that fall on a Saturday or Sunday.
MAKE_UP_DAYS = [
    date(2024, 2, 4), date(2024, 2, 18),     # 2024 春节
    date(2024, 9, 29), date(2024, 10, 12),   # 2024 国庆
    date(2025, 1, 26), date(2025, 2, 8),     # 2025 春节
    date(2025, 9, 28), date(2025, 10, 11),   # 2025 国庆（含中秋）
    date(2026, 2, 14), date(2026, 2, 28),    # 2026 春节
    date(2026, 9, 20), date(2026, 10, 10),   # 2026 国庆
]

# Weekdays that are public holidays.
HOLIDAY_WEEKDAYS = [
    date(2024, 2, 12), date(2024, 2, 16),    # 2024 春节 2月10日–17日
    date(2024, 10, 1), date(2024, 10, 7),    # 2024 国庆 10月1日–7日
    date(2025, 1, 28), date(2025, 2, 4),     # 2025 春节 1月28日–2月4日
    date(2025, 10, 1), date(2025, 10, 8),    # 2025 国庆 10月1日–8日
    date(2026, 2, 16), date(2026, 2, 23),    # 2026 春节 2月15日–23日
    date(2026, 10, 1), date(2026, 10, 7),    # 2026 国庆 10月1日–7日
]


@pytest.mark.parametrize("day", MAKE_UP_DAYS, ids=str)
def test_make_up_weekend_days_are_working_days(no_overrides, day):
    _skip_unless_covered(day)
    assert day.weekday() >= 5
    assert chinese_calendar.is_workday(day), "the expectation disagrees with the package"
    assert calendar.is_workday(day) is True


@pytest.mark.parametrize("day", HOLIDAY_WEEKDAYS, ids=str)
def test_holiday_weekdays_are_not_working_days(no_overrides, day):
    _skip_unless_covered(day)
    assert day.weekday() < 5
    assert not chinese_calendar.is_workday(day), "the expectation disagrees with the package"
    assert calendar.is_workday(day) is False


@pytest.mark.parametrize("start, n, expected", [
    # 2024 春节: Fri 9 Feb is a working day; 10–17 Feb off; Sun 18 Feb is a make-up day.
    (date(2024, 2, 9), 1, date(2024, 2, 18)),
    (date(2024, 2, 9), 2, date(2024, 2, 19)),
    # Thu 1 Feb + 2: Fri 2 Feb, then Sun 4 Feb (make-up), not Mon 5 Feb.
    (date(2024, 2, 1), 2, date(2024, 2, 4)),
    # 2024 国庆: Fri 27 Sep + 1 is the make-up Sunday 29 Sep; + 3 skips 1–7 Oct.
    (date(2024, 9, 27), 1, date(2024, 9, 29)),
    (date(2024, 9, 27), 3, date(2024, 10, 8)),
    # Through Sat 12 Oct 2024 (make-up): Thu 10 Oct + 2 = Sat 12 Oct.
    (date(2024, 10, 10), 2, date(2024, 10, 12)),
    # 2025 春节: Fri 24 Jan + 1 = Sun 26 Jan (make-up); + 3 = Wed 5 Feb; 3 days from 5 Feb
    # reach Sat 8 Feb (make-up).
    (date(2025, 1, 24), 1, date(2025, 1, 26)),
    (date(2025, 1, 24), 3, date(2025, 2, 5)),
    (date(2025, 2, 5), 3, date(2025, 2, 8)),
    # 2025 国庆: 1–8 Oct off; Tue 30 Sep + 1 = Thu 9 Oct; + 3 = Sat 11 Oct (make-up).
    (date(2025, 9, 30), 1, date(2025, 10, 9)),
    (date(2025, 9, 30), 3, date(2025, 10, 11)),
    # A typical 10-working-day deadline served just before 国庆 2025.
    (date(2025, 9, 26), 10, date(2025, 10, 16)),
    # 2026 春节: 15–23 Feb off, Sat 14 Feb and Sat 28 Feb worked.
    (date(2026, 2, 13), 1, date(2026, 2, 14)),
    (date(2026, 2, 13), 2, date(2026, 2, 24)),
    # 2026 国庆: 1–7 Oct off, Sat 10 Oct worked.
    (date(2026, 9, 30), 1, date(2026, 10, 8)),
    (date(2026, 9, 30), 3, date(2026, 10, 10)),
    # n = 0 is the day itself.
    (date(2025, 10, 3), 0, date(2025, 10, 3)),
], ids=lambda v: str(v))
def test_add_working_days_skips_holidays_and_counts_make_up_days(no_overrides, start, n, expected):
    _skip_unless_covered(start, expected)
    day, left = start, n
    while left:  # the expectation, recounted with the package alone
        day += timedelta(days=1)
        left -= chinese_calendar.is_workday(day)
    assert day == expected, "the expectation disagrees with the package"
    assert calendar.add_working_days(start, n) == expected


@pytest.mark.parametrize("a, b, expected", [
    (date(2024, 9, 30), date(2024, 10, 8), 1),    # only Tue 8 Oct
    (date(2024, 9, 27), date(2024, 10, 12), 7),   # 29 Sep, 30 Sep, 8–12 Oct
    (date(2025, 1, 24), date(2025, 2, 8), 6),     # 26 Jan, 27 Jan, 5–7 Feb, 8 Feb (make-up)
    (date(2026, 2, 13), date(2026, 2, 28), 6),    # 14 Feb, 24–27 Feb, 28 Feb
    (date(2025, 10, 3), date(2025, 10, 3), 0),
])
def test_working_days_between_counts_the_half_open_interval(no_overrides, a, b, expected):
    _skip_unless_covered(a, b)
    package = sum(chinese_calendar.is_workday(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))
    assert package == expected, "the expectation disagrees with the package"
    assert calendar.working_days_between(a, b) == expected


@pytest.mark.parametrize("a, b", [
    (date(2024, 2, 1), date(2024, 2, 29)),
    (date(2024, 9, 20), date(2024, 10, 20)),
    (date(2025, 1, 20), date(2025, 2, 15)),
    (date(2025, 9, 25), date(2025, 10, 15)),
    (date(2025, 12, 25), date(2026, 1, 10)),
])
def test_working_days_between_is_antisymmetric_and_inverts_add_working_days(no_overrides, a, b):
    forward = calendar.working_days_between(a, b)
    assert calendar.working_days_between(b, a) == -forward
    assert calendar.working_days_between(a, calendar.add_working_days(a, forward)) == forward
    last_workday = b
    while not calendar.is_workday(last_workday):
        last_workday -= timedelta(days=1)
    assert calendar.add_working_days(a, forward) == last_workday


def test_bad_arguments_are_refused(no_overrides):
    with pytest.raises(RuleViolation):
        calendar.add_working_days(date(2025, 1, 1), -1)
    with pytest.raises(TypeError):
        calendar.add_working_days(datetime(2025, 1, 1, 9, 0), 1)
    with pytest.raises(TypeError):
        calendar.is_workday("2025-01-01")


def test_the_package_raises_outside_its_years_and_we_fall_back_to_weekends(no_overrides):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(UNCOVERED, 1, 4))
    monday = date(UNCOVERED, 1, 4) + timedelta(days=(7 - date(UNCOVERED, 1, 4).weekday()) % 7)
    assert calendar.is_workday(monday) is True
    assert calendar.is_workday(monday + timedelta(days=5)) is False  # Saturday


def test_coverage_says_which_years_are_official(world):
    coverage = calendar.calendar_coverage()
    assert (coverage["official_from"], coverage["official_to"]) == (FIRST_YEAR, LAST_YEAR)
    assert coverage["admin_years"] == [] and coverage["fallback"] == "weekends_only"
    admin = world.users["admin"]
    assert calendar.year_calendar(admin, LAST_YEAR)["source"] == "official"
    assert calendar.year_calendar(admin, UNCOVERED)["source"] == "weekends_only"


def test_year_calendar_lists_holidays_and_make_up_days(world):
    _skip_unless_covered(date(2025, 1, 1))
    year = calendar.year_calendar(world.users["inspector_a"], 2025)
    holidays = {h["date"]: h["name"] for h in year["holidays"]}
    workdays = {w["date"]: w["name"] for w in year["workdays"]}
    assert holidays[date(2025, 1, 29)] == "春节"
    assert holidays[date(2025, 10, 1)] == "国庆节"
    assert date(2025, 1, 26) in workdays and date(2025, 10, 11) in workdays
    assert all(d.weekday() >= 5 for d in workdays)
    assert year["official"] is True


def test_an_override_for_an_uncovered_year_takes_effect_immediately(world):
    admin = world.users["admin"]
    new_year = date(UNCOVERED, 1, 1)
    while new_year.weekday() >= 5:  # pick a weekday near New Year that the fallback counts as work
        new_year += timedelta(days=1)
    before = calendar.add_working_days(new_year - timedelta(days=1), 1)
    assert before == new_year

    calendar.set_override(admin, day=new_year, is_workday=False, name="元旦")
    assert calendar.is_workday(new_year) is False
    assert calendar.add_working_days(new_year - timedelta(days=1), 1) > new_year

    sunday = new_year + timedelta(days=(6 - new_year.weekday()) % 7 or 7)
    assert calendar.is_workday(sunday) is False
    calendar.set_override(admin, day=sunday, is_workday=True, name="元旦调休")
    assert calendar.is_workday(sunday) is True

    year = calendar.year_calendar(admin, UNCOVERED)
    assert year["source"] == "override" and year["official"] is False
    assert [h["date"] for h in year["holidays"]] == [new_year]
    assert [w["date"] for w in year["workdays"]] == [sunday]
    assert calendar.calendar_coverage()["admin_years"] == [UNCOVERED]

    calendar.delete_override(admin, new_year)
    assert calendar.is_workday(new_year) is True


def test_an_override_wins_over_the_package(world):
    _skip_unless_covered(date(2025, 10, 9))
    admin = world.users["admin"]
    calendar.set_override(admin, day=date(2025, 10, 9), is_workday=False, name="台风停工")
    assert calendar.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 10)
    calendar.set_override(admin, day=date(2025, 10, 9), is_workday=True, name="恢复")
    assert calendar.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)


def test_overrides_are_admin_only_and_audited(world):
    from server.extensions import db

    for name in ("supervisor_a", "inspector_a", "owner_a"):
        with pytest.raises(Forbidden):
            calendar.set_override(world.users[name], day=date(UNCOVERED, 5, 1), is_workday=False)
    admin = world.users["admin"]
    calendar.set_override(admin, day=date(UNCOVERED, 5, 1), is_workday=False, name="劳动节")
    calendar.set_override(admin, day=date(UNCOVERED, 5, 1), is_workday=False, name="劳动节（更正）")
    calendar.delete_override(admin, date(UNCOVERED, 5, 1))
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity == "calendar_override")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["calendar.override.set", "calendar.override.set",
                                          "calendar.override.delete"]
    assert events[1].before["name"] == "劳动节" and events[1].after["name"] == "劳动节（更正）"
    assert all(e.user_id == admin.id for e in events)
    with pytest.raises(NotFound):
        calendar.delete_override(admin, date(UNCOVERED, 5, 1))


def test_every_covered_day_agrees_with_the_package(no_overrides):
    cal = calendar.WorkCalendar()
    day, last = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
    while day <= last:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_a_shared_calendar_reuses_answers_within_its_block_only(world):
    """A push batch computes the same deadline for hazard after hazard inside shared_calendar():
    the repeated answers equal a fresh calendar's, and the next block sees a new override."""
    admin = world.users["admin"]
    starts = [date(2026, 2, 13), date(2026, 9, 30), date(UNCOVERED, 1, 1)]
    with calendar.shared_calendar():
        shared = [calendar.add_working_days(s, n) for _ in range(3) for s in starts for n in (1, 3, 10)]
    fresh = [calendar.WorkCalendar().add_working_days(s, n) for _ in range(3) for s in starts for n in (1, 3, 10)]
    assert shared == fresh

    day_after = date(UNCOVERED, 1, 1) + timedelta(days=1)
    while not calendar.is_workday(day_after):
        day_after += timedelta(days=1)
    start = day_after - timedelta(days=1)
    with calendar.shared_calendar():
        assert calendar.add_working_days(start, 1) == day_after
    calendar.set_override(admin, day=day_after, is_workday=False, name="更正")
    with calendar.shared_calendar():
        assert calendar.add_working_days(start, 1) > day_after
        assert calendar.add_working_days(start, 1) > day_after
