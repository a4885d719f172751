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


def test_documents_that_need_system_fallback_fonts_keep_the_system_rules():
    from server.pdf import fonts

    document_fonts = fonts.DocumentFonts(frozenset(map(ord, "消防⁋")))
    try:
        assert document_fonts.uses_system_fonts
        fontconfig = fonts._fontconfig()
        before = fontconfig.FcConfigGetCurrent()
        with document_fonts.rendering():
            assert fontconfig.FcConfigGetCurrent() == before
    finally:
        document_fonts.release()
