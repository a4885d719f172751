"""The OpenAPI document is valid OpenAPI 3.0 and documents every operation; the docs page
works offline (no asset from another host)."""
from __future__ import annotations

import re

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def test_openapi_document_validates_against_the_official_3_0_schema(spec):
    # The official OAS 3.0 JSON Schema ships inside schemathesis (a test dependency), so this
    # runs offline; openapi-spec-validator is not among our dependencies.
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    assert spec["openapi"].startswith("3.0")
    validator = jsonschema_rs.Draft4Validator(definitions.OPENAPI_30)
    problems = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(spec)]
    assert problems == []


def test_the_validator_would_catch_a_broken_document(spec):
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    broken = dict(spec, paths={"/x": {"get": {"responses": {"200": {}}}}})  # a response needs a description
    assert not jsonschema_rs.Draft4Validator(definitions.OPENAPI_30).is_valid(broken)


def test_every_operation_has_a_summary_or_description(spec):
    undocumented = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS and not (op.get("summary") or op.get("description"))
    ]
    assert undocumented == []


def test_venue_endpoints_are_in_the_document(spec):
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/venues"])
    assert "post" in paths["/api/v1/venues/import"]
    assert "multipart/form-data" in paths["/api/v1/venues/import"]["post"]["requestBody"]["content"]
    export = paths["/api/v1/venues/export"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]


def test_docs_page_loads_with_local_assets_only(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert not re.search(r"https?://", html), "the docs page must not load anything from the internet"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "expected the Swagger UI script and stylesheet"
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.data) > 0, url
        asset.close()
