"""contact_create's write through core.bulk.insert_together: contact and audit, both or neither.

These tests run with real autocommit (transaction=True), the way a request runs: on
PostgreSQL the create is then one statement, on SQLite two INSERTs in one short transaction.
"""

import uuid

import pytest
from django.db import IntegrityError, connection

from accounts.actors import Actor
from accounts.models import AuditEvent
from accounts.services import audit_event_build
from contacts.models import Contact
from contacts.services.contacts import contact_create
from core.bulk import insert_together
from core.errors import Conflict
from tests.contacts.factories import ContactFactory
from webhooks.models import WebhookDelivery
from webhooks.services import subscription_create

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/contacts/"


@pytest.mark.requires_postgres
def test_the_api_create_is_one_statement_with_its_audit(api_client, org, django_assert_num_queries):
    # The key row and the organization's flags cached, as after any first request.
    api_client.post(URL, {"email": "warm@example.com", "custom_properties": {"a": 1}}, format="json")
    body = {"email": "Ada@Example.com", "first_name": "Ada", "tags": ["vip"], "custom_properties": {"x": 1}}
    with django_assert_num_queries(2) as queries:  # the key's usage count, the one INSERT … INSERT
        response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any(sql.startswith(("BEGIN", "SAVEPOINT", "COMMIT")) for sql in statements)
    assert statements[-1].startswith('WITH r0 AS (INSERT INTO "contacts_contact"')
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.email == "ada@example.com"
    assert contact.search_text  # what save() would have computed
    assert contact.created_at.isoformat().replace("+00:00", "Z") == response.json()["created_at"]
    event = AuditEvent.objects.get(object_id=str(contact.pk))
    assert (event.action, event.object_type, event.organization_id) == ("contact.created", "contact", org.pk)
    assert event.actor_api_key_id is not None
    assert event.changes == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "subtype": "lead",
        "status": "active",
        "source": "api",
        "tags": ["vip"],
        "custom_properties": {"x": 1},
    }


def test_a_duplicate_email_is_a_409_naming_the_existing_contact_and_writes_nothing(api_client, org):
    existing = ContactFactory(organization=org, email="dup@example.com")
    audits = AuditEvent.objects.count()
    response = api_client.post(URL, {"email": "DUP@example.com"}, format="json")
    assert response.status_code == 409
    assert response.json()["details"]["existing_id"] == str(existing.pk)
    assert Contact.objects.filter(organization=org).count() == 1
    assert AuditEvent.objects.count() == audits


def test_the_same_email_in_another_organization_is_created(org, other_org):
    ContactFactory(organization=other_org, email="same@example.com")
    contact = contact_create(organization=org, actor=Actor.system("t"), data={"email": "same@example.com"})
    assert Contact.objects.get(pk=contact.pk).organization_id == org.pk


def test_the_contact_is_announced_at_once_webhook_delivery_queued(api_client, org):
    subscription_create(
        organization=org,
        url="https://hooks.example.com/in",
        events=["contact.created"],
        actor=Actor.system("t"),
    )
    response = api_client.post(URL, {"email": "hook@example.com"}, format="json")
    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "contact.created"
    assert delivery.payload["data"]["contact_ids"] == [response.json()["id"]]


def test_when_the_audit_row_cannot_be_written_the_contact_is_not_either(org):
    contact = Contact(organization=org, email="lost@example.com")
    contact.search_text_refresh()
    audit = audit_event_build(
        organization=org,
        actor=Actor.system("t"),
        action="contact.created",
        object_type="contact",
        object_id=1,
    )
    audit.organization_id = 2_000_000_000  # no such organization: the audit INSERT fails
    with pytest.raises(IntegrityError):
        insert_together(contact, audit)
    assert not Contact.objects.filter(email="lost@example.com").exists()
    assert not AuditEvent.objects.filter(object_id="1").exists()


def test_when_the_contact_cannot_be_written_the_audit_is_not_either(org):
    existing = ContactFactory(organization=org, email="taken@example.com")
    contact = Contact(organization=org, email="taken@example.com")
    audit = audit_event_build(
        organization=org,
        actor=Actor.system("t"),
        action="contact.created",
        object_type="contact",
        object_id=contact.pk,
    )
    with pytest.raises(IntegrityError):
        insert_together(contact, audit)
    assert not AuditEvent.objects.filter(object_id=str(contact.pk)).exists()
    with pytest.raises(Conflict) as exc:
        contact_create(organization=org, actor=Actor.system("t"), data={"email": "taken@example.com"})
    assert exc.value.details["existing_id"] == str(existing.pk)


def test_only_the_last_key_may_be_generated(org):
    audit = audit_event_build(
        organization=org, actor=Actor.system("t"), action="x", object_type="contact", object_id=uuid.uuid4()
    )
    with pytest.raises(ValueError):
        insert_together(audit, Contact(organization=org, email="x@example.com"))
    assert not connection.in_atomic_block
