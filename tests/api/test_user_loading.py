"""The logged-in user is loaded with one statement per request (areas joined in), and an
owner's venues are still there when the owner's scope is checked."""
from __future__ import annotations

import pytest

from server.extensions import db
from tests.statements import Statements


def _user_statements(seen):
    return [s for s in seen if "FROM users" in s or "FROM user_areas" in s or "FROM owner_venues" in s]


@pytest.mark.parametrize("username", ["inspector_a", "supervisor_a", "admin"])
def test_staff_are_loaded_with_one_statement(login, username):
    client = login(username)
    # Production begins every request with an empty session; the tests share one app context.
    db.session.commit()
    db.session.expunge_all()
    with Statements() as st:
        resp = client.get("/api/v1/venues?page_size=1")
    assert resp.status_code == 200 and resp.get_json()["items"]
    users = _user_statements(st.seen)
    assert len(users) == 1, users
    assert "user_areas" in users[0]  # the areas come with the user


def test_owner_scope_still_sees_their_venues(login, world):
    client = login("owner_a")
    resp = client.get(f"/api/v1/venues/{world.venue_a.id}")
    assert resp.status_code == 200
    assert client.get("/api/v1/auth/me").get_json()["user"]["venue_ids"] == [world.venue_a.id]
    resp = client.get(f"/api/v1/venues/{world.venue_b.id}")
    assert resp.status_code in (403, 404)
