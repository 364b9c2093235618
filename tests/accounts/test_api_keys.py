import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.actors import Actor
from accounts.models import AuditEvent, Membership, OrganizationAPIKey
from accounts.services import api_key_create, api_key_revoke
from core.errors import InvalidInput
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_api_key_and_bearer_schemes_are_both_accepted(org):
    _, raw = api_key_create(organization=org, name="k", scopes=["read"])
    assert client_with(f"Api-Key {raw}").get("/api/v1/").status_code == 200
    assert client_with(f"Bearer {raw}").get("/api/v1/").status_code == 200


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Api-Key", "invalid_authorization_header"),
        ("Api-Key a b", "invalid_authorization_header"),
        ("Basic dXNlcjpwdw==", "invalid_authorization_header"),
        ("Api-Key nodot", "invalid_authorization_header"),
        ("Api-Key abc.def", "invalid_api_key"),
    ],
)
def test_garbled_or_unknown_key_is_401(org, header, code):
    response = client_with(header).get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["code"] == code


def test_key_with_a_wrong_secret_is_401(org):
    _, raw = api_key_create(organization=org, name="k", scopes=["read"])
    prefix = raw.split(".")[0]
    response = client_with(f"Api-Key {prefix}.wrongsecret").get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_revoked_key_is_401(org):
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    api_key_revoke(api_key=api_key)
    response = client_with(f"Api-Key {raw}").get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_expired_key_is_401(org):
    _, raw = api_key_create(
        organization=org, name="k", scopes=["read"], expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client_with(f"Api-Key {raw}").get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"


def test_usage_counters_advance(org):
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(f"Api-Key {raw}")
    client.get("/api/v1/")
    client.get("/api/v1/")
    api_key.refresh_from_db()
    assert api_key.request_count == 2
    assert api_key.last_used_at is not None


def test_admin_scope_implies_the_others(org):
    api_key, _ = api_key_create(organization=org, name="k", scopes=["admin"])
    assert all(api_key.has_scope(s) for s in ("read", "write", "sync", "admin"))


def test_unknown_scope_is_refused_and_nothing_is_created(org):
    with pytest.raises(InvalidInput) as excinfo:
        api_key_create(organization=org, name="k", scopes=["read", "root"])
    assert excinfo.value.details["unknown"] == ["root"]
    assert not OrganizationAPIKey.objects.exists()


def test_creating_and_revoking_are_audited(org):
    api_key, _ = api_key_create(organization=org, name="k", scopes=["read"])
    api_key_revoke(api_key=api_key, actor=Actor.system("tests"))
    actions = list(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert sorted(actions) == ["api_key.created", "api_key.revoked"]


def test_create_api_key_prints_the_key_alone_on_the_last_line(org):
    out = io.StringIO()
    call_command("create_api_key", "--org", org.slug, "--name", "ci", "--scopes", "read,write", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    assert client_with(f"Api-Key {raw}").get("/api/v1/").status_code == 200
    api_key = OrganizationAPIKey.objects.get(name="ci")
    assert api_key.scopes == ["read", "write"]
    assert raw not in str(api_key.hashed_key)


def test_create_api_key_with_expiry_and_errors(org):
    out = io.StringIO()
    call_command("create_api_key", "--org", org.slug, "--name", "x", "--expires", "2099-01-31", stdout=out)
    assert OrganizationAPIKey.objects.get(name="x").expiry_date.date().isoformat() == "2099-01-31"
    with pytest.raises(CommandError, match="No organization"):
        call_command("create_api_key", "--org", "nope", "--name", "x")
    with pytest.raises(CommandError, match="--expires"):
        call_command("create_api_key", "--org", org.slug, "--name", "x", "--expires", "31/01/2099")
    with pytest.raises(CommandError, match="Scopes"):
        call_command("create_api_key", "--org", org.slug, "--name", "x", "--scopes", "everything")


def test_staff_session_uses_membership_and_role(org, other_org):
    membership = MembershipFactory(organization=org, role=Membership.Role.VIEWER)
    client = APIClient()
    client.force_authenticate(membership.user)
    assert client.get("/api/v1/").status_code == 200


def test_staff_without_membership_is_403(db):
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.get("/api/v1/")
    assert response.status_code == 403
    assert response.json()["code"] == "no_organization"
