"""Serves the PWA: the shell at / (and at every app route, so deep links work), its files,
the web manifest, and the service worker at /service-worker.js (never cached by HTTP, so
an update is seen on the next check).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

from server.config import ROOT

PWA_DIR = ROOT / "pwa"
bp = Blueprint("pwa", __name__)

# Client-side routes of the single-page app (pwa/js/main.js); keep in step with APP_ROUTES in
# pwa/service-worker.js. A navigation to one of them gets the shell.
APP_ROUTES = ("/", "/login", "/sync", "/venues", "/venues/<venue_id>", "/inspections/<inspection_id>",
              "/inspections/<inspection_id>/notice", "/campaigns/<campaign_id>")


def _dir():
    """pwa/ (PWA_DIR in config lets a test serve a changed copy, e.g. a new worker version)."""
    return Path(current_app.config.get("PWA_DIR") or PWA_DIR)


def _no_cache(resp):
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def shell(**_ids):
    """The app shell; the router in main.js renders the view for the path."""
    return _no_cache(send_from_directory(_dir(), "index.html", max_age=0))


for _rule in APP_ROUTES:
    bp.add_url_rule(_rule, "shell", shell, methods=["GET"])


@bp.get("/service-worker.js")
def service_worker():
    resp = send_from_directory(_dir(), "service-worker.js", max_age=0, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/"
    return _no_cache(resp)


@bp.get("/manifest.webmanifest")
def manifest():
    return _no_cache(send_from_directory(_dir(), "manifest.webmanifest", max_age=0,
                                         mimetype="application/manifest+json"))


@bp.get("/<any(js, locales, icons):folder>/<path:filename>")
def asset(folder, filename):
    """Shell files. Revalidated on every fetch; offline they come from the worker's cache."""
    if filename.endswith(".py"):
        abort(404)
    mimetype = "text/javascript" if filename.endswith(".js") else None
    resp = send_from_directory(_dir() / folder, filename, max_age=0, mimetype=mimetype)
    return _no_cache(resp)
