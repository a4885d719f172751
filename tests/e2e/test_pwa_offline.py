"""The inspector's PWA in Debian's Chromium against the real server (issue 5).

"No signal" always means both: the browser context is offline AND every request, the service
worker's included, is aborted; the server's request counter proves nothing got through.
"""
from __future__ import annotations

import random
import re
import shutil

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from server.extensions import db
from tests import factories
from tests.e2e import phone
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PASSWORD = factories.PASSWORD
# Items of the real storefront checklist (server/data/checklists/storefront.json).
FAILS = [("SF-03", "一楼仓库门口"), ("SF-06", "二楼走道"), ("SF-04", "后厨配电箱")]  # 2 deadline, 1 immediate
PASSED_WITH_PHOTO = "SF-07"


def launch_phone(browser_type, browser_context_args, profile_dir):
    """A phone with a persistent profile (IndexedDB, worker and caches survive a restart)."""
    ctx = browser_type.launch_persistent_context(str(profile_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                 headless=True, **browser_context_args)
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    return ctx, page


def online_and_ready(page, live_server, username="inspector_a"):
    phone.login(page, live_server.url, username, PASSWORD)
    phone.wait_worker(page)
    phone.wait_synced_reference(page)


def server_rows(live_server, model, **where):
    with live_server.app.app_context():
        stmt = select(model).filter_by(**where)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def do_inspection(page, world, photos):
    """Start an inspection, fail three items (a photo each) into hazards, pass one with a photo."""
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    for (code, location), path in zip(FAILS, photos):
        phone.set_result(page, code, "fail")
        phone.add_photo(page, code, path)
        phone.record_hazard(page, code, location)
    phone.set_result(page, PASSED_WITH_PHOTO, "pass")
    phone.add_photo(page, PASSED_WITH_PHOTO, photos[3])
    return inspection_id


def test_whole_inspection_offline_survives_reload_and_restart_then_server_holds_exactly_it(
        live_server, world, browser_type, browser_context_args, tmp_path, photo_files):
    from server.models import Blob, Document, Hazard, Inspection, ItemResult, ServiceRecord

    profile = tmp_path / "profile"
    ctx, page = launch_phone(browser_type, browser_context_args, profile)
    online_and_ready(page, live_server)

    phone.cut_network(ctx)
    reached_before = live_server.counter.count()
    inspection_id = do_inspection(page, world, photo_files(4))
    ids = world["users"]
    phone.finish(page, "王五", [ids["inspector_a"], ids["inspector_a2"]])
    number, doc_id = phone.issue_notice(page, inspection_id)
    assert re.fullmatch(r".+字〔\d{4}〕第\d{4}号", number)
    queued = phone.outbox(page)
    # inspection create + finish, 4 item results, 3 hazards, the notice, its receipt
    assert sorted((m["entity"], m["op"]) for m in queued) == sorted(
        [("inspection", "create"), ("inspection", "finish"), ("document", "issue"), ("service_record", "create")]
        + [("item_result", "create")] * 4 + [("hazard", "create")] * 3)
    blobs = phone.phone_blobs(page)
    photo_hashes = {h for m in queued if m["entity"] == "item_result" for h in m["fields"]["photo_hashes"]}
    assert len(photo_hashes) == 4 and photo_hashes <= set(blobs)

    page.reload()
    phone.wait_ready(page)
    expect(page.locator("#doc-number")).to_have_text(number)
    assert phone.outbox_count(page) == len(queued)

    ctx.close()
    ctx, page = launch_phone(browser_type, browser_context_args, profile)
    phone.cut_network(ctx)
    page.goto(f"{live_server.url}/inspections/{inspection_id}/notice?doc={doc_id}")
    phone.wait_ready(page)
    expect(page.locator("#doc-number")).to_have_text(number)
    expect(page.locator("#receipt-done")).to_be_visible()
    assert [m["mutation_id"] for m in phone.outbox(page)] == [m["mutation_id"] for m in queued]
    assert live_server.counter.since(reached_before) == [], "a request reached the server while offline"

    phone.restore_network(ctx)
    page.goto(live_server.url + "/sync")
    phone.wait_ready(page)
    page.wait_for_function("document.body.dataset.session")  # the background session check has answered
    if page.locator("#session-banner").is_visible():  # the browser restart ended the session cookie
        phone.login(page, live_server.url, "inspector_a", PASSWORD)
    phone.wait_outbox_empty(page, timeout=120000)
    assert phone.evaluate(page, "return (await s.all('attention')).length;") == 0

    [insp] = server_rows(live_server, Inspection, id=inspection_id)
    assert insp.status == "finished" and insp.owner_signer_name == "王五"
    assert {int(k) for k in insp.inspector_signatures} == {ids["inspector_a"], ids["inspector_a2"]}
    hazards = server_rows(live_server, Hazard, inspection_id=inspection_id)
    assert sorted(h.location for h in hazards) == sorted(loc for _, loc in FAILS)
    results = server_rows(live_server, ItemResult, inspection_id=inspection_id)
    assert sorted((r.item_code, r.result) for r in results) == sorted(
        [(c, "fail") for c, _ in FAILS] + [(PASSED_WITH_PHOTO, "pass")])
    assert {h for r in results for h in r.photo_hashes} == photo_hashes
    # Byte-identical: each photo is named by the SHA-256 of the phone's bytes, and the server
    # re-hashed the upload and refuses a mismatch, so it received exactly those bytes.
    for digest in photo_hashes:
        assert phone.sha256(blobs[digest]) == digest
        assert server_rows(live_server, Blob, sha256=digest), digest
    [doc] = server_rows(live_server, Document, id=doc_id)
    assert doc.number == number and doc.state in ("issued", "served")
    assert len(server_rows(live_server, ServiceRecord, document_id=doc_id)) == 1
    assert phone.outbox_count(page) == 0
    ctx.close()


def test_lost_push_response_is_retried_without_duplicates(live_server, world, page, photo_files):
    from server.models import Hazard, Inspection, ItemResult

    online_and_ready(page, live_server)
    pushes = []

    def lose_first_answer(route):
        pushes.append(route.request.post_data_json["mutations"])
        response = route.fetch()  # the server commits the batch…
        if len(pushes) == 1:
            route.abort("connectionreset")  # …and the answer never reaches the phone
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/sync/push", lose_first_answer)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-03", "fail")
    phone.add_photo(page, "SF-03", photo_files(1)[0])
    phone.record_hazard(page, "SF-03", "楼梯间")
    phone.wait_outbox_empty(page, timeout=60000)

    sent = [m["mutation_id"] for batch in pushes for m in batch]
    assert len(pushes) >= 2 and len(sent) > len(set(sent)), "the lost batch was not resent"
    assert len(server_rows(live_server, Inspection, id=inspection_id)) == 1
    assert len(server_rows(live_server, ItemResult, inspection_id=inspection_id)) == 1
    assert len(server_rows(live_server, Hazard, inspection_id=inspection_id)) == 1
    assert phone.evaluate(page, "return (await s.all('attention')).length;") == 0


