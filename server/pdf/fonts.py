"""Per-document subsets of the Noto CJK faces, cut with HarfBuzz before WeasyPrint sees them.

Why: WeasyPrint subsets fonts itself but keeps the original glyph ids, so every embedded
Noto CJK face carries ~65,000 glyph slots (≈135 KB each) and the page takes ~0.5 s. Cutting
each face down to the characters of one document first, with renumbered glyphs, gives
WeasyPrint a font of a few hundred glyphs: small PDF, fast render. fontTools does the same
cut in ~0.7 s per face; libharfbuzz-subset (already required by WeasyPrint, see
SETUP-NOTES) does it in ~3 ms, so it is called here directly through cffi.

The faces come from the OS (Debian `fonts-noto-cjk`); the .ttc collections are memory-mapped
once per process and never modified.

The subsets reach WeasyPrint through `DocumentFonts`, a font configuration that holds only
them: Pango then never sorts the ~150 system fonts to resolve a family, and the stylesheet
names the real families ("Noto Serif CJK SC"), so a browser previewing the same HTML uses the
installed faces.
"""

import contextlib
import functools
import logging
import os
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from tempfile import mkdtemp

import cffi
from fontTools.ttLib import TTFont
from weasyprint.text.fonts import FontConfiguration

log = logging.getLogger(__name__)

# Where distributions put Noto CJK (Debian, Fedora, Arch, Alpine); FIRESWEEP_FONT_DIR first.
FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/noto",
)


@dataclass(frozen=True)
class Face:
    """One face of a font collection, found by its file name and full name (name id 4)."""

    file: str
    full_name: str


