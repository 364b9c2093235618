from pathlib import Path

import pytest

from tests.integrations.connector_fixtures import connection_maker, isolate_connectors, json_fixture

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://mautic.example.com"
USERNAME = "api-user"
PASSWORD = "mautic-password-0123"
CONNECTORS = ["integrations.connectors.mautic.MauticConnector"]


def fixture(name: str):
    return json_fixture(FIXTURES, name)


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only the Mautic connector, a fresh registry, and fresh process-local rate limits."""
    yield from isolate_connectors(settings, monkeypatch, CONNECTORS)


@pytest.fixture
def make_connection(org):
    return connection_maker(
        org,
        kind="mautic",
        name="mautic",
        base_url=BASE,
        credentials={"username": USERNAME, "password": PASSWORD},
        settings={},
    )


@pytest.fixture
def connection(make_connection):
    return make_connection()