def test_reload_in_the_middle_of_a_save_keeps_record_and_outbox_together(
        live_server, world, page, photo_files):
    online_and_ready(page, live_server)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.cut_network(page.context)
    rng = random.Random(5)
    codes = ["SF-03", "SF-05", "SF-06", "SF-07", "SF-08", "SF-11", "SF-12", "SF-04"]
    photos = photo_files(len(codes), start=20)
    for code, path in zip(codes, photos):
        page.goto(f"{live_server.url}/inspections/{inspection_id}")
        phone.wait_ready(page)
        phone.set_result(page, code, rng.choice(["pass", "fail"]))
        # a photo save is the longest transaction: cut it at a random point
        page.locator(f"li.item-card[data-code='{code}'] input.photo-input").set_input_files(path)
        page.wait_for_timeout(rng.randint(0, 120))
        page.reload()
        phone.wait_ready(page)
        broken = phone.evaluate(page, """
          const recs = await s.byIndex('item_results', 'inspection_id', %r);
          const box = await s.all('outbox');
          const blobs = new Set((await s.all('blobs')).map((b) => b.hash));
          const byId = new Map();
          for (const m of box) byId.set(m.entity_id, [...(byId.get(m.entity_id) || []), m]);
          const out = [];
          for (const r of recs) {
            const ms = byId.get(r.id) || [];
            if (!ms.length) out.push(['record without mutation', r.item_code]);
            const queuedPhotos = new Set(ms.flatMap((m) => m.fields.photo_hashes || []));
            for (const hsh of r.photo_hashes || []) {
              if (!queuedPhotos.has(hsh)) out.push(['photo not queued', r.item_code]);
              if (!blobs.has(hsh)) out.push(['photo blob missing', r.item_code]);
            }
          }
          for (const m of box) {
            if (m.entity !== 'item_result') continue;
            if (!recs.some((r) => r.id === m.entity_id)) out.push(['mutation without record', m.entity_id]);
            for (const hsh of m.blob_hashes) if (!blobs.has(hsh)) out.push(['mutation names a missing blob', hsh]);
          }
          return out;""" % inspection_id)
        assert broken == [], (code, broken)


