"""/api/v1/connections/: admin scope, write-only credentials, org scoping, validation, audit."""

import json
from datetime import UTC, datetime

import pytest

from accounts.models import AuditEvent
from integrations import registry
from integrations.models import CrmConnection
from integrations.selectors import connection_base_url, connection_credentials
from tests.factories import OrganizationFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"
SECRET = "pat-na1-very-secret-value-WXYZ"


@pytest.fixture
def admin_client(org, make_api_client):
    return make_api_client(org, scopes=["admin"])


def test_every_method_needs_the_admin_scope(org, make_api_client):
    connection = CrmConnectionFactory(organization=org)
    client = make_api_client(org, scopes=["read", "write", "sync"])
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{connection.pk}/").status_code == 403
    assert client.post(URL, {"kind": "hubspot"}, format="json").status_code == 403
    assert client.delete(f"{URL}{connection.pk}/").status_code == 403
    assert CrmConnection.objects.count() == 1


def test_create_stores_credentials_encrypted_and_never_returns_them(admin_client, org):
    # when
    response = admin_client.post(
        URL,
        {
            "kind": "hubspot",
            "name": "main",
            "credentials": {"access_token": SECRET},
            "settings": {"rate_tier": 190},
        },
        format="json",
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in json.dumps(body)
    assert body["credentials_configured"] is True
    assert body["credentials_masked"] == {"access_token": "set"}
    assert "WXYZ" not in json.dumps(body)  # no part of the secret, not even its end
    assert body["credentials_changed_at"] is not None
    assert body["batch_size"] == 100 and body["batch_size_max"] == 100
    assert "push_contacts" in body["capabilities"]
    connection = CrmConnection.objects.get(pk=body["id"])
    assert connection.credentials == {"access_token": SECRET}
    event = AuditEvent.objects.get(action="crm_connection.created")
    assert SECRET not in json.dumps(event.changes) and event.changes["credentials_fields"] == ["access_token"]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"kind": "salesforce"}, "unknown_crm", None),
        ({"kind": "hubspot", "batch_size": 101}, "invalid_batch_size", "batch_size"),
        ({"kind": "hubspot", "field_mapping": ["email"]}, "invalid_field_mapping", "field_mapping"),
        ({"kind": "hubspot", "field_mapping": {"email": 3}}, "invalid_field_mapping", "field_mapping"),
        ({"kind": "hubspot", "conflict_strategy": "coin_flip"}, "validation_error", "conflict_strategy"),
        ({"kind": "hubspot", "credentials": "token"}, "invalid_credentials", "credentials"),
        (
            {"kind": "hubspot", "retry_base_seconds": 100, "retry_cap_seconds": 10},
            "invalid_retry_policy",
            None,
        ),
    ],
)
def test_create_rejects_bad_input_and_writes_nothing(admin_client, payload, code, field):
    response = admin_client.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    if field:
        assert field in response.json()["details"]
    if code == "unknown_crm":
        assert "hubspot" in response.json()["details"]["valid"]
    assert CrmConnection.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="crm_connection").exists()


