"""Shared by the rest, brivity and topproducer tests: registry, limits, connections, mocks."""

import itertools

import pytest

from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import _local_backend

CONNECTORS = [
    "integrations.connectors.rest.RestConnector",
    "integrations.connectors.brivity.BrivityConnector",
    "integrations.connectors.topproducer.TopProducerConnector",
]


@pytest.fixture(autouse=True)
def _registry_and_limits(settings, monkeypatch):
    """Only these connectors (others may not import yet), a fresh registry and fresh local limits."""
    settings.CRM_CONNECTORS = CONNECTORS
    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    monkeypatch.setattr(registry, "_registry", None)
    _local_backend.reset()
    yield
    _local_backend.reset()


@pytest.fixture
def make_connection(org):
    """`make_connection(kind=..., settings=..., credentials=..., base_url=...)` → a saved CrmConnection."""

    names = itertools.count(1)

    def make(kind="rest", **overrides):
        name = f"{kind}-{next(names)}"
        values = {"organization": org, "kind": kind, "name": name, "credentials": {}, "settings": {}}
        values.update(overrides)
        return CrmConnection.objects.create(**values)

    return make


def query(request) -> dict:
    """The query parameters of a recorded request, single values as strings."""
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(urlsplit(request.url).query).items()}
