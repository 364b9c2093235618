"""MauticConnector against the sandbox Mautic over real HTTP (pytest-django live_server).

Faults are injected per request with the sandbox's X-Sandbox-Fault header, sent through the
connection's generic settings["headers"].
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import Resolver404, resolve

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.mautic import MauticConnector
from integrations.models import CrmConnection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    try:
        resolve("/sandbox/mautic/api/contacts")
    except Resolver404:
        pytest.skip("the Mautic sandbox is not mounted at /sandbox/mautic/ (sandbox/urls.py)")


@pytest.fixture
def make_connector(live_server, org):
    from sandbox import credentials as creds

    def make(*, fault: str | None = None, credentials: dict | None = None, name: str = "sandbox", **options):
        if fault:
            options["headers"] = {"X-Sandbox-Fault": fault}
        connection = CrmConnection.objects.create(
            organization=org,
            kind="mautic",
            name=name,
            base_url=f"{live_server.url}/sandbox/mautic",
            credentials=credentials or {"username": creds.MAUTIC_USERNAME, "password": creds.MAUTIC_PASSWORD},
            settings={"read_timeout": 5, **options},
            batch_size=options.pop("batch_size", 200),
        )
        return MauticConnector(connection)

    return make


def contact(n: int, **extra) -> ContactPayload:
    email = extra.pop("email", f"sandbox{n}@example.com")
    return ContactPayload(
        contact_id=f"c{n}",
        email=email,
        properties={"first_name": f"First{n}", "last_name": "Sandbox", "company": "Acme", **extra},
    )


def test_credential_test_with_basic_auth(make_connector):
    check = make_connector().test_credentials()
    assert check.ok and check.account["contacts_total"] == 0


# On SQLite the token refresh serialises on a file lock, not a row lock: a transaction held across
# the token call would block the in-process sandbox's own writes (this test proves it does not).
def test_credential_test_with_oauth2_client_credentials(make_connector):
    from sandbox import credentials as creds

    connector = make_connector(
        credentials={"client_id": creds.MAUTIC_CLIENT_ID, "client_secret": creds.MAUTIC_CLIENT_SECRET}
    )
    assert connector.test_credentials().ok
    connector.connection.refresh_from_db()
    assert connector.connection.token_state["access_token"]


def test_wrong_credentials_are_refused(make_connector):
    check = make_connector(
        credentials={"username": "sandbox", "password": "wrong-password"}
    ).test_credentials()
    assert check.ok is False and check.message


def test_push_creates_then_merges_on_email_and_pull_reads_back(make_connector):
    connector = make_connector()
    before = datetime.now(UTC) - timedelta(minutes=1)
    first = connector.push_contacts([contact(1, job_title="CTO"), contact(2)])
    assert all(r.ok and r.created for r in first), [r.error for r in first]
    again = connector.push_contacts([contact(1, last_name="Changed")])
    assert again[0].ok and again[0].created is False and again[0].remote_id == first[0].remote_id
    pulled = [r for page in connector.pull_contacts(since=before) for r in page.records]
    by_email = {r.email: r for r in pulled}
    assert by_email["sandbox1@example.com"].properties["last_name"] == "Changed"
    assert by_email["sandbox1@example.com"].properties["job_title"] == "CTO"


def test_per_item_errors_fail_only_their_contact(make_connector):
    results = make_connector().push_contacts([contact(1), contact(2, email="not-an-email"), contact(3)])
    assert [r.ok for r in results] == [True, False, True], [r.error for r in results]
    assert results[1].error.category == "validation"


def test_pull_pages_with_a_cursor(make_connector):
    connector = make_connector(page_size=2)
    assert all(r.ok for r in connector.push_contacts([contact(n) for n in range(5)]))
    pages = list(connector.pull_contacts(since=None))
    ids = [r.remote_id for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 5


def test_fields_create_list_update(make_connector):
    connector = make_connector()
    tier = RemoteProperty(
        name="tier",
        label="Tier",
        type="enumeration",
        field_type="select",
        options=[{"label": "Gold", "value": "gold"}],
    )
    [created] = connector.create_properties(object_type="contacts", properties=[tier])
    assert created.ok and created.created and created.remote_id, created.error
    assert connector.create_properties(object_type="contacts", properties=[tier])[0].created is False
    tier.label = "Customer tier"
    tier.options.append({"label": "Silver", "value": "silver"})
    updated = connector.update_property(object_type="contacts", prop=tier)
    assert updated.label == "Customer tier" and [o["value"] for o in updated.options] == ["gold", "silver"]
    listed = {p.name: p for p in connector.list_properties(object_type="contacts")}
    assert listed["tier"].label == "Customer tier" and listed["email"].crm_defined


def test_401(make_connector):
    results = make_connector(credentials={"username": "nobody", "password": "nothing-1"}).push_contacts(
        [contact(1), contact(2)]
    )
    assert [r.error.category for r in results] == ["auth", "auth"]


@pytest.mark.parametrize(("fault", "retry_after"), [("429,retry-after=3", 3.0), ("429", None)])
def test_429(make_connector, fault, retry_after):
    [result] = make_connector(fault=fault).push_contacts([contact(1)])
    assert result.error.category == "rate_limited"
    if retry_after is not None:
        assert result.error.retry_after == retry_after


def test_5xx(make_connector):
    [result] = make_connector(fault="500").push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_malformed_json(make_connector):
    [result] = make_connector(fault="malformed").push_contacts([contact(1)])
    assert result.error.category == "unavailable"


def test_timeout(make_connector):
    from sandbox.config import config_update

    config_update(kind="mautic", changes={"timeout_seconds": 1})
    [result] = make_connector(fault="timeout", read_timeout=0.5).push_contacts([contact(1)])
    assert result.error.category == "timeout" and result.error.retriable, result.error
