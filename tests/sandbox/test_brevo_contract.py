"""The Brevo sandbox's requests and responses validate against Brevo's OpenAPI spec.

The spec is read where it lives (../shared/specs/brevo-v3-openapi.yml from the repo root,
or BREVO_OPENAPI_SPEC); nothing is copied into the repo. Skipped only when the file is absent.
"""

import json
import os
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings

pytestmark = pytest.mark.django_db
BASE = "/sandbox/brevo/v3"
SPEC_PATH = Path(
    os.environ.get("BREVO_OPENAPI_SPEC", Path(settings.BASE_DIR).parent / "shared/specs/brevo-v3-openapi.yml")
)


def _stringify_keys(value):
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


@cache
def spec() -> dict:
    if not SPEC_PATH.is_file():
        pytest.skip(f"Brevo OpenAPI spec not found at {SPEC_PATH}")
    with SPEC_PATH.open() as handle:
        return _stringify_keys(yaml.safe_load(handle))  # PyYAML reads `200:` as int: OpenAPI wants strings


def _validate(schema: dict, instance) -> None:
    """Validate against `schema` with every #/components/... $ref resolved inside the spec document."""
    document = {**spec(), **schema}
    jsonschema.Draft4Validator(document).validate(instance)


def _operation(path: str, method: str) -> dict:
    return spec()["paths"][path][method]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def assert_response_matches(path: str, method: str, response) -> None:
    declared = _operation(path, method)["responses"]
    status = str(response.status_code)
    assert status in declared, (
        f"{method.upper()} {path} answered {status}, the spec declares {sorted(declared)}"
    )
    content = _resolve(declared[status]).get("content") or {}
    if "application/json" not in content:
        assert response.content == b"", "the spec declares no body for this answer"
        return
    _validate(content["application/json"]["schema"], response.json())


def assert_request_matches(path: str, method: str, body) -> None:
    schema = _operation(path, method)["requestBody"]["content"]["application/json"]["schema"]
    _validate(schema, body)


def call(client, method, path, spec_path, body=None):
    if body is not None:
        assert_request_matches(spec_path, method, body)
    response = getattr(client, method)(
        f"{BASE}{path}", data=json.dumps(body) if body is not None else None, content_type="application/json"
    )
    assert_response_matches(spec_path, method, response)
    return response


def test_contacts_endpoints_match_the_spec(brevo):
    create = {"email": "c@x.com", "attributes": {"FIRSTNAME": "Cy", "LASTNAME": "Lo"}, "updateEnabled": True}
    contact_id = call(brevo, "post", "/contacts", "/contacts", create).json()["id"]
    call(brevo, "post", "/contacts", "/contacts", {**create, "attributes": {"FIRSTNAME": "C2"}})  # 204
    call(brevo, "post", "/contacts", "/contacts", {"email": "c@x.com"})  # 400 duplicate, contactErrorModel
    call(brevo, "post", "/contacts", "/contacts", {"email": "not-an-email"})  # 400
    call(
        brevo,
        "get",
        "/contacts?limit=10&offset=0&sort=asc&modifiedSince=2020-01-01T00:00:00.000Z",
        "/contacts",
    )
    call(brevo, "get", "/contacts?limit=5000", "/contacts")  # 400 errorModel
    call(brevo, "get", "/contacts/c%40x.com", "/contacts/{identifier}")
    call(brevo, "get", f"/contacts/{contact_id}", "/contacts/{identifier}")
    call(brevo, "get", "/contacts/nobody%40x.com", "/contacts/{identifier}")  # 404
    call(
        brevo, "put", f"/contacts/{contact_id}", "/contacts/{identifier}", {"attributes": {"LASTNAME": "L2"}}
    )
    call(
        brevo, "put", "/contacts/nobody%40x.com", "/contacts/{identifier}", {"attributes": {"LASTNAME": "x"}}
    )
    call(brevo, "delete", f"/contacts/{contact_id}", "/contacts/{identifier}")
    call(brevo, "delete", f"/contacts/{contact_id}", "/contacts/{identifier}")  # 404


def test_import_and_process_match_the_spec(brevo):
    body = {
        "jsonBody": [{"email": "i@x.com", "attributes": {"FIRSTNAME": "Imp"}}],
        "listIds": [3],
        "updateExistingContacts": True,
        "emptyContactsAttributes": False,
    }
    process_id = call(brevo, "post", "/contacts/import", "/contacts/import", body).json()["processId"]
    call(brevo, "post", "/contacts/import", "/contacts/import", {"listIds": [3]})  # 400
    call(brevo, "get", f"/processes/{process_id}", "/processes/{processId}")
    call(brevo, "get", "/processes/987654", "/processes/{processId}")  # 404


def test_attributes_and_account_match_the_spec(brevo):
    path = "/contacts/attributes/{attributeCategory}/{attributeName}"
    call(brevo, "post", "/contacts/attributes/normal/COMPANY", path, {"type": "text"})
    call(brevo, "post", "/contacts/attributes/normal/COMPANY", path, {"type": "text"})  # 400 duplicate
    call(
        brevo,
        "post",
        "/contacts/attributes/category/TIER",
        path,
        {"enumeration": [{"value": 1, "label": "Gold"}]},
    )
    call(
        brevo,
        "put",
        "/contacts/attributes/category/TIER",
        path,
        {"enumeration": [{"value": 2, "label": "Silver"}]},
    )
    call(
        brevo,
        "put",
        "/contacts/attributes/normal/MISSING",
        path,
        {"enumeration": [{"value": 2, "label": "S"}]},
    )
    call(brevo, "delete", "/contacts/attributes/normal/COMPANY", path)
    call(brevo, "get", "/contacts/attributes", "/contacts/attributes")
    call(brevo, "get", "/account", "/account")


def test_rate_limited_answer_matches_the_error_model_shape(brevo, configure):
    """The spec's errorModel enum has no rate-limit code; the 429 keeps its shape (code, message strings)."""
    configure(
        "brevo",
        rate_limit_enabled=True,
        rate_limits={"contacts": {"max": 1, "interval_ms": 3_600_000, "slot_ms": 60_000}},
    )
    brevo.get(f"{BASE}/contacts")
    refused = brevo.get(f"{BASE}/contacts")
    assert refused.status_code == 429
    assert "429" in _operation("/contacts", "get")["responses"]
    error_model = json.loads(json.dumps(spec()["components"]["schemas"]["errorModel"]))
    error_model["properties"]["code"].pop("enum")
    _validate(error_model, refused.json())
