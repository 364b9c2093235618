import threading

import pytest
from django.db import connection

from accounts.models import AuditEvent
from contacts import signals
from contacts.models import Contact, IdempotencyKey, Registration
from contacts.services.contacts import contact_create, contact_update
from contacts.services.events import registration_create
from contacts.services.from_event import contact_register_from_event
from contacts.services.idempotency import idempotent_run
from core.errors import Conflict, InvalidInput
from tests.contacts.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    signals.contacts_changed.connect(receiver)
    yield calls
    signals.contacts_changed.disconnect(receiver)


def test_create_sends_contacts_changed_after_commit(org, actor, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contact = contact_create(
            organization=org, actor=actor, data={"email": "a@example.com", "first_name": "A"}
        )
    assert received == []  # nothing before commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert received == [
        {
            "signal": signals.contacts_changed,
            "organization": org,
            "contact_ids": [contact.pk],
            "fields": ["email", "first_name", "source", "status", "subtype"],
            "action": "created",
        }
    ]


def test_update_sends_changed_fields_only_when_something_changed(
    org, actor, received, django_capture_on_commit_callbacks
):
    contact = ContactFactory(organization=org, first_name="A")
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, actor=actor, data={"first_name": "A"})
    assert received == []
    with django_capture_on_commit_callbacks(execute=True):
        _, changed = contact_update(
            contact=contact, actor=actor, data={"first_name": "B", "company": contact.company}
        )
    assert changed == ["first_name"]
    assert received[0]["fields"] == ["first_name"]
    assert received[0]["action"] == "updated"


def test_failed_write_sends_nothing(org, actor, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(InvalidInput):
        contact_create(organization=org, actor=actor, data={"email": "a@example.com", "subtype": "bogus"})
    assert callbacks == []


def test_from_event_announces_new_contact_and_registration(
    org, actor, received, django_capture_on_commit_callbacks
):
    existing = ContactFactory(organization=org, email="old@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        contact_register_from_event(
            organization=org, actor=actor, contact_data={"email": "old@example.com"}, event_data={"name": "E"}
        )
    assert received[-1]["contact_ids"] == [existing.pk]
    assert received[-1]["fields"] == ["registrations"]


def test_duplicate_on_create_is_found_by_the_constraint(org, actor, django_assert_num_queries):
    """No query before the INSERT: the constraint answers, the audit is rolled back with the
    contact, and the Conflict names the existing contact (what a racing request also gets)."""
    from accounts.models import AuditEvent

    existing = ContactFactory(organization=org, email="race@example.com")
    audits = AuditEvent.objects.count()
    # SAVEPOINT, INSERT (refused), ROLLBACK TO and RELEASE SAVEPOINT, the existing contact's id.
    with django_assert_num_queries(5), pytest.raises(Conflict) as excinfo:
        contact_create(organization=org, actor=actor, data={"email": "RACE@example.com"})
    assert excinfo.value.details["existing_id"] == str(existing.pk)
    assert Contact.objects.count() == 1
    assert AuditEvent.objects.count() == audits


def test_email_uniqueness_is_a_database_constraint(org):
    from django.db import IntegrityError, transaction

    ContactFactory(organization=org, email="dup@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(organization=org, email="dup@example.com")


def test_registration_across_organizations_is_refused(org, other_org, actor):
    with pytest.raises(InvalidInput):
        registration_create(
            event=EventFactory(organization=other_org), contact=ContactFactory(organization=org), actor=actor
        )
    assert Registration.objects.count() == 0


def test_registration_is_audited_on_the_contact(org, actor):
    contact = ContactFactory(organization=org)
    registration, created = registration_create(
        event=EventFactory(organization=org), contact=contact, actor=actor
    )
    assert created
    event = AuditEvent.objects.get(action="registration.created")
    assert (event.object_type, event.object_id) == ("contact", str(contact.pk))
    assert event.changes["registration_id"] == registration.pk


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_with_one_key_write_once(org):
    """Two requests racing with the same key: one writes, the other replays (the unique key row waits)."""
    barrier = threading.Barrier(2)
    results = []

    def run(n):
        try:

            def operation():
                contact = Contact.objects.create(organization=org, email="race@example.com")
                return 201, {"id": str(contact.pk)}

            barrier.wait()
            results.append(
                idempotent_run(
                    organization=org,
                    key="same",
                    endpoint="contacts.create",
                    payload={"e": 1},
                    operation=operation,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert sorted(r.replayed for r in results) == [False, True]
    assert results[0].body == results[1].body
    assert Contact.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
