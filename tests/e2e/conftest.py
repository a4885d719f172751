"""End-to-end fixtures: the real app served by Werkzeug on 127.0.0.1 (port 0) in a thread,
against its own temp SQLite database (PostgreSQL when DATABASE_URL says so), seeded through
the services/factories; Debian's Chromium driven by pytest-playwright.

Every request that reaches the server is counted by a WSGI middleware, so a test can prove
the phone was really offline (nothing arrived) rather than merely slow.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import pytest
from werkzeug.serving import make_server

from server import create_app
from server.extensions import db as _db
from server.extensions import limiter
from tests import factories
from tests.conftest import _wipe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's Chromium, never a downloaded one (`playwright install` is not used)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    """A 360 px phone held in one hand; Chinese first."""
    return {"viewport": {"width": 360, "height": 740}, "locale": "zh-CN",
            "service_workers": "allow", "permissions": ["geolocation"],
            "geolocation": {"latitude": 29.887, "longitude": 121.844, "accuracy": 12}}


class RequestCounter:
    """WSGI middleware: remembers every (method, path) that reached the server."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        return self.wsgi_app(environ, start_response)

    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def since(self, n: int) -> list[tuple[str, str]]:
        with self.lock:
            return self.seen[n:]


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.counter = RequestCounter(app.wsgi_app)
        app.wsgi_app = self.counter
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def has_rule(self, rule: str) -> bool:
        return any(r.rule == rule for r in self.app.url_map.iter_rules())

    def require(self, *rules: str) -> None:
        """Fail with the exact route when a server piece this test drives is missing."""
        missing = [r for r in rules if not self.has_rule(r)]
        assert not missing, "server endpoints missing: " + ", ".join(missing)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    url = os.environ.get("DATABASE_URL") or "sqlite:///" + str(tmp_path_factory.mktemp("e2e-db") / "e2e.db")
    app = create_app({
        "ENV_NAME": "test",
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("e2e-instance")),
        "SQLALCHEMY_DATABASE_URI": url,
        "BLOB_DIR": str(tmp_path_factory.mktemp("e2e-blobs")),
    })
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep failure output readable
    server = LiveServer(app)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def seed_reference():
    """The real checklists, legal bases and calendar data (server/data) through their loader."""
    from server.services import reference

    reference.load_all()


@pytest.fixture
def world(live_server):
    """A clean database with the factories' small district and the reference data."""
    _wipe(live_server.app)
    limiter.reset()
    with live_server.app.app_context():
        w = factories.build_world()
        seed_reference()
        ids = {name: u.id for name, u in w.users.items()}
        out = {"users": ids, "venue_a": w.venue_a.id, "venue_a_name": w.venue_a.name,
               "grid_a": w.grid_a.id}
    yield out
    with live_server.app.app_context():
        _db.session.remove()


def jpeg_bytes(seed: int, size=(1600, 1200)) -> bytes:
    """A small, distinct JPEG per seed (Pillow), standing in for a camera photo."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(img)
    for i in range(12):
        draw.rectangle([i * 40 + seed, i * 30, i * 40 + 200 + seed, i * 30 + 120],
                       fill=((i * 20 + seed) % 256, 255 - i * 15, (seed * 7) % 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def photo_files(tmp_path):
    def make(n, start=1):
        paths = []
        for i in range(start, start + n):
            p = tmp_path / f"photo-{i}.jpg"
            p.write_bytes(jpeg_bytes(i))
            paths.append(str(p))
        return paths
    return make


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
