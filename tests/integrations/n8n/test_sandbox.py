"""N8nConnector against the sandbox n8n webhook over real HTTP (pytest-django live_server).

The sandbox's workflow verifies the HMAC signature and stores each contact once per
idempotency key, so delivery, dedupe and signing are all checked end to end.
"""

import pytest
from django.urls import Resolver404, resolve

from integrations.connectors.base import ContactPayload
from integrations.connectors.n8n import N8nConnector
from integrations.models import CrmConnection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    try:
        resolve("/sandbox/n8n/webhook/x")
    except Resolver404:
        pytest.skip("the n8n sandbox is not mounted at /sandbox/n8n/ (sandbox/urls.py)")


@pytest.fixture
def creds():
    from sandbox import credentials

    return credentials


@pytest.fixture
def make_connector(live_server, org, creds):
    def make(
        *, fault: str | None = None, credentials: dict | None = None, path: str | None = None, **options
    ):
        if fault:
            options["headers"] = {"X-Sandbox-Fault": fault}
        connection = CrmConnection.objects.create(
            organization=org,
            kind="n8n",
            name=options.pop("name", "sandbox"),
            base_url=f"{live_server.url}/sandbox/n8n/webhook/{path or creds.N8N_WEBHOOK_PATH}",
            credentials=credentials
            if credentials is not None
            else {
                "header_name": creds.N8N_HEADER_NAME,
                "header_value": creds.N8N_HEADER_VALUE,
                "signing_secret": creds.N8N_HMAC_SECRET,
            },
            settings={"read_timeout": 5, **options},
        )
        return N8nConnector(connection)

    return make


def contact(n: int, version: int = 1) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}",
        email=f"sandbox{n}@example.com",
        properties={"first_name": f"First{n}", "version": version},
        idempotency_key=f"c{n}-v{version}",
    )


def deliveries(creds) -> list[dict]:
    from sandbox.models import SandboxRecord

    rows = SandboxRecord.objects.filter(kind="n8n", object_type=f"delivery:{creds.N8N_WEBHOOK_PATH}")
    return [row.data for row in rows.order_by("pk")]


def test_push_is_delivered_signed_and_deduped_by_idempotency_key(make_connector, creds):
    connector = make_connector()
    results = connector.push_contacts([contact(1), contact(2)])
    assert all(r.ok for r in results), [r.error for r in results]
    assert results[0].response["body"] == {"message": "Workflow was started"}
    assert connector.push_contacts([contact(1), contact(2, version=2)])[0].ok
    keys = [d["idempotency_key"] for d in deliveries(creds)]
    assert keys == ["c1-v1", "c2-v1", "c2-v2"]


def test_credential_test_pings_without_creating_contacts(make_connector, creds):
    check = make_connector().test_credentials()
    assert check.ok and check.account["signed"]
    assert deliveries(creds) == []


def test_basic_auth(make_connector, creds):
    from sandbox.config import config_update

    config_update(kind="n8n", changes={"credentials": {"auth": "basic"}})
    connector = make_connector(
        credentials={
            "username": creds.N8N_BASIC_USERNAME,
            "password": creds.N8N_BASIC_PASSWORD,
            "signing_secret": creds.N8N_HMAC_SECRET,
        }
    )
    assert connector.push_contacts([contact(1)])[0].ok


def test_a_wrong_signature_is_refused(make_connector, creds):
    connector = make_connector(
        credentials={
            "header_name": creds.N8N_HEADER_NAME,
            "header_value": creds.N8N_HEADER_VALUE,
            "signing_secret": "not-the-secret",
        }
    )
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "auth"
    assert deliveries(creds) == []


def test_wrong_header_auth_is_refused(make_connector, creds):
    connector = make_connector(
        credentials={"header_name": creds.N8N_HEADER_NAME, "header_value": "wrong-value"}
    )
    assert not connector.test_credentials().ok
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "auth" and "Authorization data is wrong!" in result.error.message


def test_an_inactive_workflow_is_not_found(make_connector):
    check = make_connector(path="no-such-path").test_credentials()
    assert not check.ok and "not registered" in check.message
    [result] = make_connector(path="no-such-path", name="other").push_contacts([contact(1)])
    assert result.error.category == "not_found" and not result.error.retriable


@pytest.mark.parametrize(("fault", "retry_after"), [("429,retry-after=3", 3.0), ("429", None)])
def test_429(make_connector, fault, retry_after):
    [result] = make_connector(fault=fault).push_contacts([contact(1)])
    assert result.error.category == "rate_limited"
    if retry_after is not None:
        assert result.error.retry_after == retry_after


def test_5xx(make_connector):
    [result] = make_connector(fault="500").push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_timeout(make_connector):
    from sandbox.config import config_update

    config_update(kind="n8n", changes={"timeout_seconds": 1})
    [result] = make_connector(fault="timeout", read_timeout=0.5).push_contacts([contact(1)])
    assert result.error.category == "timeout" and result.error.retriable, result.error


def test_a_malformed_answer_still_means_delivered(make_connector):
    [result] = make_connector(fault="malformed").push_contacts([contact(1)])
    assert result.ok and isinstance(result.response["body"], str)