def test_duplicate_name_is_409(admin_client, org):
    CrmConnectionFactory(organization=org, name="main")
    response = admin_client.post(URL, {"kind": "hubspot", "name": "main"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "duplicate_connection"


def test_other_organizations_connection_is_404(admin_client, other_org):
    foreign = CrmConnectionFactory(organization=other_org)
    assert admin_client.get(f"{URL}{foreign.pk}/").status_code == 404
    assert admin_client.patch(f"{URL}{foreign.pk}/", {"name": "x"}, format="json").status_code == 404
    assert admin_client.delete(f"{URL}{foreign.pk}/").status_code == 404
    assert admin_client.get(URL).json()["count"] == 0
    assert CrmConnection.objects.filter(pk=foreign.pk, name=foreign.name).exists()


def test_update_merges_credentials_and_audits_without_values(admin_client, org):
    connection = CrmConnectionFactory(organization=org, credentials={"access_token": SECRET})
    connection.token_state = {"access_token": "cached"}
    connection.save()
    response = admin_client.patch(
        f"{URL}{connection.pk}/",
        {"credentials": {"client_id": "client-12345678"}, "batch_size": 50},
        format="json",
    )
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.credentials == {"access_token": SECRET, "client_id": "client-12345678"}
    assert connection.token_state == {}  # new credentials drop a cached token
    assert connection.batch_size == 50
    event = AuditEvent.objects.get(action="crm_connection.updated")
    assert event.changes == {"batch_size": 50, "credentials_fields": ["access_token", "client_id"]}


def test_credentials_changed_at_moves_only_when_the_credentials_change(admin_client, org):
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    connection = CrmConnectionFactory(organization=org, credentials={"access_token": SECRET})
    CrmConnection.objects.filter(pk=connection.pk).update(credentials_changed_at=long_ago)
    # a change of anything else leaves it
    assert admin_client.patch(f"{URL}{connection.pk}/", {"batch_size": 50}, format="json").status_code == 200
    connection.refresh_from_db()
    assert connection.credentials_changed_at == long_ago
    # new credentials move it
    response = admin_client.patch(
        f"{URL}{connection.pk}/", {"credentials": {"access_token": "pat-rotated-0000"}}, format="json"
    )
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.credentials_changed_at > long_ago
    assert response.json()["credentials_masked"] == {"access_token": "set"}
    assert "0000" not in response.content.decode()


def test_update_rejecting_batch_size_changes_nothing(admin_client, org):
    connection = CrmConnectionFactory(organization=org, batch_size=40)
    response = admin_client.patch(f"{URL}{connection.pk}/", {"batch_size": 500, "name": "new"}, format="json")
    assert response.status_code == 400
    connection.refresh_from_db()
    assert (connection.batch_size, connection.name) == (40, connection.name)
    assert not AuditEvent.objects.filter(action="crm_connection.updated").exists()


def test_delete_audits(admin_client, org):
    connection = CrmConnectionFactory(organization=org)
    assert admin_client.delete(f"{URL}{connection.pk}/").status_code == 204
    assert not CrmConnection.objects.filter(pk=connection.pk).exists()
    assert AuditEvent.objects.filter(action="crm_connection.deleted", object_id=str(connection.pk)).exists()


@pytest.mark.parametrize("rows", [3, 30])
def test_list_query_count_is_constant(admin_client, org, rows, django_assert_num_queries):
    for _ in range(rows):
        CrmConnectionFactory(organization=org)
    # 1 key lookup (with org), 1 key usage update, 1 count, 1 page of connections (org joined),
    # 1 for the rule's events of the whole page
    with django_assert_num_queries(5):
        response = admin_client.get(URL, {"limit": 100})
    assert response.json()["count"] == rows


def test_default_organization_uses_environment_credentials(settings):
    settings.CRM_ENV_CREDENTIALS = {"hubspot": {"access_token": "env-token-123456", "refresh_token": ""}}
    settings.CRM_ENV_BASE_URLS = {"hubspot": "http://127.0.0.1:9/hub"}
    default = OrganizationFactory(slug=settings.DEFAULT_ORGANIZATION_SLUG)
    other = OrganizationFactory(slug="not-default")
    empty = CrmConnectionFactory(organization=default, credentials={}, base_url="")
    stored = CrmConnectionFactory(organization=default, credentials={"access_token": "stored-1234"})
    elsewhere = CrmConnectionFactory(organization=other, credentials={}, base_url="")
    assert connection_credentials(connection=empty) == {"access_token": "env-token-123456"}
    assert connection_base_url(connection=empty) == "http://127.0.0.1:9/hub"
    assert connection_credentials(connection=stored) == {"access_token": "stored-1234"}
    assert connection_credentials(connection=elsewhere) == {}
    assert connection_base_url(connection=elsewhere) == "https://api.hubapi.com"


def test_demo_seed_is_idempotent(org):
    from sandbox import demo

    first = demo.seed(org)
    second = demo.seed(org)
    connection = CrmConnection.objects.get(organization=org, kind="hubspot")
    assert connection.base_url.endswith("/sandbox/hubspot") and connection.enabled
    count = CrmConnection.objects.filter(organization=org).count()
    assert f"{count} new" in first and "0 new" in second
    assert set(CrmConnection.objects.filter(organization=org).values_list("kind", flat=True)) == set(
        registry.kinds()
    )


def test_admin_masks_credentials_and_accepts_new_ones(org, client):
    from tests.factories import UserFactory

    user = UserFactory(is_superuser=True)
    client.force_login(user)
    connection = CrmConnectionFactory(organization=org, credentials={"access_token": SECRET})
    page = client.get(f"/admin/integrations/crmconnection/{connection.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode() and "WXYZ" not in page.content.decode()
    assert "access_token: set" in page.content.decode()
    listing = client.get("/admin/integrations/crmconnection/")
    assert listing.status_code == 200 and SECRET not in listing.content.decode()


def test_settings_the_connector_cannot_use_are_refused_at_save(admin_client):
    response = admin_client.post(
        URL,
        {"kind": "rest", "name": "crm", "settings": {"paging": {"style": "telepathy"}}},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_settings"
    assert "paging" in body["details"]["settings"]
    assert not CrmConnection.objects.filter(kind="rest").exists()


@pytest.mark.parametrize("value", ["\U000b950f", "key\r\nX-Injected: 1", "tab\there"])
def test_credentials_http_cannot_carry_are_refused(admin_client, value):
    """A credential HTTP headers cannot carry is a 400, never a crash when sent (schemathesis found it)."""
    response = admin_client.post(
        "/api/v1/admin/test-crm-credentials/", {"crm": "brevo", "api_key": value}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
