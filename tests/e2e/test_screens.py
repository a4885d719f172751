"""Screens read as a person sees them: no placeholder text leaks, both languages render."""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser
LEAKS = re.compile(r"\b(null|undefined|NaN|\[object Object\])\b")


def test_login_and_home_show_no_placeholder_text(live_server, world, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/login")
    phone.wait_ready(page)
    assert not LEAKS.search(page.inner_text("body"))
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    page.wait_for_timeout(500)
    text = page.inner_text("body")
    assert "今日任务" in text
    assert not LEAKS.search(text), text
    # every tap target on the home screen is at least 44 px tall
    small = page.eval_on_selector_all(
        "button, a.btn, nav a", "els => els.filter(e => e.offsetParent && e.getBoundingClientRect().height < 44)"
        ".map(e => e.textContent.trim())")
    assert small == []
