"""schemathesis against the live schema: every operation, a fixed budget, no 5xx, responses as
documented, every 4xx with the project's error body.

The schema is read from the running server (/api/schema/), so a new endpoint is fuzzed the day it
is added. Examples are derandomized: a run is reproducible and its length fixed (about
EXAMPLES_PER_OPERATION requests per operation, positive and negative data). It runs in CI; skip it
locally with `-m "not fuzz"`.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contacts.factories import ContactFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz]

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def fuzz_org(settings_for_fuzz, live_server):
    """An organization with a contact and every CRM connected to the sandbox CRMs of the live
    server, so syncs and credential tests reach a working CRM (never the internet)."""
    from sandbox import demo
    from tests.factories import OrganizationFactory

    settings_for_fuzz.CRM_SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    organization = OrganizationFactory(name="Fuzz", slug="fuzz")
    ContactFactory(organization=organization, email="fuzz@example.com")
    demo.seed(organization)
    return organization


@pytest.fixture
def settings_for_fuzz(settings):
    # Every request carries a valid key; nothing here is a guesser to throttle.
    settings.API_KEY_FAILURE_LIMIT = 1_000_000
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min"}}
    return settings


@pytest.fixture
def auth_headers(fuzz_org):
    from accounts.services import api_key_create

    _, raw_key = api_key_create(organization=fuzz_org, name="fuzz", scopes=["admin"])
    return {"Authorization": f"Api-Key {raw_key}"}


def error_body_on_4xx(ctx, response, case):
    """Every 4xx answer is the project's error body, whatever the operation documents."""
    if 400 <= response.status_code < 500:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise AssertionError(f"{response.status_code} without a JSON body: {response.content[:200]!r}")
        missing = {"error", "code", "details"} - set(body if isinstance(body, dict) else ())
        assert not missing, f"{response.status_code} body lacks {sorted(missing)}: {body}"
        assert isinstance(body["details"], dict), body


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation, from the schema the app generates: one test each."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted((method.upper(), path) for path, item in paths.items() for method in item)


_LOADED: dict[str, object] = {}


def _live_schema(url: str):
    """The schema as the live server serves it, loaded once per server."""
    if url not in _LOADED:
        _LOADED[url] = schemathesis.openapi.from_url(f"{url}/api/schema/?format=json")
    return _LOADED[url]


@pytest.mark.parametrize("method,path", _operations())
def test_operation(live_server, fuzz_org, auth_headers, method, path):
    operation = _live_schema(live_server.url)[path][method]
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        response = case.call(headers=auth_headers, timeout=30)
        try:
            case.validate_response(
                response, checks=CHECKS, additional_checks=[error_body_on_4xx], headers=auth_headers
            )
        except AssertionError as exc:
            failures.append(f"{case.as_curl_command(headers=auth_headers)}\n{exc}")
            raise

    fuzz()
