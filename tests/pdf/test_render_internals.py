"""What render() does for speed must not change what it prints, nor leave the process
in another state (garbage collector, WeasyPrint internals it leans on)."""

import gc
import importlib

import pytest
from weasyprint import HTML

from server.pdf import ViewModelError, render
from server.pdf.kinds import KINDS
from tests.pdf import samples

render_module = importlib.import_module("server.pdf.render")


def test_lighter_user_agent_stylesheet_still_finds_what_it_drops():
    """A WeasyPrint upgrade that renames these rules or the hook must be noticed."""
    from weasyprint.html import UA

    assert len(render_module._UA_UNUSED_RULE.findall(UA)) == 5
    assert "\n::marker {" in UA
    assert HTML._ua_stylesheets is not render_module._HTML._ua_stylesheets


@pytest.mark.parametrize("kind", ["deadline_rectification", "penalty_decision",
                                  "self_rectification_commitment"])
def test_lighter_user_agent_stylesheet_prints_the_same_bytes(kind, monkeypatch, rendered):
    """Same PDF with WeasyPrint's own user-agent stylesheet (these kinds have lists)."""
    monkeypatch.setattr(render_module, "_HTML", HTML)
    assert render(kind, samples.view_model(kind)) == rendered(kind)


def test_collector_is_on_again_after_a_render_and_after_a_refused_one():
    assert gc.isenabled()
    render("deadline_rectification", samples.view_model("deadline_rectification"))
    assert gc.isenabled()
    with pytest.raises(ViewModelError):
        render("deadline_rectification", {})
    assert gc.isenabled()


def test_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    try:
        render("deadline_rectification", samples.view_model("deadline_rectification"))
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("kind", ["deadline_rectification", "penalty_decision",
                                  "inspection_record"])
def test_serialising_each_object_once_prints_the_same_bytes(kind):
    """The finisher that keeps each object's bytes for pydyf's /ID hash changes nothing
    (photos included: image streams go through it too)."""
    loader, hashes = samples.blob_store(samples.png_bytes(), samples.png_bytes((20, 90, 200)))
    view_model = samples.view_model(kind, photo_hashes=hashes)
    fast = render_module._render(kind, view_model, loader)
    general = render_module._render(kind, view_model, loader, serialise_once=False)
    assert fast == general
    assert b"/ID [" in fast


def test_serialise_once_finisher_caches_what_pydyf_would_compute():
    import pydyf

    stream = pydyf.Stream([b"BT", b"ET"], compress=True)
    expected = stream.data
    pdf = pydyf.PDF()
    pdf.add_object(stream)
    render_module._serialise_once(None, pdf)
    assert type(stream) is not pydyf.Stream and isinstance(stream, pydyf.Stream)
    assert stream.data == expected
    assert stream.data is stream.data  # kept, not recomputed


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fontconfig_system_rules_off_prints_the_same_bytes(kind):
    """Pango matches the document's subset fonts the same without the system's rules."""
    view_model = samples.view_model(kind)
    fast = render_module._render(kind, view_model, None)
    general = render_module._render(kind, view_model, None, system_rules_off=False)
    assert fast == general


def test_fontconfig_current_configuration_is_restored_after_renders():
    from server.pdf import fonts

    fontconfig = fonts._fontconfig()
    before = fontconfig.FcConfigGetCurrent()
    render("deadline_rectification", samples.view_model("deadline_rectification"))
    with fonts.system_rules_off():
        assert fontconfig.FcConfigGetCurrent() == fonts._rule_free_config()
        with fonts.system_rules_off():  # a concurrent render
            pass
        assert fontconfig.FcConfigGetCurrent() == fonts._rule_free_config()
    assert fontconfig.FcConfigGetCurrent() == before