def test_worker_update_waits_for_consent_and_the_queue_survives(live_server, world, page, tmp_path):
    copy = tmp_path / "pwa"
    shutil.copytree(live_server.app.config.get("PWA_DIR") or "pwa", copy)
    live_server.app.config["PWA_DIR"] = str(copy)
    try:
        online_and_ready(page, live_server)
        version = lambda: page.evaluate("""() => new Promise((res) => {
            const ch = new MessageChannel(); ch.port1.onmessage = (e) => res(e.data);
            navigator.serviceWorker.controller.postMessage({type: 'version'}, [ch.port2]); })""")
        old = version()
        phone.cut_network(page.context)
        phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
        phone.set_result(page, "SF-05", "pass")
        queued = [m["mutation_id"] for m in phone.outbox(page)]
        assert queued

        worker = copy / "service-worker.js"
        worker.write_text(worker.read_text(encoding="utf-8").replace(f"'{old}'", "'e2e-next'"), encoding="utf-8")
        page.route("**/api/v1/sync/push", lambda route: route.abort("connectionreset"))  # sync cannot get through
        phone.restore_network(page.context)
        page.evaluate("window.__fsRegistration.update()")
        expect(page.locator("#update-banner")).to_contain_text("新版本可用", timeout=20000)
        assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.waiting !== null)")
        assert version() == old, "the new worker took over without asking"
        assert [m["mutation_id"] for m in phone.outbox(page)] == queued

        with page.expect_navigation():
            page.click("#update-reload")
        phone.wait_ready(page)
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        assert version() == "e2e-next"
        assert [m["mutation_id"] for m in phone.outbox(page)] == queued
        names = page.evaluate("caches.keys()")
        assert names == ["firesweep-shell-e2e-next"]
        page.unroute("**/api/v1/sync/push")
        page.evaluate("import('/js/sync.js').then((s) => s.syncNow('test'))")
        phone.wait_outbox_empty(page)
    finally:
        live_server.app.config.pop("PWA_DIR", None)


def test_expired_session_pauses_the_queue_and_another_user_never_sends_it(live_server, world, page):
    from server.models import Inspection, User

    online_and_ready(page, live_server)
    phone.cut_network(page.context)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-05", "pass")
    queued = [m["mutation_id"] for m in phone.outbox(page)]
    with live_server.app.app_context():  # the session ends on the server (expiry / password change)
        user = db.session.get(User, world["users"]["inspector_a"])
        user.session_epoch += 1
        db.session.commit()
    phone.restore_network(page.context)
    page.evaluate("import('/js/sync.js').then((s) => s.syncNow('test'))")
    expect(page.locator("#session-banner")).to_be_visible(timeout=20000)
    assert [m["mutation_id"] for m in phone.outbox(page)] == queued

    pushes = []
    page.on("request", lambda r: pushes.append(r.post_data_json) if r.url.endswith("/sync/push") else None)
    page.goto(live_server.url + "/login")
    phone.login(page, live_server.url, "inspector_b", PASSWORD)
    page.evaluate("import('/js/sync.js').then((s) => s.syncNow('test'))")
    phone.wait_until(page, "return !!(await import('/js/sync.js')).status().lastSync && !(await import('/js/sync.js')).status().running;")
    assert all(not p["mutations"] for p in pushes if p), "inspector_b sent inspector_a's mutations"
    assert [m["mutation_id"] for m in phone.outbox(page)] == queued
    assert server_rows(live_server, Inspection, id=inspection_id) == []
    phone.go(page, "/sync")
    expect(page.locator("#others-queued")).to_be_visible()
    page.locator("button.logout").click()
    page.wait_for_function("location.pathname === '/login'")

    phone.login(page, live_server.url, "inspector_a", PASSWORD)
    phone.wait_outbox_empty(page)
    assert len(server_rows(live_server, Inspection, id=inspection_id)) == 1


