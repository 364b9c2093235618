import pytest
from django.test import Client

from accounts.models import AuditEvent, OrganizationAPIKey
from accounts.services import api_key_create
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_key_list_never_shows_the_key(org, superuser_client):
    _, raw = api_key_create(organization=org, name="listed", scopes=["read"])
    response = superuser_client.get("/admin/accounts/organizationapikey/")
    assert response.status_code == 200
    assert "listed" in response.content.decode()
    assert raw.split(".")[1] not in response.content.decode()


def test_revoke_action(org, superuser_client):
    api_key, _ = api_key_create(organization=org, name="k", scopes=["read"])
    response = superuser_client.post(
        "/admin/accounts/organizationapikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_staff_member_sees_only_their_organizations_keys(org, other_org):
    api_key_create(organization=org, name="mine", scopes=["read"])
    api_key_create(organization=other_org, name="theirs", scopes=["read"])
    membership = MembershipFactory(organization=org)
    user = membership.user
    from django.contrib.auth.models import Permission

    user.user_permissions.add(*Permission.objects.filter(codename__endswith="organizationapikey"))
    client = Client()
    client.force_login(user)
    body = client.get("/admin/accounts/organizationapikey/").content.decode()
    assert "mine" in body
    assert "theirs" not in body
    assert OrganizationAPIKey.objects.count() == 2
