"""Brevo's OpenAPI spec, read where it lives, and checks of requests and answers against it.

The spec is ../shared/specs/brevo-v3-openapi.yml from the repo root, or BREVO_OPENAPI_SPEC;
nothing is copied into the repo. spec() skips the calling test when the file is absent.
"""

import os
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings

SPEC_PATH = Path(
    os.environ.get("BREVO_OPENAPI_SPEC", Path(settings.BASE_DIR).parent / "shared/specs/brevo-v3-openapi.yml")
)


def _stringify_keys(value):
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def spec_available() -> bool:
    return SPEC_PATH.is_file()


@cache
def spec() -> dict:
    if not SPEC_PATH.is_file():
        pytest.skip(f"Brevo OpenAPI spec not found at {SPEC_PATH}")
    with SPEC_PATH.open() as handle:
        return _stringify_keys(yaml.safe_load(handle))  # PyYAML reads `200:` as int: OpenAPI wants strings


def validate(schema: dict, instance) -> None:
    """Validate against `schema` with every #/components/... $ref resolved inside the spec document."""
    document = {**spec(), **schema}
    jsonschema.Draft4Validator(document).validate(instance)


def operation(path: str, method: str) -> dict:
    return spec()["paths"][path][method]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


# Answers the sandbox gives that the spec does not declare, each copied from what Brevo was
# seen to answer (CRM-APIS.md): they are checked against errorModel instead.
UNDECLARED = {
    ("/contacts/batch", "post", "404"),  # "No contact found for indexes 3,4" (CRM-APIS.md §2.4)
}


def assert_matches(path: str, method: str, status: int, body) -> None:
    """`status` is declared for the operation and `body` (None = empty) fits its schema."""
    declared = operation(path, method)["responses"]
    status = str(status)
    if (path, method, status) in UNDECLARED:
        validate({"$ref": "#/components/schemas/errorModel"}, body)
        return
    assert status in declared, (
        f"{method.upper()} {path} answered {status}, the spec declares {sorted(declared)}"
    )
    content = _resolve(declared[status]).get("content") or {}
    if "application/json" not in content:
        assert body is None, "the spec declares no body for this answer"
        return
    validate(content["application/json"]["schema"], body)


def assert_response_matches(path: str, method: str, response) -> None:
    """A Django test-client or httpx response matches the spec."""
    body = response.json() if response.content else None
    assert_matches(path, method, response.status_code, body)


def assert_request_matches(path: str, method: str, body) -> None:
    schema = operation(path, method)["requestBody"]["content"]["application/json"]["schema"]
    validate(schema, body)
