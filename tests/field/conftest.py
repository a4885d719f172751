"""Local fixture override: the shared `db` fixture keeps one app context pushed for the whole
test, so every test request shares `flask.g`, where Flask-Login caches the logged-in user — a
second logged-in client would silently act as the first. These clients drop that cache before
each request. (Reported to the lead; remove once tests/conftest.py does this itself.)"""
from __future__ import annotations

import pytest
from flask import g

from tests.conftest import ApiClient


class FreshUserClient(ApiClient):
    def _fresh(self):
        g.pop("_login_user", None)

    def get(self, url, **kw):
        self._fresh()
        return super().get(url, **kw)

    def post(self, url, **kw):
        self._fresh()
        return super().post(url, **kw)

    def patch(self, url, **kw):
        self._fresh()
        return super().patch(url, **kw)

    def delete(self, url, **kw):
        self._fresh()
        return super().delete(url, **kw)


@pytest.fixture
def login(app, world):
    def _login(username):
        return FreshUserClient(app).login(username)
    return _login
