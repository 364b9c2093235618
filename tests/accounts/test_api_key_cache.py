"""The API key's row is cached; every change to it or its organization drops it at once."""

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts.actors import Actor
from accounts.models import OrganizationAPIKey
from accounts.services import api_key_create, api_key_revoke
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


def client_with(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_a_known_key_costs_no_lookup_query_after_its_first_request(org, django_assert_num_queries):
    ContactFactory(organization=org)
    _, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    client.get("/api/v1/contacts/")
    with django_assert_num_queries(3):  # usage, count, page: no key lookup
        assert client.get("/api/v1/contacts/").status_code == 200


def test_a_wrong_secret_with_a_cached_prefix_is_still_refused(org):
    _, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client_with(raw).get("/api/v1/contacts/")  # cached now
    prefix = raw.partition(".")[0]
    response = client_with(f"{prefix}.not-the-secret").get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_revoked_key_is_refused_at_once(org):
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    assert client.get("/api/v1/contacts/").status_code == 200  # cached now
    api_key_revoke(api_key=api_key, actor=Actor.system())
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_a_key_revoked_or_narrowed_by_a_save_is_refused_at_once(org):
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read", "write"])
    client = client_with(raw)
    assert client.post("/api/v1/contacts/", {"email": "a@example.com"}, format="json").status_code == 201
    api_key.scopes = ["read"]
    api_key.save()  # the admin form saves like this
    assert client.post("/api/v1/contacts/", {"email": "b@example.com"}, format="json").status_code == 403
    api_key.revoked = True
    api_key.save()
    assert client.get("/api/v1/contacts/").status_code == 401


def test_a_deleted_key_or_organization_stops_at_once(org, other_org):
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    assert client.get("/api/v1/contacts/").status_code == 200
    api_key.delete()
    assert client.get("/api/v1/contacts/").status_code == 401
    _, raw_other = api_key_create(organization=other_org, name="k", scopes=["read"])
    client_other = client_with(raw_other)
    assert client_other.get("/api/v1/contacts/").status_code == 200
    other_org.delete()
    assert client_other.get("/api/v1/contacts/").status_code == 401


@pytest.mark.skipif(
    "locmem" not in django_settings.CACHES["default"]["BACKEND"].lower(),
    reason="simulates another process's local-memory cache",
)
def test_another_process_on_a_local_cache_stops_a_revoked_key_within_the_bound(org, settings, monkeypatch):
    """A revocation another process made (its own local cache forgotten, not ours) holds here
    from the moment API_KEY_CACHE_SECONDS have passed: the documented bound."""
    import django.core.cache.backends.locmem as locmem

    settings.API_KEY_CACHE_SECONDS = 10
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    assert client.get("/api/v1/contacts/").status_code == 200
    OrganizationAPIKey.objects.filter(pk=api_key.pk).update(revoked=True)  # no signal: "elsewhere"
    real_time = locmem.time.time
    assert client.get("/api/v1/contacts/").status_code == 200  # within the bound
    monkeypatch.setattr(locmem.time, "time", lambda: real_time() + 10.5)
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_zero_seconds_reads_the_row_every_time(org, settings, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 0
    ContactFactory(organization=org)
    _, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    client.get("/api/v1/contacts/")
    with django_assert_num_queries(4):  # key lookup, usage, count, page
        assert client.get("/api/v1/contacts/").status_code == 200
