"""Property sync against the sandbox HubSpot over real HTTP (pytest-django live_server).

The whole stack runs: API view → services → HubSpot connector → HTTP client → sandbox
HubSpot properties API. Calls are counted from the sandbox's own request log.
"""

import random

import pytest
import requests
from django.urls import Resolver404, resolve

from integrations.models import CrmConnection
from properties.models import PropertySyncRun
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    try:
        resolve("/sandbox/hubspot/crm/v3/properties/contacts")
    except Resolver404:
        pytest.skip("the HubSpot sandbox is not mounted at /sandbox/hubspot/")


@pytest.fixture
def sandbox(live_server, org):
    """The sandbox HubSpot, reset, with a connection of `org` pointing at it."""
    from sandbox import credentials

    base = f"{live_server.url}/sandbox/hubspot"
    requests.post(f"{base}/_control/reset?config=1", timeout=10).raise_for_status()
    CrmConnection.objects.create(
        organization=org,
        kind="hubspot",
        base_url=base,
        credentials={"access_token": credentials.HUBSPOT_TOKEN},
        # The client-side limiter stays out of the way: the run's own retries are under test.
        settings={"read_timeout": 5, "rate_limits": {"default": None}},
    )

    class Sandbox:
        url = base

        def configure(self, **changes):
            requests.put(f"{base}/_control/", json=changes, timeout=10).raise_for_status()

        def requests_log(self):
            log = requests.get(f"{base}/_control/requests", params={"limit": 1000}, timeout=10).json()
            entries = log["results"] if isinstance(log, dict) else log
            return sorted(entries, key=lambda entry: entry["id"])

        def mark(self):
            log = self.requests_log()
            return log[-1]["id"] if log else 0

        def calls_since(self, mark):
            return [
                f"{e['method']} {e['path'].split('/sandbox/hubspot')[-1]}"
                for e in self.requests_log()
                if e["id"] > mark
            ]

        def remote(self, object_type="contacts"):
            response = requests.get(
                f"{base}/crm/v3/properties/{object_type}",
                headers={"Authorization": f"Bearer {credentials.HUBSPOT_TOKEN}"},
                timeout=10,
            )
            return {prop["name"]: prop for prop in response.json()["results"]}

        def create(self, object_type, body):
            response = requests.post(
                f"{base}/crm/v3/properties/{object_type}",
                json=body,
                headers={"Authorization": f"Bearer {credentials.HUBSPOT_TOKEN}"},
                timeout=10,
            )
            assert response.status_code == 201, response.text

    return Sandbox()


@pytest.fixture
def definitions(org):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="services", multi=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    PropertyDefinitionFactory(organization=org, name="event_start_date", day=True, group_name="event_details")


def test_create_update_skip_against_the_sandbox(api_client, org, sandbox, definitions, waits):
    # given: one property exists in HubSpot with another label, one is HubSpot's own
    sandbox.create(
        "contacts",
        {
            "name": "budget",
            "label": "Old budget",
            "type": "number",
            "fieldType": "number",
            "groupName": "contactinformation",
        },
    )
    PropertyDefinitionFactory(organization=org, name="firstname", label="Given name")
    # when
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    # then
    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    statuses = {entry["name"]: entry["sync_status"] for entry in data["properties"]}
    assert statuses == {
        "company_size": "created",
        "services": "created",
        "event_start_date": "created",
        "budget": "updated",
        "firstname": "skipped",
    }
    budget = next(entry for entry in data["properties"] if entry["name"] == "budget")
    assert budget["differences"]["label"] == {"local": "Budget", "crm": "Old budget"}
    assert budget["hubspot_property_id"] == "budget"
    remote = sandbox.remote()
    assert remote["budget"]["label"] == "Budget"
    assert remote["firstname"]["label"] != "Given name"  # HubSpot's own property is never touched
    assert remote["event_start_date"]["groupName"] == "event_details"
    assert [o["value"] for o in remote["services"]["options"]] == [
        "Restroom Trailer",
        "Porta Potty",
        "Shower Trailer",
    ]


