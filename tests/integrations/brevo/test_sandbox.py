"""BrevoConnector against the sandbox Brevo over real HTTP (pytest-django live_server).

Faults are injected per request with the sandbox's X-Sandbox-Fault header, sent through the
connection's generic settings["headers"] (the connector has no sandbox branch).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import Resolver404, resolve

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.brevo import BrevoConnector
from integrations.models import CrmConnection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    try:
        resolve("/sandbox/brevo/v3/account")
    except Resolver404:
        pytest.skip("the Brevo sandbox is not mounted at /sandbox/brevo/ (sandbox/urls.py)")


@pytest.fixture
def make_connector(live_server, org):
    from sandbox import credentials

    def make(*, fault: str | None = None, api_key: str | None = None, name: str = "sandbox", **options):
        if fault:
            options["headers"] = {"X-Sandbox-Fault": fault}
        connection = CrmConnection.objects.create(
            organization=org,
            kind="brevo",
            name=name,
            base_url=f"{live_server.url}/sandbox/brevo/v3",
            credentials={"api_key": api_key or credentials.BREVO_API_KEY},
            settings={"read_timeout": 5, **options},
        )
        return BrevoConnector(connection)

    return make


def contact(n: int, **extra) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}",
        email=f"sandbox{n}@example.com",
        properties={"first_name": f"First{n}", "last_name": "Sandbox", "company": "Acme", **extra},
    )


def test_credential_test_and_its_cache(make_connector):
    connector = make_connector()
    first = connector.test_credentials()
    assert first.ok and first.account["email"]
    assert "recently" in connector.test_credentials().message


def test_a_wrong_key_is_refused(make_connector):
    check = make_connector(api_key="xkeysib-wrong-key-000").test_credentials()
    assert check.ok is False and check.message


def test_push_creates_attributes_and_contacts_then_updates_and_pull_reads_back(make_connector):
    connector = make_connector()
    before = datetime.now(UTC) - timedelta(minutes=1)
    first = connector.push_contacts([contact(1, job_title="CTO"), contact(2, phone="+33612345678")])
    assert all(r.ok and r.created for r in first), [r.error for r in first]
    again = connector.push_contacts([contact(1, last_name="Changed")])
    assert again[0].ok and again[0].created is False and again[0].remote_id == first[0].remote_id
    pulled = [r for page in connector.pull_contacts(since=before) for r in page.records]
    by_email = {r.email: r for r in pulled}
    assert by_email["sandbox1@example.com"].properties["last_name"] == "Changed"
    assert by_email["sandbox1@example.com"].properties["company"] == "Acme"
    assert by_email["sandbox2@example.com"].properties["phone"].endswith("33612345678")
    names = {p.name for p in connector.list_properties(object_type="contacts")}
    assert {"COMPANY", "JOB_TITLE"} <= names


def test_pull_pages_with_a_cursor(make_connector):
    connector = make_connector(page_size=2)
    assert all(r.ok for r in connector.push_contacts([contact(n) for n in range(5)]))
    pages = list(connector.pull_contacts(since=None))
    assert [len(p.records) for p in pages] == [2, 2, 1]
    resumed = list(connector.pull_contacts(since=None, cursor=pages[0].next_cursor))
    assert [r.remote_id for p in resumed for r in p.records] == [
        r.remote_id for p in pages[1:] for r in p.records
    ]


def test_properties_create_list_update(make_connector):
    connector = make_connector()
    tier = RemoteProperty(
        name="tier",
        label="Tier",
        type="enumeration",
        field_type="select",
        options=[{"label": "Gold", "value": "gold"}, {"label": "Silver", "value": "silver"}],
    )
    results = connector.create_properties(
        object_type="contacts", properties=[tier, RemoteProperty(name="score", label="Score", type="number")]
    )
    assert [(r.ok, r.created) for r in results] == [(True, True), (True, True)], [r.error for r in results]
    assert connector.create_properties(object_type="contacts", properties=[tier])[0].created is False
    tier.options.append({"label": "Bronze", "value": "bronze"})
    updated = connector.update_property(object_type="contacts", prop=tier)
    assert [o["label"] for o in updated.options] == ["Gold", "Silver", "Bronze"]
    listed = {p.name: p for p in connector.list_properties(object_type="contacts")}
    assert [o["label"] for o in listed["TIER"].options] == ["Gold", "Silver", "Bronze"]
    assert listed["SCORE"].type == "number"


def test_bulk_import_is_accepted_then_completes(make_connector):
    connector = make_connector(import_threshold=2, import_list_ids=[2])
    results = connector.push_contacts([contact(n) for n in range(3)])
    assert all(r.ok for r in results), [r.error for r in results]
    process_id = results[0].response["processId"]
    assert connector.import_status(process_id).status == "completed"
    pulled = {r.email for page in connector.pull_contacts(since=None) for r in page.records}
    assert {f"sandbox{n}@example.com" for n in range(3)} <= pulled


def test_401_fails_every_contact(make_connector):
    results = make_connector(api_key="xkeysib-wrong-key-000").push_contacts([contact(1), contact(2)])
    assert [r.error.category for r in results] == ["auth", "auth"]


@pytest.mark.parametrize(("fault", "retry_after"), [("429,retry-after=3", 3.0), ("429", None)])
def test_429_is_rate_limited(make_connector, fault, retry_after):
    [result] = make_connector(fault=fault).push_contacts([contact(1)])
    assert result.error.category == "rate_limited" and result.error.retriable
    if retry_after is not None:
        assert result.error.retry_after == retry_after


def test_5xx_is_unavailable(make_connector):
    [result] = make_connector(fault="500").push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_malformed_json_is_unavailable(make_connector):
    with pytest.raises(Exception) as info:
        list(make_connector(fault="malformed").pull_contacts(since=None))
    assert info.value.category == "unavailable"


def test_a_timeout_is_retriable(make_connector):
    from sandbox.config import config_update

    config_update(kind="brevo", changes={"timeout_seconds": 1})
    [result] = make_connector(fault="timeout", read_timeout=0.5).push_contacts([contact(1)])
    assert result.error.category == "timeout" and result.error.retriable, result.error


def test_an_empty_field_never_names_an_attribute_the_account_lacks(make_connector):
    """A blank job title must not make Brevo refuse the contact for an unknown JOB_TITLE."""
    connector = make_connector()
    [result] = connector.push_contacts([contact(90, job_title="")])
    assert result.ok, result.error
    assert "JOB_TITLE" not in {p.name for p in connector.list_properties(object_type="contacts")}
