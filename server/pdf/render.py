"""View model → HTML (Jinja, autoescaped) → PDF (WeasyPrint), with no database and no request.

The view-model contract is server/pdf/README.md. Fonts are not fetched: `fonts.DocumentFonts`
hands WeasyPrint subsets of the Noto CJK faces cut to this document's characters. Everything
else WeasyPrint may load goes through `AssetFetcher`, which answers only two schemes of ours:

- ``fs-blob:<sha256>``: a photo or signature, from the caller's ``blob_loader``;
- ``fs-qr:verify``: the QR code of the view model's ``verify_url``.

Anything else (file:, http:, data:, …) is refused by raising, and the refusal stops the
render: a document never goes out with a silently missing piece, and user text cannot make
the server read a file or call a URL.
"""

import contextlib
import functools
import gc
import hashlib
import io
import json
import logging
import re
import threading
import xml.etree.ElementTree as ElementTree
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import cssselect2
import pydyf
import segno
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from . import fonts
from .kinds import COMMON_REQUIRED, KINDS

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SHA256 = re.compile(r"[0-9a-f]{64}")
BETWEEN_TAGS = re.compile(r">\s+<")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/svg+xml"})

# Printable ASCII is always kept: digits for page counters, and the five characters that
# autoescaping turns into entities (so they are not literally in the HTML string).
ASCII = frozenset(range(0x20, 0x7F))


class ViewModelError(ValueError):
    """The view model lacks what its kind must print, or holds a malformed value."""


class AssetError(RuntimeError):
    """An asset was refused or could not be loaded; the PDF was not produced."""


class ForbiddenURL(ValueError):
    """Raised by AssetFetcher for any URL outside our own schemes."""


# ---------------------------------------------------------------------------- formatting

def _as_date(value):
    if isinstance(value, date):  # datetime included
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ViewModelError(f"not an ISO date: {value!r}") from exc


def cn_date(value):
    """2026-03-02 → 2026年3月2日 (blank stays blank)."""
    if not value:
        return ""
    d = _as_date(value)
    return f"{d.year}年{d.month}月{d.day}日"


def cn_datetime(value):
    """2026-03-02T09:05 → 2026年3月2日9时05分; a bare date prints as cn_date."""
    if not value:
        return ""
    d = _as_date(value)
    has_time = isinstance(d, datetime) and not (isinstance(value, str) and len(value) <= 10)
    if not has_time:
        return cn_date(d)
    return f"{d.year}年{d.month}月{d.day}日{d.hour}时{d.minute:02d}分"


_DIGITS = "零一二三四五六七八九"


def cn_int(value):
    """60 → 六十, 15 → 十五, 105 → 一百零五; strings pass through unchanged."""
    if isinstance(value, str) and not value.isdigit():
        return value
    n = int(value)
    if n < 0 or n >= 10000:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, n = divmod(n, size)
        if digit:
            if zero:
                out += "零"
            out += _DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
        if not n:
            break
    return out[1:] if out.startswith("一十") else out


_UPPER = "零壹贰叁肆伍陆柒捌玖"


def _upper_integer(n):
    """Integer yuan in financial capitals: write every digit with its unit, then fold zeros."""
    digits = str(n)
    out = []
    for index, char in enumerate(digits):
        position = len(digits) - 1 - index
        digit = int(char)
        out.append(_UPPER[digit] + ("", "拾", "佰", "仟")[position % 4] if digit else "零")
        if position and position % 4 == 0:
            out.append("万" if position % 8 else "亿")
    text = re.sub("零+", "零", "".join(out))
    text = text.replace("零万", "万").replace("零亿", "亿").replace("亿万", "亿")
    return text.rstrip("零") or "零"


def rmb_upper(amount):
    """5000 → 伍仟元整, 10050.5 → 壹万零伍拾元伍角 (as written on penalty decisions)."""
    value = _decimal(amount).quantize(Decimal("0.01"))
    if value < 0:
        raise ViewModelError(f"negative amount: {amount!r}")
    whole = int(value)
    jiao, fen = divmod(int((value - whole) * 100), 10)
    words = _upper_integer(whole) + "元"
    if not jiao and not fen:
        return words + "整"
    words += _UPPER[jiao] + "角" if jiao else "零"
    return words + (_UPPER[fen] + "分" if fen else "")