def test_fontconfig_system_rules_off_prints_the_same_bytes_with_fallback_fonts():
    """Characters no Noto face has, several of them in both fallback fonts."""
    from server.pdf import fonts

    kind = "deadline_rectification"
    view_model = samples.view_model(kind)
    view_model["hazards"][0]["description"] = "符号：⁋⌛⏰☑☢⚡✈✉✔❤➜ℹ∯"
    assert not {ord(c) for c in "⁋⌛⏰☑☢⚡✈✉✔❤➜ℹ∯"} & fonts.coverage("serif")
    fast = render_module._render(kind, view_model, None)
    general = render_module._render(kind, view_model, None, system_rules_off=False)
    assert fast == general


def _variants(kind):
    """The sample, with photos and signatures, with only the required keys, refused."""
    from server.pdf.kinds import COMMON_REQUIRED

    full = samples.view_model(kind)
    loader, hashes = samples.blob_store(samples.png_bytes(), samples.signature_png())
    photos = samples.view_model(kind, photo_hashes=hashes[:1])
    for inspector in photos.get("inspectors") or ():
        inspector["signature_hash"] = hashes[1]
    minimal = {key: full[key] for key in COMMON_REQUIRED + KINDS[kind].required}
    refused = samples.view_model(kind)
    refused["receipt"] = {"refused": True, "refusal_note": "拒绝签字", "witness": "周敏"}
    return [full, photos, minimal, refused]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_own_html_parser_builds_the_html5_parsers_tree(kind):
    import xml.etree.ElementTree as ElementTree

    import tinyhtml5

    for view_model in _variants(kind):
        html = render_module._html(kind, view_model, blob_url=render_module._fs_blob_url,
                                   for_browser=False)
        ours = render_module._parse_own_html(html)
        assert ours is not None, "the templates' markup no longer parses as XML"
        theirs = tinyhtml5.parse(html, namespace_html_elements=False)
        assert (ElementTree.tostring(ours, encoding="unicode")
                == ElementTree.tostring(theirs, encoding="unicode"))


@pytest.mark.parametrize("kind", ["deadline_rectification", "inspection_record",
                                  "service_receipt", "temporary_seal"])
def test_own_html_parser_prints_the_same_bytes(kind, monkeypatch, rendered):
    fast = rendered(kind)
    monkeypatch.setattr(render_module, "_parse_own_html", lambda html: None)
    assert render(kind, samples.view_model(kind)) == fast


def test_own_html_parser_leaves_what_xml_reads_differently_to_the_html5_parser():
    from tests.pdf import poppler

    kind = "deadline_rectification"
    control = samples.view_model(kind)
    control["hazards"][0]["description"] = "货架堵塞\x0c安全出口"  # form feed: not XML
    loader, hashes = samples.blob_store(samples.signature_png())
    broken_alt = samples.view_model(kind)
    broken_alt["inspectors"][0].update(name="李\n明", signature_hash=hashes[0])  # alt="李\n明"
    for view_model in (control, broken_alt):
        html = render_module._html(kind, view_model, blob_url=render_module._fs_blob_url,
                                   for_browser=False)
        assert render_module._parse_own_html(html) is None
        assert "改正通知书" in poppler.text(render(kind, view_model, blob_loader=loader))


def test_render_starts_on_a_new_frame_chunk_and_passes_results_and_errors_through():
    """render() = _render through two padding frames (same bytes, same exceptions)."""
    new_chunk = render_module._new_frame_chunk.__code__
    assert new_chunk.co_nlocals > render_module.DATA_STACK_CHUNK_WORDS  # can't share a chunk
    assert render_module._frame_offset.__code__.co_nlocals == render_module.FRAME_OFFSET_WORDS + 2
    assert render_module._frame_offset(divmod, (7, 2)) == (3, 1)
    kind = "deadline_rectification"
    view_model = samples.view_model(kind)
    assert render(kind, view_model) == render_module._render(kind, view_model, None)
    with pytest.raises(ViewModelError):
        render_module._new_frame_chunk(render_module._frame_offset, (render, (kind, {})))
