"""The cold-start path stays small (issue 5, docs/pwa.md "Cold start"). Checked by what the
first screen loads, never by timing."""
from __future__ import annotations

import pytest

from tests import factories
from tests.e2e import phone

pytestmark = pytest.mark.browser

LOADED_BEFORE_READY = """() => {
  const ready = performance.getEntriesByName('firesweep-ready')[0].startTime;
  const path = (u) => new URL(u, location.href).pathname;
  return {
    loaded: performance.getEntriesByType('resource').filter((e) => e.startTime < ready).map((e) => path(e.name)),
    preload: [...document.querySelectorAll('link[rel=modulepreload]')].map((l) => path(l.href)),
    stylesheets: document.querySelectorAll('link[rel=stylesheet]').length,
    text: document.getElementById('app').innerText,
    badge: document.getElementById('badge').textContent,
    nav: document.getElementById('nav-home').textContent,
  };
}"""


def test_home_first_screen_loads_only_the_preloaded_boot_graph(live_server, world, page):
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_worker(page)
    page.reload()  # a fresh document, served by the worker
    phone.wait_ready(page)
    got = page.evaluate(LOADED_BEFORE_READY)
    assert "今日任务" in got["text"] and got["badge"] not in ("", "…") and got["nav"] == "首页"
    scripts = {p for p in got["loaded"] if p.endswith(".js")}
    # every module the first screen needs is fetched at once by a modulepreload link ...
    assert scripts <= set(got["preload"]), scripts - set(got["preload"])
    # ... and what it does not need stays out of the boot graph
    assert not scripts & {"/js/api.js", "/js/sync.js", "/js/data.js"}, scripts
    assert got["stylesheets"] == 0  # the CSS is inline: no render-blocking request
    # sync still starts after the first screen
    page.wait_for_function("performance.getEntriesByType('resource').some((e) => e.name.endsWith('/js/sync.js'))")
