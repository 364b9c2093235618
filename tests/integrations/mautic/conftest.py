import json
from pathlib import Path

import pytest

from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import _local_backend

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://mautic.example.com"
USERNAME = "api-user"
PASSWORD = "mautic-password-0123"
CONNECTORS = ["integrations.connectors.mautic.MauticConnector"]


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the Mautic connector, a fresh registry, and fresh process-local rate limits."""
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
            "kind": "mautic",
            "name": "mautic",
            "base_url": BASE,
            "credentials": {"username": USERNAME, "password": PASSWORD},
            "settings": {},
        }
        values.update(overrides)
        return CrmConnection.objects.create(**values)

    return make


@pytest.fixture
def connection(make_connection):
    return make_connection()
