"""The set-based INSERT behind queue-all and bulk queueing (crm_sync.services.statements)."""

import threading

import pytest
from django.db import OperationalError, transaction
from django.db import connections as db_connections
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
    """PostgreSQL refuses FOR KEY SHARE after DISTINCT, so such a selection is inserted unlocked."""
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


def _lock_from_another_connection(contact_pk, clause: str) -> str:
    """Try `SELECT … <clause> NOWAIT` on the contact from a second connection; say what happened."""
    outcome = []

    def run():
        other = db_connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    f"SELECT id FROM contacts_contact WHERE id = %s {clause} NOWAIT",  # noqa: S608
                    [contact_pk],
                )
                cursor.execute("ROLLBACK")
            outcome.append("granted")
        except OperationalError:
            outcome.append("refused")
        finally:
            other.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_insert_holds_the_contacts_key_share_lock_until_commit(org, connection):
    """The lock the FK check would take at COMMIT is taken while reading: deletes wait, edits do not."""
    contact = ContactFactory(organization=org)
    with transaction.atomic():
        states_insert_queued(
            contact_ids=Contact.objects.filter(pk=contact.pk).values("pk"),
            connection_id=connection.pk,
            now=timezone.now(),
        )
        # FOR UPDATE is what a DELETE needs; FOR NO KEY UPDATE is what an ordinary UPDATE takes.
        assert _lock_from_another_connection(contact.pk, "FOR UPDATE") == "refused"
        assert _lock_from_another_connection(contact.pk, "FOR NO KEY UPDATE") == "granted"
    assert _lock_from_another_connection(contact.pk, "FOR UPDATE") == "granted"
