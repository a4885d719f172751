"""REST API under /api/v1: one flask-smorest blueprint per resource."""
from __future__ import annotations

import importlib

from flask import Flask

from server.extensions import api

# Modules in server/api/ that define `blp` (a flask-smorest Blueprint). Order = docs order.
API_MODULES = [
    "auth",
    "blobs",
    "sync",
    "areas",
    "users",
    "venues",
    "reference",
    # "venues" and "reference" are added by the venue-register work
    "tasks",
    "inspections",
    "hazards",
    "campaigns",
    "documents",
    "numbers",
]

# Modules that define `bp` (a plain Flask blueprint, outside /api/v1 or not in OpenAPI).
PLAIN_MODULES = [
    "docs",
    "pwa",
    "verify",
]


def register_blueprints(app: Flask) -> None:
    for name in API_MODULES:
        module = importlib.import_module(f"server.api.{name}")
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.URL_PREFIX}")
    for name in PLAIN_MODULES:
        module = importlib.import_module(f"server.api.{name}")
        app.register_blueprint(module.bp)
