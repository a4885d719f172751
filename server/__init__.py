"""Firesweep application factory."""
from __future__ import annotations

from flask import Flask

from server.config import load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config → extensions → error handlers → blueprints → CLI."""
    app = Flask(__name__, static_folder=None, instance_relative_config=False)
    app.config.update(load_config(config))
    init_extensions(app)
    init_errors(app)
    init_blueprints(app)
    init_cli(app)
    return app


def init_extensions(app: Flask) -> None:
    from server import auth, database
    from server.extensions import api, db, limiter, migrate

    db.init_app(app)
    database.init_engine_events(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR") or _migrations_dir()))
    limiter.init_app(app)
    auth.init_app(app)
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})


def init_errors(app: Flask) -> None:
    from server.errors import register_error_handlers

    register_error_handlers(app)


def init_blueprints(app: Flask) -> None:
    from server.api import register_blueprints

    register_blueprints(app)


def init_cli(app: Flask) -> None:
    from server.cli import register_cli

    register_cli(app)


def _migrations_dir():
    from server.config import ROOT

    return ROOT / "migrations"
