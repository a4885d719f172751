"""The hazard form's deadline, on the phone's offline calendar: a year whose holidays the calendar
only guesses (no State Council schedule in the package, no admin's days) is said on the form."""
from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser


def refresh_reference(page) -> None:
    """What the phone does on every sync pass: fetch this year's and next year's calendar."""
    assert page.evaluate("import('/js/sync.js').then((m) => m.refreshReference())") is True


def test_a_deadline_in_a_year_without_its_holiday_schedule_says_it_only_skips_weekends(live_server, world, page):
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_worker(page)
    phone.wait_synced_reference(page, leases=False)
    phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-03", "fail")
    card = phone.item(page, "SF-03")
    days, shown, guessed = (card.locator("input[name=deadline_days]"), card.locator("p.deadline"),
                            card.locator("p.deadline-guessed"))

    # Late in a year no schedule covers: the calendar the phone holds is weekends-only for both
    # years the deadline touches, and the form says so next to the date.
    page.clock.set_fixed_time(datetime(2099, 12, 21, 10, 0))
    refresh_reference(page)
    days.fill("15")
    expect(shown).to_have_text("限 2100-01-11 前改正")
    expect(guessed).to_be_visible()
    expect(guessed).to_contain_text("2099、2100 年的法定节假日和调休尚未录入系统")

    # A year the package covers: the deadline skips the National Day holidays and counts the
    # make-up Sunday, and there is nothing to warn about.
    page.clock.set_fixed_time(datetime(2025, 9, 26, 10, 0))
    refresh_reference(page)
    days.fill("5")
    expect(shown).to_have_text("限 2025-10-10 前改正")
    expect(guessed).to_be_hidden()

    # A year the phone never fetched counts as guessed too; one it holds officially does not.
    assert page.evaluate("""import('/js/domain.js').then((d) => {
      const cal = d.normaliseCalendar({ year: 2026, source: 'official', official: true, holidays: [], workdays: [] },
                                      { year: 2028, source: 'override', official: false, holidays: [], workdays: [] });
      return [d.guessedYears('2026-12-20', '2027-01-10', cal), d.guessedYears('2026-03-01', '2026-03-20', cal),
              d.guessedYears('2028-12-20', '2029-01-10', cal)];
    })""") == [[2027], [], [2029]]
