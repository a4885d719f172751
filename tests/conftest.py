"""Fixtures: the app on a real database (SQLite file, or PostgreSQL when DATABASE_URL says so),
a clean database per test, API clients logged in per role.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from server import create_app
from server.extensions import db as _db
from server.extensions import limiter
from tests import factories


def _on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql"))


def pytest_collection_modifyitems(config, items):
    if _on_postgres():
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only behaviour; make test runs it in its PostgreSQL pass")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "ENV_NAME": "test",
        "INSTANCE_DIR": str(instance),
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
    })
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _wipe(app) -> None:
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db(app):
    """A clean database inside an app context."""
    _wipe(app)
    limiter.reset()
    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.remove()
    ctx.pop()


class ApiClient:
    """A test client that fetches and sends the CSRF token like the PWA does."""

    def __init__(self, app):
        self.raw = app.test_client()
        self.csrf = self.raw.get("/api/v1/auth/csrf").get_json()["csrf_token"]

    @staticmethod
    def _fresh_user():
        # Tests keep one app context pushed, so requests share flask.g, where Flask-Login caches
        # the logged-in user: without this a second client would act as the first one's user.
        from flask import g, has_app_context

        if has_app_context():
            g.pop("_login_user", None)

    def _headers(self, kw):
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("X-CSRF-Token", self.csrf)
        return headers

    def get(self, url, **kw):
        self._fresh_user()
        return self.raw.get(url, **kw)

    def head(self, url, **kw):
        self._fresh_user()
        return self.raw.head(url, **kw)

    def post(self, url, **kw):
        self._fresh_user()
        return self.raw.post(url, headers=self._headers(kw), **kw)

    def put(self, url, **kw):
        self._fresh_user()
        return self.raw.put(url, headers=self._headers(kw), **kw)

    def patch(self, url, **kw):
        self._fresh_user()
        return self.raw.patch(url, headers=self._headers(kw), **kw)

    def delete(self, url, **kw):
        self._fresh_user()
        return self.raw.delete(url, headers=self._headers(kw), **kw)

    def login(self, username, password=factories.PASSWORD):
        resp = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.get_json()
        self.csrf = resp.get_json()["csrf_token"]
        return self


@pytest.fixture
def client(app, db):
    return ApiClient(app)


@pytest.fixture
def world(db):
    """A small district: two streets with a grid each, users per role, venues in each grid."""
    return factories.build_world()


@pytest.fixture
def login(app, world):
    """login("inspector_a") → an ApiClient logged in as that user of `world`."""
    def _login(username):
        return ApiClient(app).login(username)
    return _login
