"""HubSpot connector against the sandbox HubSpot over real HTTP (pytest-django live_server).

Faults are injected per request with the sandbox's X-Sandbox-Fault header, sent through the
connection's generic `settings["headers"]` (the connector has no sandbox branch).
"""

import pytest
from django.urls import Resolver404, resolve

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.hubspot import HubSpotConnector
from sandbox.config import config_update
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _sandbox_routed() -> bool:
    try:
        resolve("/sandbox/hubspot/account-info/v3/details")
    except Resolver404:
        return False
    return True


@pytest.fixture(autouse=True)
def _needs_sandbox():
    if not _sandbox_routed():
        pytest.skip("the HubSpot sandbox is not mounted at /sandbox/hubspot/ (sandbox/urls.py)")


def _token():
    from sandbox import credentials

    return credentials.HUBSPOT_TOKEN


@pytest.fixture
def make_connector(live_server):
    def make(*, fault: str | None = None, token: str | None = None, **settings) -> HubSpotConnector:
        if fault:
            settings["headers"] = {"X-Sandbox-Fault": fault}
        connection = CrmConnectionFactory(
            base_url=f"{live_server.url}/sandbox/hubspot",
            credentials={"access_token": token or _token()},
            settings={"read_timeout": 3, **settings},
        )
        return HubSpotConnector(connection)

    return make


def contact(n: int, email: str | None = None) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}",
        email=email if email is not None else f"sandbox{n}@example.com",
        properties={"first_name": f"First{n}", "last_name": "Sandbox", "company": "Acme"},
    )


def test_credential_test(make_connector):
    check = make_connector().test_credentials()
    assert check.ok and check.account["portalId"]


def test_wrong_token_is_refused(make_connector):
    check = make_connector(token="wrong-token-0000").test_credentials()
    assert check.ok is False and check.message


def test_push_creates_then_updates_and_pull_reads_back(make_connector):
    connector = make_connector()
    first = connector.push_contacts([contact(1), contact(2)])
    assert all(r.ok and r.created for r in first)
    again = connector.push_contacts([contact(1)])
    assert again[0].ok and again[0].created is False and again[0].remote_id == first[0].remote_id
    pulled = [r for page in connector.pull_contacts(since=None) for r in page.records]
    assert {"sandbox1@example.com", "sandbox2@example.com"} <= {r.email for r in pulled}


def test_push_207_partial_failure(make_connector):
    results = make_connector().push_contacts([contact(1), contact(2, email="not-an-email"), contact(3)])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error.category == "validation"


def test_whole_batch_failure_is_resplit(make_connector):
    results = make_connector(fault="batch").push_contacts(
        [contact(n) for n in range(4)] + [contact(9, "bad@")]
    )
    assert [r.ok for r in results] == [True] * 4 + [False]


@pytest.mark.parametrize(
    ("fault", "category", "retry_after"),
    [
        ("429,retry-after=3", "rate_limited", 3.0),
        ("429", "rate_limited", None),
        ("423", "locked", 2.0),
        ("503", "unavailable", None),
        ("malformed", "unavailable", None),
        ("timeout", "timeout", None),
    ],
)
def test_injected_faults_map_to_the_taxonomy(make_connector, fault, category, retry_after):
    options = {}
    if fault == "timeout":
        # The sandbox hangs past the client's read timeout, but not for its default 35 s.
        config_update(kind="hubspot", changes={"timeout_seconds": 1})
        options["read_timeout"] = 0.5
    [result] = make_connector(fault=fault, **options).push_contacts([contact(1)])
    assert result.ok is False
    assert result.error.category == category
    if retry_after is not None:
        assert result.error.retry_after == retry_after


def test_properties_round_trip(make_connector):
    connector = make_connector()
    connector.ensure_property_group(object_type="contacts", name="crm_sync", label="CRM Sync")
    results = connector.create_properties(
        object_type="contacts",
        properties=[RemoteProperty(name="crm_sync_tier", label="Tier", type="string", group_name="crm_sync")],
    )
    assert results[0].ok
    names = {p.name for p in connector.list_properties(object_type="contacts")}
    assert "crm_sync_tier" in names
    updated = connector.update_property(
        object_type="contacts",
        prop=RemoteProperty(
            name="crm_sync_tier", label="Tier (renamed)", type="string", group_name="crm_sync"
        ),
    )
    assert updated.label == "Tier (renamed)"
