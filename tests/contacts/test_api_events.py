import uuid

import pytest

from accounts.models import AuditEvent
from contacts.models import Event, Registration
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def test_create_event_and_audit(api_client, org):
    response = api_client.post(
        URL,
        {
            "name": "Open house",
            "starts_at": "2030-05-01T17:00:00Z",
            "ends_at": "2030-05-01T19:00:00Z",
            "external_id": "eb-1",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["registration_count"] == 0
    event = Event.objects.get(pk=body["id"])
    assert event.organization == org
    assert AuditEvent.objects.filter(action="event.created", object_id=str(event.pk)).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "starts_at": "soon"}, "starts_at"),
        ({"name": "x", "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
        ({"name": "x", "capacity": 10}, "capacity"),
    ],
)
def test_create_event_rejects_bad_input(api_client, payload, field):
    response = api_client.post(URL, payload)
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert Event.objects.count() == 0


def test_duplicate_external_id_is_409(api_client, org):
    existing = EventFactory(organization=org, external_id="eb-1")
    response = api_client.post(URL, {"name": "Again", "external_id": "eb-1"})
    assert response.status_code == 409
    assert response.json()["details"]["existing_id"] == str(existing.pk)
    assert Event.objects.count() == 1


def test_list_retrieve_update_delete(api_client, org, other_org):
    event = EventFactory(organization=org, name="Mine")
    RegistrationFactory(event=event)
    EventFactory(organization=other_org)
    listed = api_client.get(URL).json()
    assert listed["count"] == 1
    assert listed["results"][0]["registration_count"] == 1

    assert api_client.get(f"{URL}{event.pk}/").json()["name"] == "Mine"

    patched = api_client.patch(f"{URL}{event.pk}/", {"location": "Hall B"})
    assert patched.status_code == 200
    assert patched.json()["location"] == "Hall B"
    assert AuditEvent.objects.get(action="event.updated").changes == {"location": [event.location, "Hall B"]}

    put = api_client.put(f"{URL}{event.pk}/", {"name": "Renamed"})
    assert put.status_code == 200
    assert put.json()["location"] == ""

    assert api_client.put(f"{URL}{event.pk}/", {"location": "no name"}).status_code == 400

    assert api_client.delete(f"{URL}{event.pk}/").status_code == 204
    assert not Event.objects.filter(pk=event.pk).exists()
    assert Registration.objects.count() == 0
    assert AuditEvent.objects.filter(action="event.deleted").exists()


def test_event_filters_and_bad_values(api_client, org):
    EventFactory(organization=org, name="Spring fair", external_id="a")
    EventFactory(organization=org, name="Winter gala", external_id="b")
    assert api_client.get(URL, {"q": "spring"}).json()["count"] == 1
    assert api_client.get(URL, {"external_id": "b"}).json()["count"] == 1
    assert api_client.get(URL, {"starts_after": "yesterday"}).status_code == 400
    assert api_client.get(URL, {"ordering": "secret"}).status_code == 400


@pytest.mark.parametrize("suffix", ["", "registrations/"])
def test_other_organizations_event_is_404(api_client, other_org, suffix):
    event = EventFactory(organization=other_org)
    response = api_client.get(f"{URL}{event.pk}/{suffix}")
    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_other_organizations_event_cannot_be_changed(api_client, other_org, method):
    event = EventFactory(organization=other_org, name="Theirs")
    assert getattr(api_client, method)(f"{URL}{event.pk}/", {"name": "Mine"}).status_code == 404
    event.refresh_from_db()
    assert event.name == "Theirs"


def test_unknown_event_is_404(api_client):
    assert api_client.get(f"{URL}{uuid.uuid4()}/").status_code == 404
    assert api_client.get(f"{URL}nope/registrations/").status_code == 404


def test_registrations_are_paginated_with_contacts(api_client, org):
    event = EventFactory(organization=org)
    for contact in ContactFactory.create_batch(5, organization=org):
        RegistrationFactory(event=event, contact=contact)
    body = api_client.get(f"{URL}{event.pk}/registrations/", {"limit": 2}).json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert set(body["results"][0]["contact"]) == {"id", "email", "first_name", "last_name", "company"}


@pytest.mark.parametrize("rows", [3, 30])
def test_registrations_query_count_is_constant(api_client, org, rows, django_assert_num_queries):
    event = EventFactory(organization=org)
    for contact in ContactFactory.create_batch(rows, organization=org):
        RegistrationFactory(event=event, contact=contact)
    # key lookup, key usage update, event (with count), registrations count, page with contacts joined
    with django_assert_num_queries(5):
        assert api_client.get(f"{URL}{event.pk}/registrations/", {"limit": 100}).status_code == 200


@pytest.mark.parametrize("rows", [3, 30])
def test_event_list_query_count_is_constant(api_client, org, rows, django_assert_num_queries):
    for _ in range(rows):
        RegistrationFactory(event=EventFactory(organization=org))
    with django_assert_num_queries(4):
        assert api_client.get(URL, {"limit": 100}).status_code == 200
