"""Queue-all's one-pass count and its UPDATE … FROM / INSERT statements (docs/benchmarks.md
"bench/queue_all.py"): the counts a client gets are the rows really queued, a statement with
nothing to do is not run, and no contact is ever queued twice, even by two queue-alls at once."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.actors import Actor
from contacts.models import Contact
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.services.queue_all import contacts_queue_all
from crm_sync.services.statements import queue_candidates_count
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory

ACTOR = Actor.system("test")


def _mixed(org, connection) -> dict:
    """One contact in each situation queueing tells apart; returns them by name."""
    past = timezone.now() - timedelta(hours=1)
    made = {
        "fresh": ContactFactory(organization=org),
        "no_email": ContactFactory(organization=org, without_email=True),
    }
    states = {
        "queued": ContactSyncStateFactory(connection=connection, queued=True),
        "processing": ContactSyncStateFactory(connection=connection, stuck=True),
        "unchanged": ContactSyncStateFactory(connection=connection, complete=True),
        "changed": ContactSyncStateFactory(connection=connection, complete=True, last_synced_at=past),
        "no_hash": ContactSyncStateFactory(connection=connection, complete=True, pushed_hash=""),
        "errored": ContactSyncStateFactory(connection=connection, errored=True),
        "selected": ContactSyncStateFactory(connection=connection),
        # A retry a worker holds: Error, claimed. Queueing flags it instead of taking it.
        "held": ContactSyncStateFactory(
            connection=connection,
            errored=True,
            processing_status=ProcessingStatus.PROCESSING,
            claim_token="worker-1",
            claimed_at=timezone.now(),
        ),
    }
    for name, state in states.items():
        made[name] = state.contact
    return made


def _fresh_count(org, connection, *, force=False, not_synced=False) -> dict:
    """What the count must say, computed row by row in Python."""
    states = {s.contact_id: s for s in ContactSyncState.objects.filter(connection=connection)}
    counts = dict.fromkeys(("matched", "no_email", "already_queued", "unchanged", "missing"), 0)
    for contact in Contact.objects.filter(organization=org):
        state = states.get(contact.pk)
        if not_synced and state and state.sync_status == SyncStatus.COMPLETE:
            continue
        counts["matched"] += 1
        if not contact.email:
            counts["no_email"] += 1
        elif state is None:
            counts["missing"] += 1
        elif state.sync_status in (SyncStatus.QUEUED, SyncStatus.PROCESSING):
            counts["already_queued"] += 1
        elif (
            state.sync_status == SyncStatus.COMPLETE
            and state.pushed_hash
            and state.last_synced_at
            and state.last_synced_at >= contact.updated_at
        ):
            counts["unchanged"] += 1
    return counts


@pytest.mark.django_db
@pytest.mark.parametrize("not_synced", [False, True])
def test_the_one_pass_count_equals_a_count_row_by_row(org, connection, not_synced):
    _mixed(org, connection)
    counted = queue_candidates_count(
        contacts=Contact.objects.filter(organization=org), connection_id=connection.pk, not_synced=not_synced
    )
    assert counted == _fresh_count(org, connection, not_synced=not_synced)


@pytest.mark.django_db
@pytest.mark.parametrize("force", [False, True])
def test_queue_all_queues_exactly_what_it_counted_and_flags_the_held_row(org, connection, force):
    made = _mixed(org, connection)
    dry = contacts_queue_all(organization=org, crm="scripted", dry_run=True, force=force, actor=ACTOR)
    before = {s.contact_id: s.updated_at for s in ContactSyncState.objects.filter(connection=connection)}
    result = contacts_queue_all(organization=org, crm="scripted", force=force, actor=ACTOR)
    assert result["queued_count"] == dry["queued_count"]
    taken = {"fresh", "changed", "no_hash", "errored", "selected", "held"} | (
        {"unchanged"} if force else set()
    )
    assert result["queued_count"] == len(taken)
    states = {s.contact_id: s for s in ContactSyncState.objects.filter(connection=connection)}
    for name in taken - {"held"}:
        state = states[made[name].pk]
        assert (state.sync_status, state.processing_status) == (SyncStatus.QUEUED, ProcessingStatus.QUEUED)
        assert state.retry_count == 0 and state.error == ""
        if force:
            assert state.pushed_hash == ""
    held = states[made["held"].pk]
    assert held.requeue_requested and held.processing_status == ProcessingStatus.PROCESSING
    assert held.claim_token == "worker-1"  # the worker keeps it
    for name in {"queued", "processing"} | (set() if force else {"unchanged"}):
        assert states[made[name].pk].updated_at == before[made[name].pk]  # untouched
    assert made["no_email"].pk not in states
    # Again at once: everything with an email is queued or held now, nothing is queued twice. The
    # held row is flagged again (the flag is idempotent: one re-queue after its push, one row).
    again = contacts_queue_all(organization=org, crm="scripted", force=force, actor=ACTOR)
    assert again["queued_count"] == 1
    assert again["skipped"]["already_queued"] == len(taken) - 1 + 2
    assert ContactSyncState.objects.filter(connection=connection).count() == len(states)


@pytest.mark.django_db
def test_a_requeue_of_rows_that_all_exist_runs_no_insert(org, connection):
    past = timezone.now() - timedelta(hours=1)
    for _ in range(3):
        ContactSyncStateFactory(connection=connection, complete=True, last_synced_at=past)
    with CaptureQueriesContext(db_connection) as context:
        result = contacts_queue_all(organization=org, crm="scripted", actor=ACTOR)
    assert result["queued_count"] == 3
    assert not [q for q in context.captured_queries if 'INSERT INTO "crm_sync_contactsyncstate"' in q["sql"]]
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.QUEUED).count() == 3


@pytest.mark.django_db
def test_a_first_queue_all_runs_no_update(org, connection):
    for _ in range(3):
        ContactFactory(organization=org)
    with CaptureQueriesContext(db_connection) as context:
        result = contacts_queue_all(organization=org, crm="scripted", actor=ACTOR)
    assert result["queued_count"] == 3
    assert not [q for q in context.captured_queries if q["sql"].startswith("UPDATE")]
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.QUEUED).count() == 3


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_queue_alls_at_once_queue_each_contact_once(org, connection):
    """Both count the same rows; the row locks and ON CONFLICT make the second queue none twice:
    the queued counts add up to the contacts, and each contact has one Queued row."""
    past = timezone.now() - timedelta(hours=1)
    for _ in range(20):
        ContactSyncStateFactory(connection=connection, complete=True, last_synced_at=past)
    for _ in range(20):
        ContactFactory(organization=org)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def queue_all():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                results.append(contacts_queue_all(organization=org, crm="scripted", actor=ACTOR))
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=queue_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r["queued_count"] for r in results) == 40
    states = ContactSyncState.objects.filter(connection=connection)
    assert states.count() == 40
    assert set(states.values_list("sync_status", flat=True)) == {SyncStatus.QUEUED}


@pytest.mark.requires_postgres
@pytest.mark.django_db
def test_the_connection_reference_is_still_enforced_by_the_database(org, connection):
    """Checked once per statement (migration crm_sync 0013), refused as the constraint refused it."""
    contact = ContactFactory(organization=org)
    table = ContactSyncState._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (contact_id, connection_id, sync_status, created_at, updated_at) "  # noqa: S608
            "VALUES (%s, %s, 'Queued', now(), now())",
            [contact.pk.hex, connection.pk + 1000],
        )
    state = ContactSyncStateFactory(connection=connection, contact=contact)
    with pytest.raises(IntegrityError), transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET connection_id = %s WHERE id = %s", [connection.pk + 1000, state.pk]
        )  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute("DELETE FROM integrations_crmconnection WHERE id = %s", [connection.pk])
    connection.delete()  # Django's cascade deletes the states first
    assert not ContactSyncState.objects.filter(pk=state.pk).exists()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_deleted_while_queueing_runs_waits_and_is_refused(org, connection):
    """The INSERT's check locks the connection FOR KEY SHARE: a delete elsewhere waits for the
    queueing to commit, then finds its states and fails, leaving no state without its connection."""
    ContactFactory(organization=org)
    outcome = []
    started = threading.Event()

    def delete_elsewhere():
        try:
            started.set()
            with db_connection.cursor() as cursor:
                cursor.execute("DELETE FROM integrations_crmconnection WHERE id = %s", [connection.pk])
            outcome.append("deleted")
        except IntegrityError:
            outcome.append("refused")
        finally:
            db_connections.close_all()

    with transaction.atomic():
        assert contacts_queue_all(organization=org, crm="scripted", actor=ACTOR)["queued_count"] == 1
        thread = threading.Thread(target=delete_elsewhere)
        thread.start()
        started.wait(timeout=10)
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for this transaction's lock
    thread.join(timeout=30)
    assert outcome == ["refused"]
    assert ContactSyncState.objects.filter(connection_id=connection.pk).count() == 1


@pytest.mark.django_db
def test_the_plain_insert_adds_only_contacts_without_a_row(org, connection):
    from crm_sync.services.statements import states_insert_queued

    fresh = [ContactFactory(organization=org) for _ in range(3)]
    kept = ContactSyncStateFactory(connection=connection, complete=True)
    inserted = states_insert_queued(
        contact_ids=Contact.objects.filter(organization=org).values("pk"),
        connection_id=connection.pk,
        now=timezone.now(),
        mostly_new=True,
    )
    assert inserted == 3
    queued = ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.QUEUED)
    assert set(queued.values_list("contact_id", flat=True)) == {c.pk for c in fresh}
    kept.refresh_from_db()
    assert kept.sync_status == SyncStatus.COMPLETE


@pytest.mark.django_db
def test_a_conflict_in_the_plain_insert_falls_back_to_on_conflict(org, connection):
    """A selection naming a contact twice (a join without DISTINCT) breaks the unique constraint in
    the plain INSERT; its savepoint is rolled back and the ON CONFLICT statement makes one row."""
    from contacts.models import Registration
    from crm_sync.services.statements import states_insert_queued
    from tests.contacts.factories import EventFactory, RegistrationFactory

    contact = ContactFactory(organization=org)
    for _ in range(2):
        RegistrationFactory(contact=contact, event=EventFactory(organization=org))
    twice = Contact.objects.filter(organization=org, registrations__in=Registration.objects.all())
    assert twice.count() == 2
    with CaptureQueriesContext(db_connection) as context:
        inserted = states_insert_queued(
            contact_ids=twice.values("pk"), connection_id=connection.pk, now=timezone.now(), mostly_new=True
        )
    assert inserted == 1
    assert ContactSyncState.objects.filter(connection=connection, contact=contact).count() == 1
    assert any(q["sql"].startswith("ROLLBACK TO SAVEPOINT") for q in context.captured_queries)


@pytest.mark.django_db
def test_queue_all_takes_the_plain_insert_from_enough_new_contacts(org, connection, monkeypatch):
    from crm_sync.services import queueing

    monkeypatch.setattr(queueing, "MOSTLY_NEW_MIN_ROWS", 2)
    for _ in range(2):
        ContactFactory(organization=org)
    ContactSyncStateFactory(connection=connection, errored=True)
    with CaptureQueriesContext(db_connection) as context:
        result = contacts_queue_all(organization=org, crm="scripted", actor=ACTOR)
    assert result["queued_count"] == 3
    inserts = [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith('INSERT INTO "crm_sync_contactsyncstate"')
    ]
    assert len(inserts) == 1 and "ON CONFLICT" not in inserts[0]
    assert ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.QUEUED).count() == 3
