"""Every error has one shape: {code, status, message, reason[, errors]}; Chinese by default,
English with `Accept-Language: en`."""
from __future__ import annotations

import re
from http import HTTPStatus

import pytest

from server import create_app
from server.i18n import translate
from tests.conftest import ApiClient

V = "/api/v1/venues"
CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_error(resp, status: int, reason: str, lang: str = "zh-CN", *, with_errors: bool = False) -> dict:
    body = resp.get_json()
    assert resp.status_code == status, body
    expected_keys = {"code", "status", "message", "reason"} | ({"errors"} if with_errors else set())
    assert set(body) == expected_keys, body
    assert body["code"] == status and body["status"] == HTTPStatus(status).phrase
    assert body["reason"] == reason
    assert resp.headers["Content-Type"].startswith("application/json")
    assert body["message"] == translate(f"errors.{reason}", lang, **_params(body, reason))
    if lang == "zh-CN":
        assert CJK.search(body["message"]), body["message"]
    else:
        assert not CJK.search(body["message"].replace("inspector_a", "")), body["message"]
    return body


def _params(body, reason):
    # The few messages with parameters: recover them from the request the test made.
    return {"username_taken": {"username": "inspector_a"}, "venue_code_taken": {"code": "BL-1"},
            "venue_not_found": {"id": "00000000-0000-4000-8000-000000000000"}}.get(reason, {})


LANGS = [pytest.param({}, "zh-CN", id="zh"), pytest.param({"Accept-Language": "en-US,en;q=0.9"}, "en", id="en")]


@pytest.mark.parametrize("headers,lang", LANGS)
def test_400_malformed_json(login, headers, lang):
    resp = login("admin").post(V, data="{not json", content_type="application/json", headers=headers)
    body = resp.get_json()
    # webargs reports the unparsable body under "json"; the shape is the same as any 4xx
    assert resp.status_code == 400 and set(body) == {"code", "status", "message", "reason", "errors"}
    assert (body["code"], body["status"], body["reason"]) == (400, "Bad Request", "bad_request")
    assert body["message"] == translate("errors.bad_request", lang)
    assert body["errors"] == {"json": ["Invalid JSON body."]}


@pytest.mark.parametrize("headers,lang", LANGS)
def test_401_not_logged_in(client, headers, lang):
    assert_error(client.get(V, headers=headers), 401, "login_required", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_403_role(login, world, headers, lang):
    resp = login("inspector_a").post(f"{V}/{world.venue_a.id}/archive", headers=headers)
    assert_error(resp, 403, "role_forbidden", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_403_scope(login, world, headers, lang):
    assert_error(login("inspector_a").get(f"{V}/{world.venue_b.id}", headers=headers), 403, "out_of_scope", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_403_csrf(login, world, headers, lang):
    c = login("admin")
    resp = c.raw.post(V, json={"name": "x"}, headers=headers)  # no X-CSRF-Token header
    assert_error(resp, 403, "csrf_failed", lang)
    resp = c.raw.post(V, json={"name": "x"}, headers={**headers, "X-CSRF-Token": "forged"})
    assert_error(resp, 403, "csrf_failed", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_404_unknown_url(client, headers, lang):
    assert_error(client.get("/api/v1/no-such-thing", headers=headers), 404, "not_found", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_404_unknown_id(login, headers, lang):
    resp = login("admin").get(f"{V}/00000000-0000-4000-8000-000000000000", headers=headers)
    assert_error(resp, 404, "venue_not_found", lang)


@pytest.mark.parametrize("headers,lang", LANGS)
def test_405_names_the_allowed_methods(login, headers, lang):
    resp = login("admin").put(V, json={}, headers=headers)
    assert_error(resp, 405, "method_not_allowed", lang)
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS", "POST"}


@pytest.mark.parametrize("headers,lang", LANGS)
def test_409_duplicate_username_and_venue_code(login, world, headers, lang):
    c = login("admin")
    resp = c.post("/api/v1/users", headers=headers, json={
        "username": "inspector_a", "password": "long-enough-1", "display_name": "重名", "role": "admin"})
    assert_error(resp, 409, "username_taken", lang)
    new = {"code": "BL-1", "name": "甲", "type": "other", "address": "乙路 1 号", "area_id": world.grid_a.id}
    assert c.post(V, json=new).status_code == 201
    body = assert_error(c.post(V, json=new, headers=headers), 409, "venue_code_taken", lang, with_errors=True)
    assert body["errors"] == {"code": ["taken"]}


@pytest.mark.parametrize("headers,lang", LANGS)
def test_422_validation_and_unknown_fields(login, world, headers, lang):
    c = login("admin")
    body = assert_error(c.post(V, json={"type": "castle", "colour": "red"}, headers=headers),
                        422, "invalid_input", lang, with_errors=True)
    assert set(body["errors"]["json"]) == {"name", "address", "area_id", "type", "colour"}
    assert body["errors"]["json"]["colour"] == ["Unknown field."]
    body = assert_error(c.get(V, query_string={"page": 0, "risk_level": "extreme"}, headers=headers),
                        422, "invalid_input", lang, with_errors=True)
    assert set(body["errors"]["query"]) == {"page", "risk_level"}


@pytest.fixture
def fresh_app(app):
    """A separate app on the same database, for config the session app does not have."""
    apps = []

    def make(**config):
        new = create_app({"ENV_NAME": "test", "INSTANCE_DIR": app.config["INSTANCE_DIR"],
                          "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **config})
        apps.append(new)
        return new

    yield make
    from server.extensions import db, limiter

    for made in apps:
        with made.app_context():
            db.engine.dispose()
    with app.app_context():
        limiter.reset()


@pytest.mark.parametrize("headers,lang", LANGS)
def test_429_login_rate_limit(db, fresh_app, headers, lang):
    c = ApiClient(fresh_app(RATELIMIT_LOGIN="2 per minute"))
    for _ in range(2):
        resp = c.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"})
        assert_error(resp, 401, "bad_credentials")
    resp = c.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"}, headers=headers)
    assert_error(resp, 429, "rate_limited", lang)
    assert int(resp.headers["Retry-After"]) > 0


@pytest.mark.parametrize("headers,lang", LANGS)
def test_500_has_the_same_shape_and_hides_the_cause(db, fresh_app, headers, lang):
    app = fresh_app()

    @app.get("/api/v1/test-only-boom")
    def boom():
        raise RuntimeError("secret internal detail")

    resp = app.test_client().get("/api/v1/test-only-boom", headers=headers)
    body = assert_error(resp, 500, "internal_error", lang)
    assert "secret" not in resp.get_data(as_text=True) and "Traceback" not in body["message"]