def _decimal(amount):
    try:
        return Decimal(str(amount))
    except InvalidOperation as exc:
        raise ViewModelError(f"not an amount: {amount!r}") from exc


def yuan(amount):
    """5000 → 5,000元; 1234.5 → 1,234.50元."""
    value = _decimal(amount)
    if value == value.to_integral():
        return f"{int(value):,}元"
    return f"{value.quantize(Decimal('0.01')):,}元"


def citation(basis):
    """{law, article, clause, item} → 《中华人民共和国消防法》第六十条第一款第一项."""
    if not basis:
        return ""
    if isinstance(basis, str):
        return basis
    law = basis.get("law") or ""
    out = law if law.startswith("《") or not law else f"《{law}》"
    for key, unit in (("article", "条"), ("clause", "款"), ("item", "项")):
        part = basis.get(key)
        if part in (None, ""):
            continue
        part = str(part)
        out += part if part.startswith("第") else f"第{cn_int(part)}{unit}"
    return out


# segno scores all eight mask patterns in pure Python to pick one (~7 ms, 7% of a page);
# readers decode any of them, so one is fixed. zbarimg read all of 40 printed test notices
# (docs/BENCHMARKS.md, PDF rendering); tests/pdf check the printed matrix encodes verify_url.
QR_MASK = 4


def qr_svg(url):
    """The verify URL as an inline SVG QR code, for HTML (browsers draw SVG cheaply)."""
    if not url:
        return ""
    qr = segno.make(str(url), error="m", micro=False, mask=QR_MASK)
    # segno's markup holds only path data, never the URL text: safe to mark as markup.
    return Markup(qr.svg_inline(border=0, omitsize=True, dark="#000"))


@functools.lru_cache(maxsize=64)
def qr_png(url):
    """The verify URL as a 1-bit PNG QR code, for the PDF.

    Why not the SVG: WeasyPrint parses an SVG path command by command in Python, ~25 ms for
    a QR code of this size, an eighth of the page budget. The PNG has one pixel per module
    (~250 bytes) and is drawn without smoothing (image-rendering: pixelated in style.css),
    so it prints as crisply as the vector.
    """
    buf = io.BytesIO()
    qr = segno.make(str(url), error="m", micro=False, mask=QR_MASK)
    qr.save(buf, kind="png", scale=1, border=0)
    return buf.getvalue()


# ---------------------------------------------------------------------------- templates

@functools.cache
def _environment():
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; no stat() per render
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, cn_int=cn_int,
                       rmb_upper=rmb_upper, yuan=yuan, citation=citation)
    env.globals.update(qr_svg=qr_svg)
    return env


@functools.cache
def _stylesheet_text():
    return (HERE / "style.css").read_text(encoding="utf-8")


@functools.cache
def _stylesheet():
    # Parsed once per process; it has no @font-face, so it is not tied to a FontConfiguration.
    return CSS(string=_stylesheet_text(), url_fetcher=AssetFetcher())


# WeasyPrint's HTML user-agent stylesheet gives every element six pseudo-elements with
# styles of their own (::marker and five ::footnote-* / ::note-* rules), ~5 computed styles
# per element that our documents never draw: they have no footnotes, and only li elements
# are list items. Cascading and computing them was ~2-3% of a page; the PDF is the same.
_UA_UNUSED_RULE = re.compile(r"^::(?:footnote|note)-[a-z]+ \{[^}\n]*\}\n", re.M)


@functools.cache
def _user_agent_stylesheet():
    from weasyprint.html import UA, UA_COUNTER_STYLE

    text = _UA_UNUSED_RULE.sub("", UA).replace("\n::marker {", "\nli::marker {")
    return CSS(string=text, counter_style=UA_COUNTER_STYLE)


DOCTYPE = "<!doctype html>"
VOID_ELEMENT = re.compile(r"<(area|base|br|col|embed|hr|img|input|link|meta|source|track|wbr)"
                          r"((?:\s[^>]*)?)>")
