"""The TopProducer preset against the sandbox TopProducer over real HTTP, with its demo settings."""

import pytest

from integrations.errors import CrmAuthError, CrmRateLimited, CrmUnavailable
from integrations.models import CrmConnection
from integrations.registry import connector_for
from sandbox.demo import demo_connections
from tests.integrations.rest.sandbox_support import Sandbox, contact, pulled, require_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    require_sandbox("TopProducer", "/sandbox/topproducer/v2/contacts")


@pytest.fixture
def sandbox(live_server):
    box = Sandbox(live_server.url, "topproducer")
    box.reset()
    return box


@pytest.fixture
def make_topproducer(make_connection, live_server):
    def make(*, secret=None, fault=None):
        values = demo_connections(f"{live_server.url}/sandbox")["topproducer"]
        settings = dict(values.get("settings", {}))
        if fault:
            settings["headers"] = {"X-Sandbox-Fault": fault}
        credentials = dict(values["credentials"])
        if secret:
            credentials["client_secret"] = secret
        return make_connection(
            kind="topproducer", base_url=values["base_url"], credentials=credentials, settings=settings
        )

    return make


def test_credential_test_obtains_and_stores_a_token(make_topproducer, sandbox):
    connection = make_topproducer()
    check = connector_for(connection).test_credentials()
    assert check.ok, check.message
    assert CrmConnection.objects.get(pk=connection.pk).token_state["access_token"]


def test_wrong_client_secret(make_topproducer, sandbox):
    check = connector_for(make_topproducer(secret="wrong-secret")).test_credentials()
    assert check.ok is False
    assert "invalid_client" in check.message or "Invalid client" in check.message


def test_push_then_pull_contacts(make_topproducer, sandbox):
    connector = connector_for(make_topproducer())
    created = connector.push_contacts([contact(1), contact(2)])
    assert [r.ok and r.created for r in created] == [True, True]
    again = connector.push_contacts([contact(2, company="Initech")])
    assert again[0].ok and again[0].created is False
    stored = {r["data"]["email"]: r["data"] for r in sandbox.records("contacts")}
    assert stored["sandbox2@example.com"] == {
        "firstName": "First2",
        "lastName": "Sandbox",
        "email": "sandbox2@example.com",
        "company": "Initech",
    }
    records = pulled(connector.pull_contacts(since=None))
    assert {r.properties["first_name"] for r in records} == {"First1", "First2"}
    assert all(r.updated_at for r in records)


def test_pull_transactions_as_deals(make_topproducer, sandbox):
    sandbox.seed(
        "transactions",
        [
            {"data": {"propertyAddress": f"{n} Main St", "salesPrice": 100000 + n, "status": "closed"}}
            for n in range(3)
        ],
    )
    records = pulled(connector_for(make_topproducer()).pull_deals(since=None))
    assert [r.properties["property_address"] for r in records] == ["0 Main St", "1 Main St", "2 Main St"]
    assert all(r.object_type == "deals" for r in records)


FAULTS = [
    ("401", CrmAuthError),
    ("429", CrmRateLimited),
    ("500", CrmUnavailable),
    ("malformed", CrmUnavailable),
]


@pytest.mark.parametrize(("fault", "error"), FAULTS)
def test_faults(make_topproducer, sandbox, fault, error):
    with pytest.raises(error):
        list(connector_for(make_topproducer(fault=fault)).pull_contacts(since=None))
