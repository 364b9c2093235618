"""The Brivity preset against the sandbox Brivity over real HTTP, with its demo settings."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.errors import CrmAuthError, CrmRateLimited, CrmUnavailable
from integrations.registry import connector_for
from sandbox.demo import demo_connections
from tests.integrations.rest.sandbox_support import Sandbox, contact, pulled, require_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    require_sandbox("Brivity", "/sandbox/brivity/v1/contacts")


@pytest.fixture
def sandbox(live_server):
    box = Sandbox(live_server.url, "brivity")
    box.reset()
    return box


@pytest.fixture
def make_brivity(make_connection, live_server):
    def make(*, token=None, fault=None):
        # Exactly what bootstrap_demo creates: the preset, untouched.
        values = demo_connections(f"{live_server.url}/sandbox")["brivity"]
        settings = dict(values.get("settings", {}))
        if fault:
            settings["headers"] = {"X-Sandbox-Fault": fault}
        credentials = {"api_token": token} if token else values["credentials"]
        return make_connection(
            kind="brivity", base_url=values["base_url"], credentials=credentials, settings=settings
        )

    return make


def test_credential_test(make_brivity, sandbox):
    check = connector_for(make_brivity()).test_credentials()
    assert check.ok, check.message
    assert check.account["tested"] == "/v1/contacts"


def test_wrong_token(make_brivity, sandbox):
    check = connector_for(make_brivity(token="wrong-token-0000")).test_credentials()
    assert check.ok is False


def test_push_then_pull_contacts(make_brivity, sandbox):
    connector = connector_for(make_brivity())
    created = connector.push_contacts([contact(1), contact(2, phone="+1 555 0100")])
    assert [r.ok and r.created for r in created] == [True, True]
    updated = connector.push_contacts([contact(1, company="Globex")])
    assert updated[0].ok and updated[0].created is False and updated[0].remote_id == created[0].remote_id
    stored = {r["data"]["email"]: r["data"] for r in sandbox.records("contacts")}
    assert stored["sandbox1@example.com"]["company"] == "Globex"
    assert stored["sandbox1@example.com"]["first_name"] == "First1"  # PATCH kept it
    assert stored["sandbox2@example.com"]["phone"] == "+1 555 0100"
    records = pulled(connector.pull_contacts(since=datetime.now(UTC) - timedelta(hours=1)))
    assert {r.email for r in records} == {"sandbox1@example.com", "sandbox2@example.com"}
    assert all(r.object_type == "contacts" and r.updated_at for r in records)


def test_pull_deals_paged(make_brivity, sandbox):
    sandbox.seed(
        "deals", [{"data": {"name": f"Deal {n}", "amount": 1000 * n, "stage": "open"}} for n in range(150)]
    )
    pages = list(connector_for(make_brivity()).pull_deals(since=None))
    assert [len(p.records) for p in pages] == [100, 50]
    assert pages[0].records[1].properties["amount"] == 1000


FAULTS = [
    ("401", CrmAuthError),
    ("429,retry-after=2", CrmRateLimited),
    ("502", CrmUnavailable),
    ("malformed", CrmUnavailable),
]


@pytest.mark.parametrize(("fault", "error"), FAULTS)
def test_faults(make_brivity, sandbox, fault, error):
    with pytest.raises(error):
        list(connector_for(make_brivity(fault=fault)).pull_contacts(since=None))
