from pathlib import Path

import pytest

from tests.integrations.connector_fixtures import connection_maker, isolate_connectors, json_fixture

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://n8n.example.com/webhook/crm-sync-contacts"
HEADER_NAME = "X-N8N-Api-Key"
HEADER_VALUE = "n8n-header-secret-0123"
SECRET = "n8n-hmac-secret-0123"
CONNECTORS = ["integrations.connectors.n8n.N8nConnector"]


def fixture(name: str):
    return json_fixture(FIXTURES, name)


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the n8n connector, a fresh registry, and fresh process-local rate limits."""
    yield from isolate_connectors(settings, monkeypatch, CONNECTORS)


@pytest.fixture
def make_connection(org):
    return connection_maker(
        org,
        kind="n8n",
        name="n8n",
        base_url=URL,
        credentials={
            "header_name": HEADER_NAME,
            "header_value": HEADER_VALUE,
            "signing_secret": SECRET,
        },
        settings={},
    )


@pytest.fixture
def connection(make_connection):
    return make_connection()