# key → face; style.css uses these faces' family names.
FACES = {
    "serif": Face("NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    "sans-bold": Face("NotoSansCJK-Bold.ttc", "Noto Sans CJK SC Bold"),
}

# Tables a horizontal, unhinted, print-only subset does not need. GSUB/GPOS hold no Chinese
# shaping that matters for SC text (the SC face's cmap already picks SC glyph forms).
_DROP_TABLES = (b"GSUB", b"GPOS", b"BASE", b"JSTF", b"VORG", b"vhea", b"vmtx", b"DSIG")

_CDEF = """
typedef struct hb_blob_t hb_blob_t;
typedef struct hb_face_t hb_face_t;
typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t;
typedef uint32_t hb_codepoint_t;
typedef uint32_t hb_tag_t;
hb_blob_t *hb_blob_create_from_file_or_fail(const char *file_name);
unsigned int hb_blob_get_length(hb_blob_t *blob);
const char *hb_blob_get_data(hb_blob_t *blob, unsigned int *length);
void hb_blob_destroy(hb_blob_t *blob);
hb_face_t *hb_face_create(hb_blob_t *blob, unsigned int index);
void hb_face_make_immutable(hb_face_t *face);
unsigned int hb_face_get_glyph_count(const hb_face_t *face);
hb_blob_t *hb_face_reference_blob(hb_face_t *face);
void hb_face_destroy(hb_face_t *face);
void hb_set_add(hb_set_t *set, hb_codepoint_t codepoint);
hb_tag_t hb_tag_from_string(const char *str, int len);
hb_subset_input_t *hb_subset_input_create_or_fail(void);
void hb_subset_input_destroy(hb_subset_input_t *input);
hb_set_t *hb_subset_input_unicode_set(hb_subset_input_t *input);
hb_set_t *hb_subset_input_set(hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags(hb_subset_input_t *input, unsigned value);
hb_face_t *hb_subset_or_fail(hb_face_t *source, const hb_subset_input_t *input);
hb_set_t *hb_set_create(void);
void hb_set_destroy(hb_set_t *set);
unsigned int hb_set_get_population(const hb_set_t *set);
unsigned int hb_set_next_many(const hb_set_t *set, hb_codepoint_t codepoint,
                              hb_codepoint_t *out, unsigned int size);
void hb_face_collect_unicodes(hb_face_t *face, hb_set_t *out);
typedef struct _FcConfig FcConfig;
FcConfig *FcConfigCreate(void);
int FcConfigAppFontAddFile(FcConfig *config, const char *file);
void FcConfigDestroy(FcConfig *config);
FcConfig *FcConfigGetCurrent(void);
FcConfig *FcConfigReference(FcConfig *config);
int FcConfigSetCurrent(FcConfig *config);
"""
_HB_SUBSET_FLAGS_NO_HINTING = 0x01
_HB_SUBSET_FLAGS_DESUBROUTINIZE = 0x04
_HB_SUBSET_SETS_DROP_TABLE_TAG = 3


class FontsMissing(RuntimeError):
    """The Noto CJK fonts or libharfbuzz-subset are not installed."""


@functools.cache
def _hb():
    """Load HarfBuzz once (lazily: importing this module touches no library)."""
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    try:
        hb = ffi.dlopen("libharfbuzz.so.0")
        hb_subset = ffi.dlopen("libharfbuzz-subset.so.0")
    except OSError as exc:
        raise FontsMissing(
            "libharfbuzz-subset is missing: apt-get install libharfbuzz-subset0") from exc
    return ffi, hb, hb_subset


@functools.cache
def _fontconfig():
    ffi, _, _ = _hb()
    return ffi.dlopen("libfontconfig.so.1")


def _font_dirs():
    extra = os.environ.get("FIRESWEEP_FONT_DIR")
    return ((extra,) if extra else ()) + FONT_DIRS


@functools.cache
def _locate(face):
    """Return (path, index) of a face inside its collection; cached per process."""
    for directory in _font_dirs():
        path = Path(directory) / face.file
        if not path.is_file():
            continue
        index = 0
        while True:
            try:
                ttfont = TTFont(path, fontNumber=index, lazy=True)
            except Exception:  # past the last face of the collection
                break
            with ttfont:
                if ttfont["name"].getDebugName(4) == face.full_name:
                    return str(path), index
            index += 1
    raise FontsMissing(
        f"font {face.full_name!r} ({face.file}) not found in {_font_dirs()}: "
        "apt-get install fonts-noto-cjk")


_faces_lock = threading.Lock()
_faces = {}


def _hb_face(key):
    """The memory-mapped, immutable HarfBuzz face for a FACES key (one per process)."""
    with _faces_lock:
        if key not in _faces:
            ffi, hb, _ = _hb()
            path, index = _locate(FACES[key])
            blob = hb.hb_blob_create_from_file_or_fail(path.encode())
            if blob == ffi.NULL:
                raise FontsMissing(f"cannot read {path}")
            face = hb.hb_face_create(blob, index)
            hb.hb_blob_destroy(blob)  # the face holds its own reference
            hb.hb_face_make_immutable(face)
            _faces[key] = face
        return _faces[key]


@functools.lru_cache(maxsize=32)
def subset(key, codepoints):
    """Return an OpenType font of face `key` holding only `codepoints` (a frozenset of ints).

    Glyph ids are renumbered; characters the face lacks are skipped (Pango then falls back
    to another system font for them). Cached: a batch of similar notices reuses subsets.
    """
    ffi, hb, hb_subset = _hb()
    source = _hb_face(key)
    plan = hb_subset.hb_subset_input_create_or_fail()
    if plan == ffi.NULL:
        raise MemoryError("hb_subset_input_create_or_fail")
    try:
        unicodes = hb_subset.hb_subset_input_unicode_set(plan)
        for codepoint in sorted(codepoints):
            hb.hb_set_add(unicodes, codepoint)
        drop = hb_subset.hb_subset_input_set(plan, _HB_SUBSET_SETS_DROP_TABLE_TAG)
        for tag in _DROP_TABLES:
            hb.hb_set_add(drop, hb.hb_tag_from_string(tag, 4))
        hb_subset.hb_subset_input_set_flags(
            plan, _HB_SUBSET_FLAGS_NO_HINTING | _HB_SUBSET_FLAGS_DESUBROUTINIZE)
        face = hb_subset.hb_subset_or_fail(source, plan)
    finally:
        hb_subset.hb_subset_input_destroy(plan)
    if face == ffi.NULL:
        raise FontsMissing(f"HarfBuzz could not subset {FACES[key].full_name}")
    try:
        blob = hb.hb_face_reference_blob(face)
        try:
            length = ffi.new("unsigned int *")
            data = hb.hb_blob_get_data(blob, length)
            return bytes(ffi.buffer(data, length[0]))
        finally:
            hb.hb_blob_destroy(blob)
    finally:
        hb.hb_face_destroy(face)


@functools.cache
def coverage(key):
    """Every codepoint face `key` maps to a glyph (a frozenset, computed once)."""
    ffi, hb, _ = _hb()
    found = hb.hb_set_create()
    try:
        hb.hb_face_collect_unicodes(_hb_face(key), found)
        size = hb.hb_set_get_population(found)
        out = ffi.new("hb_codepoint_t[]", size)
        count = hb.hb_set_next_many(found, 0xFFFFFFFF, out, size)  # from HB_SET_VALUE_INVALID
        return frozenset(out[0:count])
    finally:
        hb.hb_set_destroy(found)


# System fonts for characters no Noto CJK face has (emoji, rare symbols); only loaded for
# the documents that need them.
FALLBACK_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSymbols2-Regular.ttf",
)


_font_maps_lock = threading.Lock()
_free_font_maps = []


def _acquire_font_map():
    """A Pango font map no render is using; font maps are kept and reused, never freed.

    Why not one per document, as WeasyPrint does: a Pango font map that is created and
    dropped leaks ~4 KB of native memory each time (measured: 7 MB over 2,000 documents),
    while giving a kept one a new fontconfig config per document leaks nothing. A pool
    rather than one per thread: servers that start a thread per request would otherwise
    grow one font map per request. Pango font maps are not thread-safe, so a map serves one
    render at a time; there are as many as renders ever ran at once.
    """
    with _font_maps_lock:
        if _free_font_maps:
            return _free_font_maps.pop()
    from weasyprint.text.ffi import pangoft2

    return pangoft2.pango_ft2_font_map_new()


