"""The public verify page: scan the QR on a paper notice, see whether it is genuine and in force.

It shows only what is printed on the paper anyway (number, kind, agency, date), the current
state and the PDF's SHA-256 — never the party, the hazards or anything personal.
"""
from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template

from server.extensions import limiter
from server.services import documents

bp = Blueprint("verify", __name__)

CODE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


def _rate() -> str:
    return current_app.config.get("RATELIMIT_VERIFY", "30 per minute")


@bp.route("/verify/<code>")
@limiter.limit(_rate)
def verify(code: str):
    """The document behind a verify code, or a 404 page."""
    view = documents.verify_view(code) if CODE.match(code) else None
    status = 200 if view else 404
    html = render_template("verify.html", doc=view)
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "Referrer-Policy": "no-referrer"}
    return html, status, headers
