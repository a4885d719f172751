"""Interactive API documentation at /api/docs, served entirely from our own assets."""
from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory

from server.config import ROOT

ASSETS = ROOT / "server" / "static" / "swagger-ui"
bp = Blueprint("docs", __name__, template_folder=str(ROOT / "server" / "templates"))


@bp.get("/api/docs")
def index():
    return render_template("api_docs.html")


@bp.get("/api/docs/assets/<path:filename>")
def asset(filename):
    return send_from_directory(ASSETS, filename, max_age=86400)
