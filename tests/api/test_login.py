"""Logging in: the password check (argon2, ~150 ms of CPU by design) runs outside the
request's transaction, so it never holds the writers' lock (SQLite's BEGIN IMMEDIATE, the
change counter on PostgreSQL) while every phone's push waits behind it."""
from __future__ import annotations

import threading

from sqlalchemy import update

from server.extensions import db
from server.models import User
from server.services import accounts
from tests import factories
from tests.concurrency import lease_two, write_while_paused
from tests.conftest import ApiClient


def _login(app, username, password=factories.PASSWORD):
    resp = ApiClient(app).post("/api/v1/auth/login", json={"username": username, "password": password})
    return resp.status_code, resp.get_json()


def test_login_sets_last_login_and_refuses_a_wrong_password_or_an_inactive_user(app, world):
    assert [(c, b["reason"]) for c, b in (_login(app, "inspector_a", "wrong-password"), _login(app, "nobody"))] \
        == [(401, "bad_credentials")] * 2
    status, body = _login(app, "inspector_a")
    assert status == 200 and body["user"]["username"] == "inspector_a"
    db.session.expire_all()
    assert db.session.get(User, world.users["inspector_a"].id).last_login_at is not None
    db.session.execute(update(User).where(User.username == "inspector_a2").values(active=False))
    db.session.commit()
    status, body = _login(app, "inspector_a2")
    assert (status, body["reason"]) == (401, "bad_credentials")


def _paused_check(monkeypatch, during=None):
    """verify_password that signals `checking`, runs `during()`, then waits for `release`."""
    checking, release = threading.Event(), threading.Event()
    real = accounts.verify_password

    def verify(password_hash, password):
        ok = real(password_hash, password)
        checking.set()
        if during is not None:
            during()
        assert release.wait(30)
        return ok

    monkeypatch.setattr(accounts, "verify_password", verify)
    return checking, release


def test_writes_go_on_while_a_login_checks_its_password(app, world, login, monkeypatch):
    phone = login("inspector_a")
    db.session.commit()
    checking, release = _paused_check(monkeypatch)
    meanwhile, logged_in, leased = write_while_paused(app, lambda: _login(app, "inspector_a2"), checking, release,
                                                      lambda: lease_two(phone))
    assert meanwhile, "the lease waited for the login's password check"
    assert (logged_in[0], leased) == (200, 201)


def test_a_user_deactivated_during_the_password_check_is_refused(app, world, monkeypatch):
    db.session.commit()
    engine = db.engine

    def deactivate():
        # From another connection, outside the login's request (as an admin's would be); a
        # login that still held its transaction would keep it waiting.
        def write():
            with engine.begin() as conn:
                conn.execute(update(User).where(User.username == "inspector_a2").values(active=False))

        admin = threading.Thread(target=write, daemon=True)
        admin.start()
        admin.join(10)
        assert not admin.is_alive(), "the deactivation waited for the login's transaction"

    checking, release = _paused_check(monkeypatch, during=deactivate)
    release.set()
    status, body = _login(app, "inspector_a2")
    assert checking.is_set()
    assert (status, body["reason"]) == (401, "bad_credentials")