def test_second_run_skips_everything_and_only_lists(api_client, org, sandbox, definitions, waits):
    # (The sandbox emulates contacts and deals, not leads, so "all" is not used here.)
    PropertyDefinitionFactory(
        organization=org, object_type="deals", name="venue", group_name="dealinformation"
    )
    for sync_type in ("contacts", "deals"):
        assert api_client.post(f"/api/v1/hubspot/properties/sync/{sync_type}").status_code == 200
    mark = sandbox.mark()
    # when
    contacts = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    deals = api_client.post("/api/v1/hubspot/properties/sync/deals")
    # then
    assert (contacts.status_code, deals.status_code) == (200, 200)
    assert contacts.json()["data"]["sync_details"] == {"created": 0, "updated": 0, "skipped": 4, "errors": 0}
    assert deals.json()["data"]["sync_details"] == {"created": 0, "updated": 0, "skipped": 1, "errors": 0}
    assert sandbox.calls_since(mark) == ["GET /crm/v3/properties/contacts", "GET /crm/v3/properties/deals"]
    assert [run.api_calls for run in PropertySyncRun.objects.order_by("-id")[:2]] == [1, 1]


def test_all_reports_leads_failing_when_the_account_has_no_leads(
    api_client, sandbox, definitions, org, waits
):
    """Like an account without Sales Hub Professional (leads switched off): 207, contacts synced."""
    PropertyDefinitionFactory(organization=org, object_type="leads", name="project_category")
    sandbox.configure(options={"leads_enabled": False})
    response = api_client.post("/api/v1/hubspot/properties/sync/all")
    assert response.status_code == 207
    details = response.json()["details"]
    assert details["successful_properties"] == 4
    assert details["data"]["contacts"]["sync_status"] == "completed"
    assert details["data"]["leads"]["sync_status"] == "failed"
    assert [failure["object_type"] for failure in details["failures"]] == ["leads"]


def _seed_for_pattern(rate: float, pattern: list[bool]) -> int:
    """A sandbox fault seed whose draws give a 429 exactly where `pattern` says (see sandbox faults_draw)."""
    for seed in range(100_000):
        draws = []
        for sequence in range(1, len(pattern) + 1):
            rng = random.Random(f"{seed}:{sequence}")
            _timeout, burst = rng.random(), rng.random()
            draws.append(burst < rate)
        if draws == pattern:
            return seed
    raise AssertionError("no seed found")


def test_429_mid_run_is_retried_and_the_run_completes(api_client, sandbox, definitions, waits):
    # given: request 1 (list) passes, request 2 (first write) is a 429, the next ones pass
    seed = _seed_for_pattern(0.5, [False, True, False, False, False, False])
    sandbox.configure(seed=seed, burst_429_rate=0.5)
    mark = sandbox.mark()
    # when
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    sandbox.configure(burst_429_rate=0.0)
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["sync_details"]["created"] == 4
    statuses = [entry["status"] for entry in sandbox.requests_log() if entry["id"] > mark]
    assert 429 in statuses
    assert len(waits) == 1
    assert set(sandbox.remote()) >= {"company_size", "services", "budget", "event_start_date"}


def test_partial_failure_is_207(api_client, sandbox, definitions, waits):
    # given: HubSpot already has `budget` as a string
    sandbox.create(
        "contacts",
        {
            "name": "budget",
            "label": "Budget",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    # when
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    # then
    assert response.status_code == 207
    details = response.json()["details"]
    assert (details["successful_properties"], details["failed_properties"]) == (3, 1)
    [failure] = details["failures"]
    assert failure["property"] == "budget"
    assert "different type" in failure["error"]
    assert sandbox.remote()["budget"]["type"] == "string"  # refused, never attempted


def test_dry_run_changes_nothing_in_the_sandbox(api_client, sandbox, definitions):
    mark = sandbox.mark()
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts?dry_run=true")
    assert response.status_code == 200
    assert response.json()["data"]["contacts"]["summary"]["create"] == 4
    assert sandbox.calls_since(mark) == ["GET /crm/v3/properties/contacts"]
    assert "company_size" not in sandbox.remote()


def test_wrong_token_is_a_502_auth_error(api_client, org, sandbox, definitions):
    CrmConnection.objects.filter(organization=org).update(credentials={"access_token": "wrong-token-0000"})
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    assert response.status_code == 502
    assert response.json()["code"] == "crm_auth"
    assert "wrong-token" not in response.content.decode()
    assert PropertySyncRun.objects.get().status == "failed"


def test_all_syncs_contacts_and_leads_when_the_account_has_leads(
    api_client, sandbox, definitions, org, waits
):
    PropertyDefinitionFactory(organization=org, object_type="leads", name="project_category")
    response = api_client.post("/api/v1/hubspot/properties/sync/all")
    assert response.status_code == 200, response.json()
    assert sandbox.calls_since(0).count("GET /crm/v3/properties/leads") == 1
    assert "project_category" in sandbox.remote("leads")
