import json
from pathlib import Path

import pytest

from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import _local_backend

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://n8n.example.com/webhook/crm-sync-contacts"
HEADER_NAME = "X-N8N-Api-Key"
HEADER_VALUE = "n8n-header-secret-0123"
SECRET = "n8n-hmac-secret-0123"
CONNECTORS = ["integrations.connectors.n8n.N8nConnector"]


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the n8n connector, a fresh registry, and fresh process-local rate limits."""
    settings.CRM_CONNECTORS = CONNECTORS
    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    monkeypatch.setattr(registry, "_registry", None)
    _local_backend.reset()
    yield
    _local_backend.reset()


@pytest.fixture
def make_connection(org):
    def make(**overrides):
        values = {
            "organization": org,
            "kind": "n8n",
            "name": "n8n",
            "base_url": URL,
            "credentials": {
                "header_name": HEADER_NAME,
                "header_value": HEADER_VALUE,
                "signing_secret": SECRET,
            },
            "settings": {},
        }
        values.update(overrides)
        return CrmConnection.objects.create(**values)

    return make


@pytest.fixture
def connection(make_connection):
    return make_connection()
