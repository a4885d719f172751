"""What an inspector does with the phone, as small steps the e2e tests compose.

Queries of the phone's own state go through the app's own modules (`/js/store.js`), imported
in the page, so the tests read IndexedDB exactly as the app does.
"""
from __future__ import annotations

import base64
import hashlib

from playwright.sync_api import BrowserContext, Page, expect

from tests import factories

STORE = "const s = await import('/js/store.js');"


def wait_ready(page: Page) -> None:
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=20000)


def login(page: Page, base: str, username: str, password: str) -> None:
    if "/login" not in page.url:
        page.goto(base + "/login")
    wait_ready(page)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_function("location.pathname === '/'", timeout=20000)


def wait_worker(page: Page) -> None:
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=20000)


def wait_until(page: Page, js_body: str, timeout=30000) -> None:
    """Poll an async JS body (with `s` = the store module) until it returns true."""
    page.evaluate(f"""(async () => {{
      {STORE}
      const until = Date.now() + {timeout};
      while (Date.now() < until) {{
        if (await (async () => {{ {js_body} }})()) return true;
        await new Promise((r) => setTimeout(r, 200));
      }}
      throw new Error('timed out waiting for: ' + {js_body!r});
    }})()""")


def evaluate(page: Page, js_body: str):
    return page.evaluate(f"(async () => {{ {STORE} {js_body} }})()")


def wait_synced_reference(page: Page, leases=True) -> None:
    """The phone holds the register, the checklists and (optionally) leased numbers."""
    cond = "(await s.count('venues')) > 0 && !!(await s.getMeta('checklists'))"
    if leases:
        cond += " && (await s.getMeta('leases', [])).length >= 2"
    wait_until(page, f"return {cond};")


def outbox(page: Page) -> list:
    return evaluate(page, "return await s.all('outbox');")


def outbox_count(page: Page) -> int:
    return evaluate(page, "return await s.count('outbox');")


def wait_outbox_empty(page: Page, timeout=60000) -> None:
    wait_until(page, "return (await s.count('outbox')) === 0;", timeout=timeout)


def phone_blobs(page: Page) -> dict[str, bytes]:
    """Every blob the phone holds, keyed by the hash it was saved under."""
    rows = evaluate(page, """
      const rows = await s.all('blobs');
      const out = {};
      for (const r of rows) {
        const buf = new Uint8Array(await r.blob.arrayBuffer());
        let bin = ''; for (const b of buf) bin += String.fromCharCode(b);
        out[r.hash] = btoa(bin);
      }
      return out;""")
    return {k: base64.b64decode(v) for k, v in rows.items()}


def cut_network(context: BrowserContext) -> None:
    """No signal: the context is offline AND every request (service worker's included) aborts."""
    context.set_offline(True)
    context.route("**/*", lambda route: route.abort("internetdisconnected"))


def restore_network(context: BrowserContext) -> None:
    context.unroute("**/*")
    context.set_offline(False)


def go(page: Page, path: str) -> None:
    """Client-side navigation (a tap on an in-app link)."""
    page.evaluate("async (p) => { const m = await import('/js/main.js'); await m.navigate(p); }", path)


def sign(page: Page, selector: str) -> None:
    canvas = page.locator(selector)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x + i * 18, y + (12 if i % 2 else -12))
    page.mouse.up()


def start_inspection(page: Page, venue_name: str, second_inspector_id: int) -> str:
    go(page, "/venues")
    page.fill("#venue-q", venue_name)
    page.locator("#venue-results a").first.click()
    page.get_by_role("link", name="检查此场所").click()
    page.select_option("#second-inspector", str(second_inspector_id))
    expect(page.locator("#gps")).to_contain_text("精度", timeout=10000)
    page.get_by_role("button", name="开始检查").click()
    page.wait_for_function(r"/^\/inspections\/[0-9a-f-]{36}$/.test(location.pathname)")
    expect(page.locator("li.item-card").first).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def item(page: Page, code: str):
    return page.locator(f"li.item-card[data-code='{code}']")


def set_result(page: Page, code: str, result: str) -> None:
    item(page, code).locator(f"button[data-result={result}]").click()
    expect(item(page, code)).to_have_class(f"card item-card {result}", timeout=10000)


def add_photo(page: Page, code: str, path: str) -> None:
    before = item(page, code).locator("img.thumb").count()
    item(page, code).locator("input.photo-input").set_input_files(path)
    expect(item(page, code).locator("img.thumb")).to_have_count(before + 1, timeout=15000)


def record_hazard(page: Page, code: str, location: str) -> None:
    card = item(page, code)
    card.locator("input[name=location]").fill(location)
    card.locator("button.save-hazard").click()
    expect(item(page, code).locator("p.ok")).to_be_visible(timeout=10000)


def ready(page: Page, base: str, username: str = "inspector_a") -> None:
    """Logged in, the worker active, the register, checklists and numbers on the phone."""
    login(page, base, username, factories.PASSWORD)
    wait_worker(page)
    wait_synced_reference(page)


def inspection_with_hazard(page: Page, world: dict) -> str:
    """An inspection of world's venue with the second inspector, SF-03 failed into a hazard;
    returns its id."""
    inspection_id = start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    set_result(page, "SF-03", "fail")
    record_hazard(page, "SF-03", "一楼仓库门口")
    return inspection_id


def finish(page: Page, owner_name: str, inspector_ids) -> None:
    page.fill("input[name=owner_signer_name]", owner_name)
    sign(page, "canvas[data-sig=owner]")
    for uid in inspector_ids:
        sign(page, f"canvas[data-sig='inspector:{uid}']")
    page.locator("button.finish").click()
    expect(page.locator("#progress")).to_contain_text("已完成", timeout=10000)


def issue_notice(page: Page, inspection_id: str) -> tuple[str, str]:
    go(page, f"/inspections/{inspection_id}/notice")
    expect(page.locator("#notice-preview")).to_be_visible()
    page.locator("button.issue").click()
    page.wait_for_url("**/notice?doc=*")
    number = page.locator("#doc-number").inner_text()
    doc_id = page.url.split("doc=")[1]
    page.fill("input[name=recipient_name]", "王五")
    sign(page, "canvas[data-sig=recipient]")
    page.get_by_role("button", name="签收").click()
    expect(page.locator("#receipt-done")).to_be_visible(timeout=10000)
    return number, doc_id


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
