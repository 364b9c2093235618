"""Building blocks of the per-CRM conftest files: one registry, fresh limits, a connection maker."""

import json
from collections.abc import Iterator
from pathlib import Path

from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import _local_backend


def json_fixture(folder: Path, name: str):
    """A recorded payload, `<operation>__<variant>.json`, from the CRM's fixtures folder."""
    return json.loads((folder / f"{name}.json").read_text())


def isolate_connectors(settings, monkeypatch, connectors: list[str]) -> Iterator[None]:
    """Only the given connectors, a fresh registry, and fresh process-local rate limits."""
    settings.CRM_CONNECTORS = connectors
    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    monkeypatch.setattr(registry, "_registry", None)
    _local_backend.reset()
    yield
    _local_backend.reset()


def connection_maker(organization, **defaults):
    """`make(**overrides)` creating a CrmConnection of `organization` from `defaults`."""

    def make(**overrides):
        return CrmConnection.objects.create(**{"organization": organization, **defaults, **overrides})

    return make
