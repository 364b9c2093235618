"""POST admin/test-crm-credentials/ and GET admin/crm-config/ (WO-018 4.1–4.2)."""

import pytest

from crm_sync.connections import push_kinds
from integrations.errors import CrmTimeout
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

TEST_URL = "/api/v1/admin/test-crm-credentials/"
CONFIG_URL = "/api/v1/admin/crm-config/"


def test_stored_credentials_valid(api_client, connection):
    response = api_client.post(TEST_URL, {"crm": "scripted"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["crm"] == "scripted" and body["status"] == "valid"
    assert body["message"] == "Successfully authenticated with Scripted CRM API"


def test_trial_api_key_is_tested_instead_and_never_stored(api_client, connection):
    response = api_client.post(TEST_URL, {"crm": "scripted", "api_key": "bad-key"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid" and body["error"] == "HTTP 401: Unauthorized" and body["message"]
    assert "bad-key" not in response.content.decode()
    connection.refresh_from_db()
    assert connection.credentials == {"api_key": "sk-live-should-not-leak"}


def test_trial_credentials_work_without_a_stored_connection(api_client, org, scripted):
    response = api_client.post(
        TEST_URL, {"crm": "scripted", "credentials": {"api_key": "good"}}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "valid"
    from integrations.models import CrmConnection

    assert not CrmConnection.objects.exists()


def test_no_connection_and_no_credentials_is_409(api_client, org, scripted):
    assert api_client.post(TEST_URL, {"crm": "scripted"}, format="json").status_code == 409


def test_unreachable_crm_is_502(api_client, connection, scripted):
    scripted.credential_answers = [CrmTimeout("read timed out")]
    response = api_client.post(TEST_URL, {"crm": "scripted"}, format="json")
    assert response.status_code == 502 and response.json()["status"] == "unreachable"


def test_valid_stored_credentials_close_an_open_circuit(api_client, connection):
    connection.circuit_state = "open"
    connection.circuit_reason = "Authentication failed"
    connection.save()
    api_client.post(TEST_URL, {"crm": "scripted"}, format="json")
    connection.refresh_from_db()
    assert not connection.is_circuit_open


def test_credentials_test_bad_input(api_client, connection):
    assert api_client.post(TEST_URL, {"crm": "nope"}, format="json").status_code == 400
    assert api_client.post(TEST_URL, {}, format="json").status_code == 400
    both = {"crm": "scripted", "api_key": "a", "credentials": {"api_key": "b"}}
    assert api_client.post(TEST_URL, both, format="json").status_code == 400


def test_admin_endpoints_need_the_admin_scope(make_api_client, org, connection):
    client = make_api_client(org, scopes=["read", "write", "sync"])
    assert client.post(TEST_URL, {"crm": "scripted"}, format="json").status_code == 403
    assert client.get(CONFIG_URL).status_code == 403
    assert make_api_client(org, scopes=["admin"]).get(CONFIG_URL).status_code == 200


def test_crm_config_describes_each_crm_without_secrets(api_client, org, connection):
    connection.field_mapping = {"domain_id": "scrapersky_domain_id"}
    connection.circuit_state = "open"
    connection.circuit_reason = "Authentication failed: Invalid token"
    connection.save()
    response = api_client.get(CONFIG_URL)
    assert response.status_code == 200
    body = response.json()
    assert "sk-live-should-not-leak" not in response.content.decode()
    conf = body["scripted"]
    assert conf["enabled"] is True and conf["api_key_configured"] is True
    assert conf["scheduler_interval"] == 1.0 and conf["batch_size"] == 100
    assert conf["retry_policy"] == {"base_seconds": 10, "cap_seconds": 600, "max_retries": 3}
    assert "push_contacts" in conf["capabilities"]
    assert "scrapersky_domain_id" in conf["custom_properties"]
    assert conf["circuit"]["state"] == "open" and "Invalid token" in conf["circuit"]["reason"]
    for kind in push_kinds():
        assert "enabled" in body[kind] and "api_key_configured" in body[kind]


def test_crm_config_shows_unconfigured_crms_as_disabled(api_client, org, scripted):
    body = api_client.get(CONFIG_URL).json()
    assert body["scripted"]["enabled"] is False and body["scripted"]["api_key_configured"] is False


def test_crm_config_is_per_organization(api_client, other_org, scripted):
    CrmConnectionFactory(organization=other_org, kind="scripted")
    assert api_client.get(CONFIG_URL).json()["scripted"]["enabled"] is False
