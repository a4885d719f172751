"""Server-side message catalogue (Simplified Chinese default, English available).

Messages live in server/locales/<locale>/<domain>.json as flat dotted keys (one file per
domain so each area of the code owns its own messages); all files of a locale are merged. The locale of a request
comes from `?lang=`, then `Accept-Language`; services never need it.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_DIR = Path(__file__).parent / "locales"


@lru_cache(maxsize=None)
def catalogue(locale: str) -> dict:
    merged: dict = {}
    for path in sorted((_DIR / locale).glob("*.json")):
        with open(path, encoding="utf-8") as fh:
            for key, text in json.load(fh).items():
                if key in merged:
                    raise ValueError(f"message key {key!r} defined twice ({path.name})")
                merged[key] = text
    return merged


def negotiate(header: str | None, explicit: str | None = None) -> str:
    """Pick zh-CN or en from an explicit choice or an Accept-Language header."""
    for candidate in [explicit or ""] + [p.split(";")[0].strip() for p in (header or "").split(",")]:
        c = candidate.lower()
        if c.startswith("en"):
            return "en"
        if c.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LOCALE


def current_locale() -> str:
    from flask import has_request_context, request

    if not has_request_context():
        return DEFAULT_LOCALE
    return negotiate(request.headers.get("Accept-Language"), request.args.get("lang"))


def translate(key: str, locale: str | None = None, **params) -> str:
    locale = locale or current_locale()
    text = catalogue(locale).get(key) or catalogue(DEFAULT_LOCALE).get(key) or key
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text
