"""Serves the PWA: the shell at /, its files, and the service worker at /service-worker.js."""
from __future__ import annotations

from flask import Blueprint, send_from_directory

from server.config import ROOT

PWA_DIR = ROOT / "pwa"
bp = Blueprint("pwa", __name__)


@bp.get("/")
def index():
    return send_from_directory(PWA_DIR, "index.html", max_age=0)


@bp.get("/service-worker.js")
def service_worker():
    resp = send_from_directory(PWA_DIR, "service-worker.js", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp
