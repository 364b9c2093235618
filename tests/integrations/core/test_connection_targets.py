"""Where a connection's credentials may go: refused base URLs at save (API and admin), the
re-entry rule when a connection is re-pointed, the host binding at use, what a credential test
repeats of the CRM's answer, and how much of a CRM's message is kept."""

import pytest
from django.test import Client

from accounts.actors import Actor
from accounts.models import AuditEvent
from integrations.errors import MESSAGE_MAX_CHARS, CrmTargetRefused
from integrations.models import CrmConnection
from integrations.registry import connector_for
from integrations.services import connection_create
from tests.factories import UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"
TEST_URL = "/api/v1/admin/test-crm-credentials/"
SECRET = "pat-na1-bound-secret-ABCD"
MAUTIC = "https://mautic.example.com"


@pytest.fixture(autouse=True)
def production_rules(settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    settings.CRM_OUTBOUND_ALLOW_HTTP = False
    settings.CRM_OUTBOUND_EXTRA_HOSTS = []


@pytest.fixture
def admin_client(org, make_api_client):
    return make_api_client(org, scopes=["admin"])


def _mautic(org, **fields):
    return connection_create(
        organization=org,
        kind="mautic",
        actor=Actor.system("test"),
        credentials={"username": "api-user", "password": SECRET},
        base_url=MAUTIC,
        **fields,
    )


# ---------------------------------------------------------------------------------------
# Save time
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/",
        "https://169.254.169.254/latest",
        "https://[::ffff:169.254.169.254]/",
        "https://10.0.0.1/",
        "https://localhost:5432/",
        "https://127.0.0.1:6379/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://[fd00::1]/",
        "ftp://mautic.example.com/",
        "http://mautic.example.com/",
    ],
)
def test_api_refuses_each_target_on_create_and_update(admin_client, org, base_url):
    response = admin_client.post(
        URL, {"kind": "mautic", "base_url": base_url, "credentials": {"username": "u"}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid_base_url", "validation_error")
    assert not CrmConnection.objects.exists()

    connection = _mautic(org)
    response = admin_client.patch(
        f"{URL}{connection.pk}/",
        {"base_url": base_url, "credentials": {"username": "u", "password": "p"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    connection.refresh_from_db()
    assert connection.base_url == MAUTIC and connection.credentials["password"] == SECRET
    # Without credentials, the target's own problem is what the caller hears first.
    response = admin_client.patch(f"{URL}{connection.pk}/", {"base_url": base_url}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_base_url", "validation_error")


def test_hosted_crm_refuses_another_host_but_self_hosted_takes_any_public_one(admin_client):
    response = admin_client.post(
        URL, {"kind": "hubspot", "base_url": "https://attacker.example"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_base_url" and "api.hubapi.com" in body["details"]["base_url"][0]
    response = admin_client.post(
        URL, {"kind": "n8n", "base_url": "https://n8n.example.org/webhook/x"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_urls_in_settings_are_checked_too(admin_client):
    response = admin_client.post(
        URL,
        {
            "kind": "rest",
            "base_url": "https://crm.example.com",
            "settings": {"auth": {"type": "oauth", "token_url": "https://169.254.169.254/token"}},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_settings"


# ---------------------------------------------------------------------------------------
# Re-pointing needs the credentials again
# ---------------------------------------------------------------------------------------
def test_changing_base_url_without_credentials_is_refused(admin_client, org):
    connection = _mautic(org)
    response = admin_client.patch(
        f"{URL}{connection.pk}/", {"base_url": "https://collector.example.net"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "credentials_required" and "credentials" in body["details"]
    connection.refresh_from_db()
    assert connection.base_url == MAUTIC and connection.credentials_hosts == ["mautic.example.com"]
    # An empty credentials object is not credentials.
    response = admin_client.patch(
        f"{URL}{connection.pk}/",
        {"base_url": "https://collector.example.net", "credentials": {}},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "credentials_required"


def test_new_credentials_replace_the_stored_ones_and_are_bound_to_the_new_host(admin_client, org):
    connection = _mautic(org)
    response = admin_client.patch(
        f"{URL}{connection.pk}/",
        {"base_url": "https://mautic2.example.com", "credentials": {"username": "new-user"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    # Merging would have carried the old password to the new host.
    assert connection.credentials == {"username": "new-user"}
    assert connection.credentials_hosts == ["mautic2.example.com"]
    event = AuditEvent.objects.filter(action="crm_connection.updated").latest("pk")
    assert event.changes["credentials_fields"] == ["username"] and SECRET not in str(event.changes)


def test_changing_a_token_host_in_settings_needs_credentials(admin_client, org):
    connection = connection_create(
        organization=org,
        kind="rest",
        actor=Actor.system("test"),
        credentials={"client_id": "id-1", "client_secret": SECRET},
        base_url="https://crm.example.com",
        settings={"auth": {"type": "oauth", "token_url": "https://idp.example.com/token"}},
    )
    assert connection.credentials_hosts == ["crm.example.com", "idp.example.com"]
    moved = {"auth": {"type": "oauth", "token_url": "https://collector.example.net/token"}}
    response = admin_client.patch(f"{URL}{connection.pk}/", {"settings": moved}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "credentials_required"
    # Other settings changes need nothing.
    same_hosts = {"auth": {"type": "oauth", "token_url": "https://idp.example.com/v2/token"}}
    response = admin_client.patch(f"{URL}{connection.pk}/", {"settings": same_hosts}, format="json")
    assert response.status_code == 200, response.content


def test_other_edits_need_no_credentials(admin_client, org):
    connection = _mautic(org)
    response = admin_client.patch(f"{URL}{connection.pk}/", {"batch_size": 50}, format="json")
    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.credentials["password"] == SECRET


def test_admin_form_refuses_re_pointing_without_credentials(org):
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    connection = _mautic(org)
    data = {
        "name": connection.name,
        "enabled": "on",
        "base_url": "https://collector.example.net",
        "skip_credential_test": "on",  # nothing to test against: what is checked here comes first
        "batch_size": connection.batch_size,
        "push_interval_seconds": 60,
        "pull_interval_seconds": 300,
        "retry_base_seconds": 30,
        "retry_cap_seconds": 3600,
        "max_retries": 5,
        "conflict_strategy": "remote_wins",
        "sync_direction": "both",
        "contact_rule": "all",
        "mapping-rows": 0,
    }
    url = f"/admin/integrations/crmconnection/{connection.pk}/change/"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "requires the credentials again" in response.content.decode()
    connection.refresh_from_db()
    assert connection.base_url == MAUTIC

    response = client.post(url, {**data, "base_url": "https://169.254.169.254/"})
    assert response.status_code == 200 and "link-local" in response.content.decode()

    response = client.post(url, {**data, "credential__username": "u2", "credential__password": "p2-long"})
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.base_url == "https://collector.example.net"
    assert connection.credentials == {"username": "u2", "password": "p2-long"}


# ---------------------------------------------------------------------------------------
# Binding at use
# ---------------------------------------------------------------------------------------
def test_credentials_are_never_sent_to_a_host_they_were_not_given_for(org, mocked_responses):
    connection = _mautic(org)
    # Re-pointed behind the services' back (a raw UPDATE, a restored backup...).
    CrmConnection.objects.filter(pk=connection.pk).update(base_url="https://collector.example.net")
    connection.refresh_from_db()
    with pytest.raises(CrmTargetRefused, match="given for mautic.example.com"):
        connector_for(connection).client.list_contacts(params={"limit": 1})
    assert len(mocked_responses.calls) == 0


def test_a_credential_test_of_a_re_pointed_connection_reports_invalid_and_sends_nothing(
    org, admin_client, mocked_responses
):
    connection = _mautic(org)
    CrmConnection.objects.filter(pk=connection.pk).update(base_url="https://collector.example.net")
    response = admin_client.post(TEST_URL, {"crm": "mautic"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid" and "mautic.example.com" in body["error"]
    assert SECRET not in response.content.decode()
    assert len(mocked_responses.calls) == 0


def test_environment_credentials_go_only_to_the_environment_host(settings, mocked_responses):
    from tests.factories import OrganizationFactory

    default = OrganizationFactory(slug=settings.DEFAULT_ORGANIZATION_SLUG)
    settings.CRM_ENV_CREDENTIALS = {**settings.CRM_ENV_CREDENTIALS, "hubspot": {"access_token": SECRET}}
    settings.CRM_OUTBOUND_EXTRA_HOSTS = ["hub.collector.example"]
    connection = CrmConnectionFactory(
        organization=default, kind="hubspot", credentials={}, base_url="https://hub.collector.example"
    )
    with pytest.raises(CrmTargetRefused, match="given for api.hubapi.com"):
        connector_for(connection).client.account_details()
    assert len(mocked_responses.calls) == 0


# ---------------------------------------------------------------------------------------
# What a credential test repeats
# ---------------------------------------------------------------------------------------
def test_credential_test_returns_only_declared_account_fields(org, admin_client, mocked_responses):
    CrmConnectionFactory(organization=org, kind="hubspot", credentials={"access_token": SECRET})
    mocked_responses.get(
        "https://api.hubapi.com/account-info/v3/details",
        json={
            "portalId": 62515,
            "timeZone": "x" * 5000,
            "internalSecret": "root:password",
            "uiDomain": {"nested": {"deep": ["a"] * 1000}},
        },
    )
    response = admin_client.post(TEST_URL, {"crm": "hubspot"}, format="json")
    assert response.status_code == 200, response.content
    account = response.json()["account"]
    assert set(account) <= {
        "portalId",
        "accountType",
        "timeZone",
        "companyCurrency",
        "uiDomain",
        "dataHostingLocation",
        "daily_quota",
    }
    assert (
        "internalSecret" not in response.content.decode() and "root:password" not in response.content.decode()
    )
    assert account["portalId"] == 62515 and len(account["timeZone"]) == 200
    assert len(str(account["uiDomain"])) < 1000


def test_n8n_credential_test_no_longer_echoes_the_webhook_answer(org, admin_client, mocked_responses):
    connection_create(
        organization=org,
        kind="n8n",
        actor=Actor.system("test"),
        credentials={"auth_header": "Bearer n8n-token-1234"},
        base_url="https://n8n.example.com/webhook/crm",
    )
    mocked_responses.post("https://n8n.example.com/webhook/crm", json={"internal": "db-password-here"})
    response = admin_client.post(TEST_URL, {"crm": "n8n"}, format="json")
    assert response.status_code == 200, response.content
    assert set(response.json()["account"]) == {"webhook", "status", "signed"}
    assert "db-password-here" not in response.content.decode()


def test_a_crm_message_is_kept_only_up_to_the_cap(org, admin_client, mocked_responses):
    _mautic(org)
    mocked_responses.get(f"{MAUTIC}/api/contacts", status=401, json={"errors": [{"message": "E" * 50_000}]})
    response = admin_client.post(TEST_URL, {"crm": "mautic"}, format="json")
    body = response.json()
    assert body["status"] == "invalid"
    assert body["error"].count("E") <= MESSAGE_MAX_CHARS and len(body["error"]) <= MESSAGE_MAX_CHARS
