import json
from pathlib import Path

import pytest

from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import _local_backend

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.brevo.com/v3"
API_KEY = "xkeysib-test-0123456789abcdef"
CONNECTORS = ["integrations.connectors.brevo.BrevoConnector"]


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the Brevo connector, a fresh registry, and fresh process-local rate limits."""
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
            "kind": "brevo",
            "name": "brevo",
            "credentials": {"api_key": API_KEY},
            # Unlimited here: limiter behaviour has its own tests.
            "settings": {"rate_limits": {"default": None, "hourly": None}},
        }
        values.update(overrides)
        return CrmConnection.objects.create(**values)

    return make


@pytest.fixture
def connection(make_connection):
    return make_connection()