def test_same_hazard_field_edited_on_server_and_offline_shows_both_and_the_choice_wins(
        live_server, world, page):
    from server.models import Hazard, User
    from server.services import hazards as hazard_service

    online_and_ready(page, live_server)
    inspection_id = phone.start_inspection(page, world["venue_a_name"], world["users"]["inspector_a2"])
    phone.set_result(page, "SF-03", "fail")
    phone.record_hazard(page, "SF-03", "一楼")
    phone.wait_outbox_empty(page)
    [hazard] = server_rows(live_server, Hazard, inspection_id=inspection_id)

    phone.cut_network(page.context)
    page.reload()
    phone.wait_ready(page)
    row = page.locator(f"li[data-hazard='{hazard.id}']")
    row.locator("button.edit").click()
    row.locator("textarea[name=description]").fill("手机上写的：仓库门口堆放纸箱")
    row.locator("button.save-edit").click()
    expect(page.locator(f"li[data-hazard='{hazard.id}'] .desc")).to_have_text("手机上写的：仓库门口堆放纸箱")

    with live_server.app.app_context():
        actor = db.session.get(User, world["users"]["supervisor_a"])
        row_ = db.session.get(Hazard, hazard.id)
        hazard_service.update_hazard(actor, row_, {"description": "服务器上改的：门口堆放杂物"})

    phone.restore_network(page.context)
    page.goto(live_server.url + "/sync")
    phone.wait_ready(page)
    page.evaluate("import('/js/sync.js').then((s) => s.syncNow('test'))")
    phone.wait_outbox_empty(page)
    page.reload()
    phone.wait_ready(page)
    card = page.locator(f"li[data-conflict='{hazard.id}']")
    expect(card).to_be_visible()
    field_row = card.locator("tr[data-field=description]")
    expect(field_row).to_contain_text("服务器上改的：门口堆放杂物")
    expect(field_row).to_contain_text("手机上写的：仓库门口堆放纸箱")
    field_row.locator("input[value=phone]").check()
    card.locator("button.resolve").click()
    page.evaluate("import('/js/sync.js').then((s) => s.syncNow('test'))")
    phone.wait_outbox_empty(page)
    [after] = server_rows(live_server, Hazard, id=hazard.id)
    assert after.description == "手机上写的：仓库门口堆放纸箱"
    assert phone.evaluate(page, "return (await s.all('conflicts')).length;") == 0


def test_installable_and_every_precached_url_exists(live_server, world, browser_type, browser_context_args, tmp_path):
    # A persistent profile: Chromium never offers to install from an incognito context.
    ctx, page = launch_phone(browser_type, browser_context_args, tmp_path / "profile")
    page.goto(live_server.url + "/login")
    phone.wait_ready(page)
    phone.wait_worker(page)
    cdp = page.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    manifest = cdp.send("Page.getAppManifest")
    assert not manifest.get("errors")
    source = (live_server.app.config.get("PWA_DIR") or "pwa") + "/service-worker.js"
    with open(source, encoding="utf-8") as f:
        precache = re.findall(r"^\s+'(/[^']*)',$", f.read().split("const PRECACHE = [")[1].split("];")[0], re.M)
    assert "/" in precache and "/js/main.js" in precache
    client = live_server.app.test_client()
    for url in precache:
        resp = client.get(url)
        resp.close()
        assert resp.status_code == 200, url
    ctx.close()
