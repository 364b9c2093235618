"""After one property sync, a second one with nothing changed writes nothing to the CRM.

Every CRM with property sync (HubSpot, Brevo, Mautic), over real HTTP, with the shipped
definitions (properties/contact.json: descriptions, checkboxes, booleans, selects, radios,
dates, numbers). Writes are counted from the sandbox's own request log, so a connector that
re-sends an unchanged definition is caught even when the sandbox accepts it silently.
"""

import json
from pathlib import Path

import pytest
import requests
from django.urls import Resolver404, resolve

import properties
from accounts.actors import Actor
from integrations.models import CrmConnection
from properties.services import property_definitions_load
from sandbox.models import SandboxRequestLog

pytestmark = pytest.mark.django_db(transaction=True)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _connection(kind: str, base: str) -> dict:
    from sandbox import credentials as c

    return {
        "hubspot": {"base_url": f"{base}/hubspot", "credentials": {"access_token": c.HUBSPOT_TOKEN}},
        "brevo": {"base_url": f"{base}/brevo/v3", "credentials": {"api_key": c.BREVO_API_KEY}},
        "mautic": {
            "base_url": f"{base}/mautic",
            "credentials": {"username": c.MAUTIC_USERNAME, "password": c.MAUTIC_PASSWORD},
        },
    }[kind]


@pytest.fixture(params=["hubspot", "brevo", "mautic"])
def crm(request, live_server, org):
    kind = request.param
    try:
        resolve(f"/sandbox/{kind}/_control/")
    except Resolver404:
        pytest.skip(f"the {kind} sandbox is not mounted")
    control = f"{live_server.url}/sandbox/{kind}/_control/"
    requests.post(f"{control}reset?config=1", timeout=10).raise_for_status()
    # The sandbox's rate limits are not under test here (the waits fixture skips the backoff).
    requests.put(control, json={"rate_limit_enabled": False}, timeout=10).raise_for_status()
    CrmConnection.objects.create(
        organization=org,
        kind=kind,
        settings={"rate_limits": {"default": None}},
        **_connection(kind, live_server.url + "/sandbox"),
    )
    return kind


@pytest.fixture
def shipped_definitions(org):
    entries = json.loads((Path(properties.__file__).parent / "contact.json").read_text(encoding="utf-8"))
    property_definitions_load(
        organization=org, object_type="contacts", entries=entries, actor=Actor.system("test")
    )
    return entries


def _writes(kind: str, after: int) -> list[str]:
    return [
        f"{entry.method} {entry.path}"
        for entry in SandboxRequestLog.objects.filter(kind=kind, pk__gt=after, method__in=WRITE_METHODS)
        .exclude(path__contains="/oauth/")
        .order_by("pk")
    ]


def _last_log_id() -> int:
    return SandboxRequestLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_a_second_sync_with_nothing_changed_writes_nothing(api_client, crm, shipped_definitions, waits):
    start = _last_log_id()
    first = api_client.post(f"/api/v1/{crm}/properties/sync/contacts")
    assert first.status_code == 200, first.json()
    assert first.json()["data"]["sync_details"]["errors"] == 0, first.json()
    assert _writes(crm, start), "the first sync created the definitions"
    mark = _last_log_id()
    # when
    second = api_client.post(f"/api/v1/{crm}/properties/sync/contacts")
    # then
    assert second.status_code == 200, second.json()
    details = second.json()["data"]["sync_details"]
    changed = {
        entry["name"]: entry.get("differences")
        for entry in second.json()["data"]["properties"]
        if entry["sync_status"] != "skipped"
    }
    assert changed == {}
    assert details["created"] == details["updated"] == details["errors"] == 0
    assert _writes(crm, mark) == []
