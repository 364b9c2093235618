"""The set-based INSERT behind queue-all and bulk queueing (crm_sync.services.statements)."""

import threading

import pytest
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.services.statements import states_insert_queued
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory


@pytest.mark.django_db
def test_insert_skips_contacts_that_have_a_row_whatever_its_status(org, connection):
    fresh = [ContactFactory(organization=org) for _ in range(3)]
    complete = ContactSyncStateFactory(
        connection=connection, complete=True, contact=ContactFactory(organization=org)
    )
    errored = ContactSyncStateFactory(
        connection=connection, errored=True, contact=ContactFactory(organization=org)
    )
    inserted = states_insert_queued(
        contact_ids=Contact.objects.filter(organization=org).values("pk"),
        connection_id=connection.pk,
        now=timezone.now(),
    )
    assert inserted == 3
    queued = ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.QUEUED)
    assert set(queued.values_list("contact_id", flat=True)) == {c.pk for c in fresh}
    assert {s.processing_status for s in queued} == {ProcessingStatus.QUEUED}
    complete.refresh_from_db()
    errored.refresh_from_db()
    assert complete.sync_status == SyncStatus.COMPLETE and errored.sync_status == SyncStatus.ERROR


@pytest.mark.django_db
def test_insert_accepts_a_distinct_queryset(org, connection):
    """A DISTINCT selection (a tag or event filter can make one) is inserted as it is."""
    contacts = [ContactFactory(organization=org) for _ in range(2)]
    inserted = states_insert_queued(
        contact_ids=Contact.objects.filter(organization=org).distinct().values("pk"),
        connection_id=connection.pk,
        now=timezone.now(),
    )
    assert inserted == 2
    assert set(
        ContactSyncState.objects.filter(connection=connection).values_list("contact_id", flat=True)
    ) == {c.pk for c in contacts}


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_queue_all_never_blocks_or_breaks_a_contact_delete(org, connection):
    """Queueing takes no lock on contacts and adds no constraint check: a contact deleted by
    another connection while the INSERT's transaction is open is deleted, and what is left
    behind is an orphan state the sweep removes."""
    from crm_sync.services.statements import states_orphaned_delete

    contact, kept = ContactFactory(organization=org), ContactFactory(organization=org)
    with transaction.atomic():
        inserted = states_insert_queued(
            contact_ids=Contact.objects.filter(organization=org).values("pk"),
            connection_id=connection.pk,
            now=timezone.now(),
        )
        assert inserted == 2
        deleted = []

        def delete_elsewhere():
            try:
                Contact.objects.filter(
                    pk=contact.pk
                ).delete()  # Django's cascade: sees no committed state yet
                deleted.append(True)
            finally:
                db_connections.close_all()

        thread = threading.Thread(target=delete_elsewhere)
        thread.start()
        thread.join(timeout=30)
        assert deleted == [True]
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert ContactSyncState.objects.filter(contact_id=contact.pk).count() == 1  # the orphan
    assert states_orphaned_delete() == 1
    assert list(ContactSyncState.objects.values_list("contact_id", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_deleting_a_contact_through_django_still_deletes_its_states(org, connection):
    state = ContactSyncStateFactory(
        connection=connection, complete=True, contact=ContactFactory(organization=org)
    )
    state.contact.delete()
    assert not ContactSyncState.objects.filter(pk=state.pk).exists()


@pytest.mark.django_db
def test_the_orphan_sweep_can_be_limited_to_some_states(org, connection):
    from crm_sync.services.statements import states_orphaned_delete

    a, b = (
        ContactSyncStateFactory(connection=connection, contact=ContactFactory(organization=org)) for _ in "ab"
    )
    with db_connection.cursor() as cursor:  # a raw delete bypasses Django's cascade
        cursor.execute(
            "DELETE FROM contacts_contact WHERE id IN (%s, %s)", [a.contact_id.hex, b.contact_id.hex]
        )
    assert states_orphaned_delete(state_ids=[a.pk]) == 1
    assert list(ContactSyncState.objects.values_list("pk", flat=True)) == [b.pk]
    assert states_orphaned_delete() == 1
