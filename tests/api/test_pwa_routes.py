"""The PWA's files as the server hands them out: the shell for every app route (deep links),
the worker at the root with the whole app as its scope, files revalidated on every fetch, and
nothing outside the shell's own folders."""
from __future__ import annotations

import pytest


def fetch(client, path):
    """GET with the body read and the file closed (send_from_directory streams an open file)."""
    resp = client.get(path)
    resp.body = resp.get_data()
    resp.close()
    return resp


@pytest.mark.parametrize("path", ["/", "/login", "/sync", "/venues", "/venues/abc",
                                  "/inspections/abc/notice", "/campaigns/abc"])
def test_every_app_route_is_the_shell(client, path):
    resp = fetch(client, path)
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "<title>消防隐患排查整治</title>" in resp.body.decode()


def test_worker_is_served_from_the_root_for_the_whole_app(client):
    resp = fetch(client, "/service-worker.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "const VERSION = '" in resp.body.decode()


@pytest.mark.parametrize("path, mimetype", [("/js/main.js", "text/javascript"),
                                            ("/locales/zh-CN.json", "application/json"),
                                            ("/icons/icon-192.png", "image/png"),
                                            ("/manifest.webmanifest", "application/manifest+json")])
def test_shell_files(client, path, mimetype):
    resp = fetch(client, path)
    assert resp.status_code == 200 and resp.body
    assert resp.mimetype == mimetype
    assert resp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/css/app.css",             # the CSS is inline in index.html
                                  "/js/../../server/config.py", "/js/%2e%2e/%2e%2e/wsgi.py",
                                  "/js/server.py", "/server/config.py", "/icons/nothing.png"])
def test_nothing_else_is_served(client, path):
    resp = fetch(client, path)
    assert resp.status_code == 404
    assert b"SECRET_KEY" not in resp.body and b"import" not in resp.body