def _release_font_map(font_map):
    with _font_maps_lock:
        _free_font_maps.append(font_map)


_rules_lock = threading.Lock()
_rules_off_count = 0  # renders in progress with the system rules switched off
_system_config = None


@functools.cache
def _rule_free_config():
    """An empty fontconfig configuration: no fonts, no substitution rules."""
    ffi, _, _ = _hb()
    config = _fontconfig().FcConfigCreate()
    if config == ffi.NULL:
        raise MemoryError("FcConfigCreate")
    return config


@contextlib.contextmanager
def system_rules_off():
    """Make fontconfig's current configuration an empty one while documents render.

    Why: Pango's FreeType font map runs every font pattern it builds through
    FcConfigSubstitute(NULL, …), i.e. through the rules of the process's *current*
    configuration, the system one (≈60 conf.d files), whatever configuration the font map
    itself uses: ~0.8 M instructions a pattern, ~17 patterns a document, because each
    document's new font configuration empties Pango's caches (~5 % of a page). Those rules
    only add alias families and rendering hints; the font map's own configuration holds
    nothing but the document's two Noto CJK subsets (and, for characters they lack, two
    system fallback fonts), whose families the stylesheet names first, so they do not
    change which face draws a character (same PDF bytes, with fallback fonts too:
    tests/pdf). Counted like render._collector_paused: concurrent renders restore the
    system configuration when the last one ends.
    """
    global _rules_off_count, _system_config
    fontconfig = _fontconfig()
    with _rules_lock:
        if _rules_off_count == 0:
            _system_config = fontconfig.FcConfigReference(fontconfig.FcConfigGetCurrent())
            fontconfig.FcConfigSetCurrent(_rule_free_config())
        _rules_off_count += 1
    try:
        yield
    finally:
        with _rules_lock:
            _rules_off_count -= 1
            if _rules_off_count == 0:
                fontconfig.FcConfigSetCurrent(_system_config)
                fontconfig.FcConfigDestroy(_system_config)  # the reference taken above
                _system_config = None


class DocumentFonts(FontConfiguration):
    """A WeasyPrint font configuration with only one document's subset fonts in it.

    WeasyPrint's own FontConfiguration loads every system font into a fresh fontconfig
    config for each document; this one starts empty and adds the subsets cut for
    `codepoints` (plus fallback fonts if the faces miss some of them), and hands it to a
    pooled Pango font map (which drops its caches of the previous document). Call release()
    when the PDF is written.
    FontConfiguration.__init__ is deliberately not called (it is what loads the system
    fonts); this sets the attributes WeasyPrint 70 reads (font_map, strut_layouts,
    font_features, _folder). tests/pdf guard these internals against an upgrade.
    """

    def __init__(self, codepoints):
        from weasyprint.text.ffi import ffi as wffi, pangoft2

        ffi, _, _ = _hb()
        fontconfig = _fontconfig()
        self.font_map = None
        self._folder = Path(mkdtemp(prefix="firesweep-fonts-"))
        self.strut_layouts = {}
        self.font_features = {}
        files = []
        for key in FACES:
            path = self._folder / f"{key}.otf"
            path.write_bytes(subset(key, codepoints))
            files.append(path)
        # Control characters (the template's newlines) are never drawn: they need no font.
        missing = {c for c in codepoints - coverage("serif")
                   if unicodedata.category(chr(c)) != "Cc"}
        if missing:
            log.info("characters outside Noto CJK: %s",
                     " ".join(f"U+{c:04X}" for c in sorted(missing)[:20]))
            files.extend(Path(f) for f in FALLBACK_FILES if Path(f).is_file())
        config = fontconfig.FcConfigCreate()
        if config == ffi.NULL:
            raise MemoryError("FcConfigCreate")
        try:
            for path in files:
                if not fontconfig.FcConfigAppFontAddFile(config, os.fsencode(path)):
                    raise FontsMissing(f"fontconfig cannot read {path}")
            self.font_map = _acquire_font_map()
            pangoft2.pango_fc_font_map_set_config(
                wffi.cast("PangoFcFontMap *", self.font_map),
                wffi.cast("FcConfig *", int(ffi.cast("uintptr_t", config))))
        finally:
            fontconfig.FcConfigDestroy(config)  # the font map holds its own reference

    def rendering(self):
        """Context manager for the render: fontconfig's system rules off (system_rules_off)."""
        return system_rules_off()

    def release(self):
        """Return the font map to the pool and delete the subset files."""
        if self.font_map is not None:
            _release_font_map(self.font_map)
            self.font_map = None
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def add_font_face(self, rule_descriptors, url_fetcher):
        """@font-face is not used: the document's fonts are fixed by the constructor."""
        log.warning("ignored @font-face %r", rule_descriptors.get("font_family"))
