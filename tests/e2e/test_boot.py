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


# Watches <head> from before the shell is parsed: for each head link the app adds, was the
# firesweep-ready mark already set when it appeared? (A MutationObserver callback runs at the
# end of the task that made the change, so a link parsed with the shell or added during boot is
# seen before the mark, one added after the first screen after it.)
HEAD_WATCH = """
window.__headLinks = [];
new MutationObserver((records) => {
  const ready = performance.getEntriesByName('firesweep-ready').length > 0;
  for (const r of records) {
    const nodes = r.type === 'attributes' ? [r.target] : [...r.addedNodes];
    for (const n of nodes) {
      if (n.nodeName === 'LINK' && ['manifest', 'icon', 'apple-touch-icon'].includes(n.rel)) {
        window.__headLinks.push({ rel: n.rel, href: n.getAttribute('href'), ready });
      }
    }
  }
}).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['href'] });
"""


def test_manifest_and_icons_are_linked_after_the_first_screen(live_server, world, page):
    phone.login(page, live_server.url, "inspector_a", factories.PASSWORD)
    phone.wait_worker(page)
    page.add_init_script(HEAD_WATCH)
    page.reload()  # a fresh document, served by the worker
    phone.wait_ready(page)
    page.wait_for_function("document.querySelector('link[rel=manifest]') !== null")
    seen = page.evaluate("window.__headLinks")
    real = [s for s in seen if not s["href"].startswith("data:")]
    # while the first screen is built the only icon is the data: placeholder (no /favicon.ico
    # request, no fetch + decode of the PNG), and there is no manifest to fetch and parse ...
    assert [s["rel"] for s in seen if s["href"].startswith("data:")] == ["icon"]
    assert real and all(s["ready"] for s in real), seen
    # ... afterwards the page links all three, as an installable app needs
    got = page.evaluate("""() => Object.fromEntries(['manifest', 'icon', 'apple-touch-icon'].map((rel) =>
      [rel, [...document.querySelectorAll(`link[rel="${rel}"]`)].map((l) => new URL(l.href).pathname)]))""")
    assert got == {"manifest": ["/manifest.webmanifest"], "icon": ["/icons/icon-192.png"],
                   "apple-touch-icon": ["/icons/icon-192.png"]}
    assert page.evaluate("document.querySelector('link[rel=icon]').type") == "image/png"
