import pytest
from django.test import Client

from integrations.models import CrmConnection
from tests.factories import UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/integrations/crmconnection/add/?kind=hubspot"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def form_data(org, **overrides):
    data = {
        "organization": org.pk,
        "name": "main",
        "enabled": "on",
        "base_url": "https://api.hubapi.com",
        "credential__access_token": "pat-na1-from-admin-9876",
        # No CRM to test against here (tests/integrations/core/test_setup_form.py tests saving).
        "skip_credential_test": "on",
        "batch_size": 100,
        "push_interval_seconds": 10,
        "pull_interval_seconds": 300,
        "retry_base_seconds": 30,
        "retry_cap_seconds": 3600,
        "max_retries": 5,
        "conflict_strategy": "remote_wins",
        "sync_direction": "both",
        "contact_rule": "all",
        "mapping-rows": 0,
    }
    data.update(overrides)
    return data


def test_admin_creates_a_connection_with_encrypted_credentials(org, superuser_client):
    response = superuser_client.post(ADD_URL, form_data(org))
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = CrmConnection.objects.get(name="main")
    assert connection.credentials == {"access_token": "pat-na1-from-admin-9876"}
    page = superuser_client.get(f"/admin/integrations/crmconnection/{connection.pk}/change/").content.decode()
    assert "pat-na1-from-admin-9876" not in page
    assert "9876" not in page  # not even the last characters
    assert "access_token: set; last changed " in page


def test_a_value_the_services_refuse_is_a_form_error_not_a_500(org, superuser_client):
    response = superuser_client.post(ADD_URL, form_data(org, batch_size=5000))
    assert response.status_code == 200
    assert "batch_size must be between 1 and 100" in response.content.decode()
    assert not CrmConnection.objects.exists()


def test_changelist_never_shows_secrets(org, superuser_client):
    CrmConnectionFactory(organization=org)
    page = superuser_client.get("/admin/integrations/crmconnection/").content.decode()
    assert "pat-na1-secret-token-1234" not in page
