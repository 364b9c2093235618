import uuid

import pytest

from accounts.models import AuditEvent
from contacts.models import Contact, Event, Registration
from tests.contacts.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/from-event/"


def body(email="rsvp@example.com", **event):
    return {
        "contact": {"email": email, "first_name": "Rita", "last_name": "Svp", "phone": "+1 555 0100"},
        "event": event
        or {"external_id": "tix-42", "name": "Spring Open House", "starts_at": "2030-04-01T17:00:00Z"},
        "registration": {"source": "website-form", "properties": {"guests": 2}},
    }


def test_new_contact_and_event_are_created_and_registered(api_client, org):
    response = api_client.post(URL, body())
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["contact_created"] is True
    assert data["event_created"] is True
    assert data["registration_created"] is True
    contact = Contact.objects.get(pk=data["contact_id"])
    assert (contact.subtype, contact.source, contact.organization) == ("lead", "event", org)
    assert data["contact"]["email"] == "rsvp@example.com"
    event = Event.objects.get(pk=data["event_id"])
    assert event.external_id == "tix-42"
    registration = Registration.objects.get(contact=contact, event=event)
    assert registration.source == "website-form"
    assert registration.properties == {"guests": 2}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"contact.created_from_event", "event.created", "registration.created"} <= actions


def test_existing_contact_is_found_case_insensitively_and_not_modified(api_client, org):
    contact = ContactFactory(
        organization=org, email="rsvp@example.com", first_name="Original", subtype="customer"
    )
    response = api_client.post(URL, body(email="RSVP@Example.com"))
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["contact_id"] == str(contact.pk)
    assert data["contact_created"] is False
    assert data["registration_created"] is True
    contact.refresh_from_db()
    assert (contact.first_name, contact.subtype) == ("Original", "customer")


def test_registering_twice_is_one_registration(api_client, org):
    first = api_client.post(URL, body()).json()
    second = api_client.post(URL, body())
    assert second.status_code == 200
    data = second.json()
    assert data["registration_created"] is False
    assert data["event_created"] is False
    assert data["event_id"] == first["event_id"]
    assert Registration.objects.count() == 1
    assert Event.objects.count() == 1
    assert AuditEvent.objects.filter(action="registration.created").count() == 1


def test_event_by_id(api_client, org):
    event = EventFactory(organization=org)
    response = api_client.post(URL, body(id=str(event.pk)))
    assert response.status_code == 201
    assert response.json()["event_id"] == str(event.pk)
    assert response.json()["event_created"] is False


def test_event_by_name_is_reused(api_client, org):
    event = EventFactory(organization=org, name="Gala Night")
    response = api_client.post(URL, body(name="gala night"))
    assert response.json()["event_id"] == str(event.pk)


def test_other_organizations_event_id_is_404_and_nothing_written(api_client, other_org):
    event = EventFactory(organization=other_org)
    response = api_client.post(URL, body(id=str(event.pk)))
    assert response.status_code == 404
    assert response.json()["code"] == "event_not_found"
    assert Contact.objects.count() == 0
    assert Registration.objects.count() == 0


def test_unknown_event_id_is_404(api_client):
    assert api_client.post(URL, body(id=str(uuid.uuid4()))).status_code == 404
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"contact": {"first_name": "No email"}, "event": {"name": "E"}}, "contact"),
        ({"contact": {"email": "bad"}, "event": {"name": "E"}}, "contact"),
        ({"contact": {"email": "a@example.com"}}, "event"),
        ({"contact": {"email": "a@example.com"}, "event": {"external_id": "new-one"}}, "event"),
        ({"contact": {"email": "a@example.com"}, "event": {}}, "event"),
        ({"contact": {"email": "a@example.com", "subtype": "customer"}, "event": {"name": "E"}}, "contact"),
        ({"contact": {"email": "a@example.com"}, "event": {"name": "E"}, "extra": 1}, "extra"),
        (
            {"contact": {"email": "a@example.com", "custom_properties": {"Bad": 1}}, "event": {"name": "E"}},
            "contact",
        ),
        (
            {
                "contact": {"email": "a@example.com"},
                "event": {
                    "name": "E",
                    "starts_at": "2030-01-02T00:00:00Z",
                    "ends_at": "2030-01-01T00:00:00Z",
                },
            },
            "event",
        ),
    ],
)
def test_validation_errors_are_400_and_write_nothing(api_client, payload, path):
    response = api_client.post(URL, payload)
    assert response.status_code == 400, response.json()
    # details name field paths: the nested field's own path ("contact.email") or the object's
    assert any(key == path or key.startswith(f"{path}.") for key in response.json()["details"])
    assert Contact.objects.count() == 0
    assert Event.objects.count() == 0
    assert Registration.objects.count() == 0
    assert AuditEvent.objects.filter(object_type__in=["contact", "event"]).count() == 0


def test_read_only_key_is_403(make_api_client, org):
    client = make_api_client(org, scopes=["read"])
    assert client.post(URL, body()).status_code == 403
    assert Contact.objects.count() == 0
