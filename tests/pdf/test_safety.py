"""User text stays text; WeasyPrint loads nothing but our own assets; output is deterministic."""

import hashlib
import importlib

import pytest

from server.pdf import AssetError, render
from tests.pdf import poppler, samples

render_module = importlib.import_module("server.pdf.render")

HOSTILE = '<img src="file:///etc/passwd"><script>alert(1)</script>'


@pytest.fixture
def fetched(monkeypatch):
    """Every URL WeasyPrint asks the fetcher for during the test."""
    urls = []
    original = render_module.AssetFetcher.fetch

    def recording_fetch(self, url, headers=None):
        urls.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(render_module.AssetFetcher, "fetch", recording_fetch)
    return urls


def test_markup_in_a_hazard_description_is_printed_as_text(fetched):
    vm = samples.view_model("deadline_rectification")
    vm["hazards"][0]["description"] = HOSTILE
    vm["party"]["name"] = '宁波<b onload="x">公司</b>'
    text = poppler.text(render("deadline_rectification", vm))
    assert HOSTILE.replace(" ", "") in text
    assert '宁波<bonload="x">公司</b>' in text
    assert "root:" not in text
    assert fetched == ["fs-qr:verify"]


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://127.0.0.1:5000/api/v1/users",
    "https://example.com/logo.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "ftp://example.com/x",
    "fs-blob:../../etc/passwd",
    "fs-blob:" + "a" * 64,  # well-formed, but this fetcher has no blob loader
    "fs-qr:other",
    "fs-asset:style.css",
])
def test_fetcher_refuses_everything_but_our_assets(url):
    fetcher = render_module.AssetFetcher(blob_loader=None, verify_url="https://x/verify/1")
    with pytest.raises(render_module.ForbiddenURL):
        fetcher.fetch(url)


def test_signature_svg_cannot_reach_out_through_the_fetcher(fetched):
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
           b' width="90" height="30"><image xlink:href="file:///etc/passwd" width="9"'
           b' height="9"/></svg>')
    sha = hashlib.sha256(svg).hexdigest()
    vm = samples.view_model("deadline_rectification")
    vm["inspectors"][0]["signature_hash"] = sha
    with pytest.raises(AssetError, match="refused"):
        render("deadline_rectification", vm, blob_loader={sha: (svg, "image/svg+xml")}.get)
    assert "file:///etc/passwd" in fetched  # asked for, and refused


def test_missing_blob_stops_the_render():
    vm = samples.view_model("deadline_rectification", photo_hashes=["b" * 64])
    with pytest.raises(AssetError, match="not found"):
        render("deadline_rectification", vm, blob_loader=lambda sha: None)


def test_a_blob_that_is_not_an_image_is_refused():
    vm = samples.view_model("deadline_rectification", photo_hashes=["c" * 64])
    with pytest.raises(AssetError, match="not an image"):
        render("deadline_rectification", vm,
               blob_loader=lambda sha: (b"<html></html>", "text/html"))


def test_same_view_model_gives_identical_bytes(rendered):
    first = rendered("deadline_rectification")
    again = render("deadline_rectification", samples.view_model("deadline_rectification"))
    assert first == again
    assert b"/ID [" in first


def test_pdf_dates_and_id_come_from_the_view_model(rendered):
    first = rendered("deadline_rectification")
    info = poppler.info(first)
    assert info["CreationDate"].endswith("2026 UTC") and "Mar  3" in info["CreationDate"]
    vm = samples.view_model("deadline_rectification")
    vm["issued_on"] = "2026-03-04"
    other = render("deadline_rectification", vm)
    assert first != other
    assert first.split(b"/ID [")[1][:70] != other.split(b"/ID [")[1][:70]


def test_qr_code_in_the_pdf_encodes_the_verify_url(rendered):
    import segno

    url = samples.view_model("deadline_rectification")["verify_url"]
    expected = segno.make(url, error="m", micro=False, mask=render_module.QR_MASK).matrix
    (qr,) = [im for im in poppler.images(rendered("deadline_rectification"))
             if im.size == (len(expected), len(expected))]
    pixels = qr.convert("1").load()
    dark = [[pixels[x, y] == 0 for x in range(qr.width)] for y in range(qr.height)]
    assert dark == [[bool(module) for module in row] for row in expected]


def test_renders_in_parallel_threads_match_sequential_ones(rendered):
    from concurrent.futures import ThreadPoolExecutor

    kinds = ["deadline_rectification", "penalty_decision"] * 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        pdfs = list(pool.map(lambda kind: render(kind, samples.view_model(kind)), kinds))
    assert pdfs == [rendered(kind) for kind in kinds]
