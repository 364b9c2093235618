from pathlib import Path

import pytest

from tests.integrations.connector_fixtures import connection_maker, isolate_connectors, json_fixture

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.brevo.com/v3"
API_KEY = "xkeysib-test-0123456789abcdef"
CONNECTORS = ["integrations.connectors.brevo.BrevoConnector"]


def fixture(name: str):
    return json_fixture(FIXTURES, name)


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the Brevo connector, a fresh registry, and fresh process-local rate limits."""
    yield from isolate_connectors(settings, monkeypatch, CONNECTORS)


@pytest.fixture
def make_connection(org):
    return connection_maker(
        org,
        kind="brevo",
        name="brevo",
        credentials={"api_key": API_KEY},
        # Unlimited here: limiter behaviour has its own tests.
        settings={"rate_limits": {"default": None, "hourly": None}},
    )


@pytest.fixture
def connection(make_connection):
    return make_connection()