# A raw tab or line break inside a double-quoted attribute value: an XML parser would turn
# it into a space (attribute-value normalisation), an HTML parser keeps it.
BREAK_IN_ATTRIBUTE = re.compile(r'="[^"]*[\t\n\r]')


def _parse_own_html(html):
    """Our templates' HTML as the element tree WeasyPrint's HTML5 parser would build, or None.

    Why: tinyhtml5 (the HTML5 parsing algorithm, pure Python) takes ~3 % of a page. The
    templates write well-formed markup (explicit tbody, closed p and li, no optional end
    tags, autoescaped text), so once void elements are closed, expat (C) builds the same
    tree in a fraction of that time; tests/pdf check the trees are equal for every kind.
    None, and the HTML5 parser, for anything expat would read differently: a parse error
    (characters XML forbids, e.g. controls a user typed), or a tab or line break in an
    attribute value.
    """
    if not html.startswith(DOCTYPE) or BREAK_IN_ATTRIBUTE.search(html):
        return None
    xml = VOID_ELEMENT.sub(r"<\1\2/>", html[len(DOCTYPE):])
    try:
        return ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None


class _HTML(HTML):
    """WeasyPrint's HTML with the user-agent stylesheet above in place of its own, and our
    own HTML parsed by expat when it can be (see _parse_own_html)."""

    def __init__(self, *, string, url_fetcher):
        root = _parse_own_html(string)
        if root is None:
            super().__init__(string=string, url_fetcher=url_fetcher)
            return
        # What HTML.__init__ (WeasyPrint 70) sets after parsing; a string has no base URL.
        self.base_url = None
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(
            root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element

    def _ua_stylesheets(self, forms=False):
        return [_user_agent_stylesheet(), *super()._ua_stylesheets(forms)[1:]]


def _fs_blob_url(sha256):
    return f"fs-blob:{sha256}"


def _check(kind_name, view_model):
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ViewModelError(f"unknown document kind {kind_name!r}")
    if not isinstance(view_model, dict):
        raise ViewModelError("view_model must be a dict")
    missing = [key for key in COMMON_REQUIRED + kind.required
               if view_model.get(key) in (None, "", [], {})]
    if missing:
        raise ViewModelError(f"{kind_name} needs {', '.join(missing)}")
    return kind


def _html(kind_name, view_model, *, blob_url, for_browser):
    kind = _check(kind_name, view_model)

    def blob_src(sha256):
        sha256 = str(sha256 or "").lower()
        if not SHA256.fullmatch(sha256):
            raise ViewModelError(f"not a sha256 blob reference: {sha256!r}")
        return blob_url(sha256)

    template = _environment().get_template(kind.template)
    issued = _as_date(view_model["issued_on"])
    shots = [(hazard, n, sha256)
             for hazard in view_model.get("hazards") or ()
             for n, sha256 in enumerate(hazard.get("photo_hashes") or (), start=1)]
    html = template.render(
        vm=view_model,
        kind=kind,
        shots=shots,
        title=view_model.get("kind_title") or kind.title,
        issued_iso=issued.date().isoformat() if isinstance(issued, datetime)
        else issued.isoformat(),
        blob_src=blob_src,
        # A browser gets the stylesheet and the QR code inline; WeasyPrint gets a parsed
        # stylesheet and fetches the QR code as an image (see qr_png).
        css=Markup(_stylesheet_text()) if for_browser else None,
        qr_inline=for_browser,
    )
    # Drop the templates' indentation between tags: between inline elements it would print
    # as stray spaces in Chinese text, and WeasyPrint spends ~4% of a page on those nodes.
    # User text cannot match: autoescaping turned its < and > into entities.
    return BETWEEN_TAGS.sub("><", html)


def render_html(kind, view_model, *, blob_url=None):
    """Return the document as one self-contained HTML page (preview, browser printing).

    `blob_url(sha256) -> str` maps photo/signature hashes to URLs the viewer can load;
    without it they point at the PDF-only ``fs-blob:`` scheme.
    """
    return _html(kind, view_model, blob_url=blob_url or _fs_blob_url, for_browser=True)


# ---------------------------------------------------------------------------- fetching

class AssetFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only caller-supplied blobs and the QR code."""

    def __init__(self, blob_loader=None, verify_url=None):
        super().__init__(fail_on_errors=True)
        self._blob_loader = blob_loader
        self._verify_url = verify_url
        # Every failure, kept because WeasyPrint swallows some of them (inside SVG images)
        # and render() must not return a PDF with a hole in it.
        self.failures = []

    def fetch(self, url, headers=None):
        try:
            return self._fetch(url)
        except (AssetError, ForbiddenURL) as exc:
            self.failures.append(str(exc))
            raise

    def _fetch(self, url):
        scheme, _, rest = url.partition(":")
        if url == "fs-qr:verify" and self._verify_url:
            return URLFetcherResponse(url, qr_png(self._verify_url),
                                      {"Content-Type": "image/png"})
        if scheme == "fs-blob" and SHA256.fullmatch(rest) and self._blob_loader:
            found = self._blob_loader(rest)
            if found is None:
                raise AssetError(f"blob {rest} not found")
            data, mime = found
            if mime not in IMAGE_TYPES:
                raise AssetError(f"blob {rest} is {mime!r}, not an image")
            return URLFetcherResponse(url, data, {"Content-Type": mime})
        log.warning("refused PDF asset URL %.200r", url)
        raise ForbiddenURL(f"refused: {url[:200]!r}")


# ---------------------------------------------------------------------------- PDF

def _identifier(kind, view_model):
    canonical = json.dumps([kind, view_model], sort_keys=True, ensure_ascii=False,
                           default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32].encode()


def render(kind, view_model, *, blob_loader=None):
    """Return the PDF bytes of one document; same view model → byte-identical PDF.

    `blob_loader(sha256) -> (bytes, mime) | None` supplies photos and signatures.
    :raises ViewModelError: unknown kind, missing required keys, malformed values.
    :raises AssetError: a referenced blob is missing or an asset URL was refused.
    """
    return _new_frame_chunk(_frame_offset, (_render_and_collect, (kind, view_model, blob_loader)))


def _render_and_collect(kind, view_model, blob_loader):
    with _collector_paused():
        pdf = _render(kind, view_model, blob_loader)
    # Once _render has returned, the document and its boxes are unreachable.
    _collect_garbage()
    return pdf


def _render(kind, view_model, blob_loader, *, serialise_once=True,
            system_rules_off=True):
    html = _html(kind, view_model, blob_url=_fs_blob_url, for_browser=False)
    codepoints = frozenset(map(ord, html)) | ASCII | _stylesheet_codepoints()
    fetcher = AssetFetcher(blob_loader, view_model.get("verify_url"))
    font_config = fonts.DocumentFonts(codepoints)
    try:
        with font_config.rendering() if system_rules_off else contextlib.nullcontext():
            document = _HTML(string=html, url_fetcher=fetcher).render(
                stylesheets=[_stylesheet()], font_config=font_config)
            pdf = document.write_pdf(pdf_identifier=_identifier(kind, view_model),
                                     finisher=_serialise_once if serialise_once else None)
    except FatalURLFetchingError as exc:
        raise AssetError(str(exc.__cause__ or exc)) from exc.__cause__
    else:
        if fetcher.failures:
            raise AssetError("; ".join(fetcher.failures))
    finally:
        font_config.release()
    return pdf


@functools.cache
def _serialised_once(cls):
    """`cls` with its `data` (the object's PDF bytes) computed on first use, then kept."""
    return type(f"SerialisedOnce{cls.__name__}", (cls,),
                {"data": functools.cached_property(cls.data.fget), "__module__": __name__})


def _serialise_once(document, pdf):
    """WeasyPrint finisher: serialise (and Flate-compress) every PDF object only once.

    Why: given a `pdf_identifier`, pydyf writes every object and then serialises all of
    them again to hash them for the second half of the trailer's /ID, so each stream,
    fonts included, was compressed twice at zlib level 9 (~6 % of a page's instructions)
    and the page's content stream joined twice. Nothing changes an object between the two
    passes (the finisher runs after WeasyPrint has built them all), so the second pass can
    reuse the first one's bytes: the PDF is byte-identical (tests/pdf compare the two).
    """
    for obj in pdf.objects:
        if isinstance(obj, (pydyf.Dictionary, pydyf.Stream)):
            obj.__class__ = _serialised_once(type(obj))


# ---------------------------------------------------------------------------- frame stack

def _frame_function(name, words):
    """A function `name(fn, args)` returning fn(*args) whose own frame holds ~`words` slots.

    Why (CPython 3.11): Python frames live on a per-thread stack of 16 KiB chunks, and a
    chunk is unmapped as soon as the frame at its base returns, so a call depth that keeps
    going back and forth across a chunk boundary costs an mmap, page faults and a munmap
    each time. WeasyPrint's layout recursion crosses one many times a page: how often
    depended on the caller's own depth, from ~70 to ~2,900 page faults a render (the bench
    notice at the bench's depth: ~960, ~7 ms of system time). render() therefore starts
    every document at the same place: on a new chunk (a frame too big for any chunk's
    remaining space gets a chunk of its own, and the next call starts a fresh one), offset
    by FRAME_OFFSET_WORDS, which puts the chunk boundary at a depth few boxes reach
    (swept over all eleven kinds: now ~40–60 page faults a render, ~140 for the inspection
    record; bench/bench_pdf.py reports the faults per notice).
    """
    slots = [f"_{i}" for i in range(words)]
    assign = f"    {' = '.join(slots)} = None\n" if slots else ""
    source = f"def {name}(fn, args):\n{assign}    return fn(*args)\n"
    namespace = {}
    exec(compile(source, f"<server.pdf.render {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


DATA_STACK_CHUNK_WORDS = 16 * 1024 // 8
FRAME_OFFSET_WORDS = 1000  # 976–1024 all gave 31–48 faults for the bench notice
_new_frame_chunk = _frame_function("_new_frame_chunk", DATA_STACK_CHUNK_WORDS + 64)
_frame_offset = _frame_function("_frame_offset", FRAME_OFFSET_WORDS)


# ---------------------------------------------------------------------------- garbage

_gc_lock = threading.Lock()
_gc_pausers = 0  # renders in progress
_gc_was_enabled = False
_renders = 0
COLLECT_EVERY = 10


@contextlib.contextmanager
def _collector_paused():
    """Keep Python's cyclic garbage collector off while documents are being rendered.

    Everything a render allocates stays reachable until its PDF is written, so the dozen
    automatic collections a page used to trigger freed little and walked the growing box
    tree again each time; worse, they promoted the tree to the old generation, where its
    cycles waited for the next full collection. _collect_garbage() collects once instead,
    when the document is unreachable (gc.callbacks: 12.4 → 7.4 ms of collection a page).
    Counted, so that concurrent renders in threads re-enable it only when the last one
    ends; a collector that someone else had disabled stays disabled.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _collect_garbage():
    """Free the reference cycles of the document just rendered, cheaply.

    A full collection walks every tracked object, and WeasyPrint's cffi bindings make that
    ~50 ms. So the first render moves everything alive by then (modules, bindings, caches)
    into the permanent generation (gc.freeze). After each later document, collecting the
    youngest generation (all that was allocated since the last collection, the collector
    having been paused) frees the document's cycles; a full collection every COLLECT_EVERY
    documents catches what outlived a document and died later, so a batch's memory stays
    flat (bench/bench_pdf.py).
    """
    global _renders
    with _gc_lock:
        _renders += 1
        count = _renders
    if count == 1:
        gc.collect()
        gc.freeze()
    elif count % COLLECT_EVERY == 0:
        gc.collect()
    else:
        gc.collect(0)


@functools.cache
def _stylesheet_codepoints():
    """Characters of generated content in style.css (e.g. 第 x 页 共 y 页)."""
    return frozenset(map(ord, _stylesheet_text()))
