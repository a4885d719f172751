"""Reading PDFs back in tests: poppler-utils (pdftotext, pdffonts, pdfinfo, pdfimages) and
a look into content streams."""

import os
import re
import subprocess
import tempfile
import zlib


def _run(tool, pdf, *args):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        return subprocess.run([tool, *args, f.name, *(["-"] if tool == "pdftotext" else [])],
                              capture_output=True, text=True, check=True, timeout=60).stdout


def text(pdf):
    """The PDF's text in drawing order (-raw keeps a table cell's lines together), with all
    whitespace removed (cells wrap anywhere)."""
    return re.sub(r"\s+", "", _run("pdftotext", pdf, "-raw"))


def fonts(pdf):
    """pdffonts rows as dicts: name, type, emb, sub, uni."""
    rows = []
    for line in _run("pdffonts", pdf).splitlines()[2:]:
        parts = line.split()
        # name, type (may hold spaces), encoding, emb, sub, uni, object, generation
        rows.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5],
                     "sub": parts[-4], "uni": parts[-3]})
    return rows


def info(pdf):
    out = {}
    for line in _run("pdfinfo", pdf).splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def images(pdf):
    """The PDF's images as PIL images (pdfimages -png)."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/doc.pdf"
        with open(path, "wb") as f:
            f.write(pdf)
        subprocess.run(["pdfimages", "-png", path, f"{folder}/img"], check=True, timeout=60)
        out = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".png"):
                with Image.open(f"{folder}/{name}") as image:
                    out.append(image.copy())
        return out


def image_count(pdf):
    """Images drawn (soft masks of transparent PNGs are not counted)."""
    rows = _run("pdfimages", pdf, "-list").splitlines()[2:]
    return sum(1 for row in rows if row.split()[2] == "image")


def curve_count(pdf):
    """Bézier "c" operators in the PDF's (Flate-compressed) content streams."""
    count = 0
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            data = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        count += len(re.findall(rb"(?:-?[\d.]+ ){6}c\b", data))
    return count
