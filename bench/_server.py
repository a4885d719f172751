"""Shared bench plumbing: a throwaway database, a real gunicorn server, a logged-in HTTP client."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database(kind: str, tmp: Path):
    """Yield a URL for an empty SQLite file or a fresh PostgreSQL database (dropped afterwards)."""
    if kind == "sqlite":
        yield "sqlite:///" + str(tmp / "bench.db")
        return
    name = f"firesweep_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, instance: Path, workers: int = 1):
    with gunicorn_process(url, instance, workers) as (port, _proc):
        yield port


@contextmanager
def gunicorn_process(url: str, instance: Path, workers: int = 1):
    """gunicorn serving wsgi:app on a free port: yields (port, the master's Popen)."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, FIRESWEEP_ENV="development", FIRESWEEP_INSTANCE_DIR=str(instance),
               FIRESWEEP_LOGIN_RATE="1000 per minute")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(10)


class Client:
    """Keep-alive HTTP client with the session cookie and CSRF header, like the PWA."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""
        self.csrf = self.request("GET", "/api/v1/auth/csrf")[1]["csrf_token"]

    def request(self, method, path, body=None, headers=None, raw=False):
        hdrs = {"Cookie": self.cookie, "X-CSRF-Token": getattr(self, "csrf", "")}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                self.cookie = v.split(";")[0]
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
        if raw:
            return resp.status, payload, dict(resp.getheaders())
        return resp.status, json.loads(payload) if payload else None

    def login(self, username: str, password: str):
        _, body = self.request("POST", "/api/v1/auth/login", {"username": username, "password": password})
        self.csrf = body["csrf_token"]
        return self


def make_app(url: str, instance: Path):
    sys.path.insert(0, str(ROOT))
    from server import create_app

    return create_app({"ENV_NAME": "development", "INSTANCE_DIR": str(instance), "SQLALCHEMY_DATABASE_URI": url})
