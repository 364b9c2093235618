"""Claiming, releasing and reaping queue rows; exclusivity on SQLite and PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.queue import claim_batch, reap_stale, release_claimed
from tests.crm_sync.factories import ContactSyncStateFactory


@pytest.mark.django_db
def test_claim_marks_rows_processing_with_the_token(connection):
    states = [ContactSyncStateFactory(connection=connection, queued=True) for _ in range(3)]
    ids = claim_batch(connection_id=connection.pk, limit=2, token="w1")
    assert len(ids) == 2
    claimed = ContactSyncState.objects.filter(pk__in=ids)
    assert {s.claim_token for s in claimed} == {"w1"}
    assert {s.sync_status for s in claimed} == {SyncStatus.PROCESSING}
    assert ContactSyncState.objects.filter(
        pk=states[2].pk, processing_status=ProcessingStatus.QUEUED
    ).exists()


@pytest.mark.django_db
def test_second_claim_takes_only_the_rest(connection):
    for _ in range(5):
        ContactSyncStateFactory(connection=connection, queued=True)
    first = claim_batch(connection_id=connection.pk, limit=3, token="w1")
    second = claim_batch(connection_id=connection.pk, limit=3, token="w2")
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    assert claim_batch(connection_id=connection.pk, limit=3, token="w3") == []


@pytest.mark.django_db
def test_conditional_update_keeps_a_stale_candidate_list_from_double_claiming(connection, monkeypatch):
    """Portable exclusivity: even when two workers read the same candidates (SQLite has no
    row locks), only the first conditional UPDATE wins each row."""
    for _ in range(4):
        ContactSyncStateFactory(connection=connection, queued=True)
    import crm_sync.queue as queue

    real_due = queue.due_states
    snapshot = list(real_due(connection_id=connection.pk, now=timezone.now()).values_list("pk", flat=True))
    first = claim_batch(connection_id=connection.pk, limit=4, token="w1")
    # the second worker still sees the old candidates
    monkeypatch.setattr(
        queue, "due_states", lambda **kw: ContactSyncState.objects.filter(pk__in=snapshot).order_by("pk")
    )
    second = claim_batch(connection_id=connection.pk, limit=4, token="w2")
    assert sorted(first) == sorted(snapshot)
    assert second == []
    assert not ContactSyncState.objects.filter(claim_token="w2").exists()


@pytest.mark.django_db
def test_release_returns_rows_without_counting_an_attempt(connection):
    state = ContactSyncStateFactory(connection=connection, queued=True, retry_count=2)
    claim_batch(connection_id=connection.pk, limit=10, token="w1")
    assert release_claimed(token="w1") == 1
    state.refresh_from_db()
    assert (
        state.processing_status == ProcessingStatus.QUEUED
        and state.retry_count == 2
        and state.claim_token is None
    )


@pytest.mark.django_db
def test_reaper_requeues_stale_rows_and_counts_the_attempt(connection):
    stuck = ContactSyncStateFactory(connection=connection, stuck=True, retry_count=0)
    fresh = ContactSyncStateFactory(
        connection=connection,
        stuck=True,
        claim_token="alive",
        claimed_at=timezone.now() - timedelta(seconds=5),
    )
    result = reap_stale(lease_seconds=60)
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert result == {"requeued": 1, "errored": 0}
    assert stuck.processing_status == ProcessingStatus.QUEUED and stuck.sync_status == SyncStatus.QUEUED
    assert stuck.retry_count == 1 and stuck.claim_token is None
    assert fresh.processing_status == ProcessingStatus.PROCESSING and fresh.claim_token == "alive"


@pytest.mark.django_db
def test_reaper_fails_a_poison_contact_after_max_retries(connection):
    state = ContactSyncStateFactory(connection=connection, stuck=True, retry_count=2)  # max_retries 3
    result = reap_stale(lease_seconds=60)
    state.refresh_from_db()
    assert result == {"requeued": 0, "errored": 1}
    assert state.processing_status == ProcessingStatus.ERROR and state.error_category == "worker_lost"
    assert state.retry_count == 3


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_never_claim_the_same_row(connection):
    """Two threads (two database connections) claim at the same time with SKIP LOCKED:
    their sets are disjoint and together they take every due row."""
    for _ in range(200):
        ContactSyncStateFactory(connection=connection, queued=True)
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)
    errors = []

    def worker(token):
        try:
            barrier.wait()
            claimed = []
            while batch := claim_batch(connection_id=connection.pk, limit=7, token=token):
                claimed += batch
            results[token] = claimed
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db_connection.vendor == "postgresql"
    assert not set(results["w1"]) & set(results["w2"])
    assert len(results["w1"]) + len(results["w2"]) == 200
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() == 0
    for token, ids in results.items():
        assert ContactSyncState.objects.filter(pk__in=ids, claim_token=token).count() == len(ids)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_skip_locked_lets_a_worker_pass_rows_another_holds(connection):
    """While one transaction holds candidate rows locked, another claim skips them instead of waiting."""
    from django.db import transaction

    for _ in range(4):
        ContactSyncStateFactory(connection=connection, queued=True)
    locked_ids = []
    ready, done = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            rows = (
                ContactSyncState.objects.filter(connection=connection)
                .order_by("pk")
                .select_for_update()
                .values_list("pk", flat=True)[:2]
            )
            locked_ids.extend(rows)
            ready.set()
            done.wait(10)
        db_connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    ready.wait(10)
    try:
        claimed = claim_batch(connection_id=connection.pk, limit=4, token="w2")
    finally:
        done.set()
        thread.join()
    assert len(claimed) == 2 and not set(claimed) & set(locked_ids)


def _claimable(connection, *, priority=0, **contact):
    from tests.contacts.factories import ContactFactory

    person = ContactFactory(organization=connection.organization, **contact)
    return ContactSyncStateFactory(
        connection=connection,
        contact=person,
        queued=True,
        priority=priority,
        last_request={"inputs": [{"email": person.email}]},
    )


@pytest.mark.django_db
def test_claim_states_returns_the_rows_as_loaded_with_their_contacts_in_claim_order(
    connection, django_assert_num_queries
):
    from crm_sync.queue import claim_states
    from crm_sync.services.outcomes import WRITTEN_FIELDS
    from crm_sync.services.payloads import CONTACT_COLUMNS

    normal = _claimable(connection, tags=["vip"], custom_properties={"tier": "gold", "n": 3})
    urgent = _claimable(connection, priority=1, email="urgent@example.com")
    states, orphans = claim_states(
        connection_id=connection.pk,
        limit=10,
        token="w1",
        fields=WRITTEN_FIELDS,
        contact_fields=CONTACT_COLUMNS,
    )
    assert orphans == [] and [s.pk for s in states] == [urgent.pk, normal.pk]  # high priority first
    for claimed in states:
        stored = ContactSyncState.objects.select_related("contact").get(pk=claimed.pk)
        with django_assert_num_queries(0):  # everything asked for is loaded, the contact too
            for name in WRITTEN_FIELDS:
                assert getattr(claimed, name) == getattr(stored, name), name
            for name in CONTACT_COLUMNS:
                assert getattr(claimed.contact, name) == getattr(stored.contact, name), name
        assert claimed.claim_token == "w1" and claimed.sync_status == SyncStatus.PROCESSING
        assert claimed.claimed_at.utcoffset() == stored.claimed_at.utcoffset() == timedelta(0)
    assert states[1].contact.tags == ["vip"]
    assert states[1].contact.custom_properties == {"tier": "gold", "n": 3}
    assert states[1].last_request == {"inputs": [{"email": normal.contact.email}]}
    # a column not asked for is deferred, as with .only(): read on first access
    with django_assert_num_queries(1):
        assert states[0].queued_at == urgent.queued_at


@pytest.mark.django_db
def test_claim_states_claims_and_reports_rows_whose_contact_is_gone(connection):
    from crm_sync.queue import claim_states

    orphan, kept = _claimable(connection), _claimable(connection)
    with db_connection.cursor() as cursor:  # a delete that bypasses Django's cascade
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [orphan.contact_id.hex])
    states, orphans = claim_states(
        connection_id=connection.pk, limit=10, token="w1", fields=["remote_id"], contact_fields=["email"]
    )
    assert [s.pk for s in states] == [kept.pk] and orphans == [orphan.pk]
    orphan.refresh_from_db()
    assert orphan.claim_token == "w1" and orphan.processing_status == ProcessingStatus.PROCESSING


@pytest.mark.requires_postgres
@pytest.mark.django_db
def test_on_postgresql_a_claim_and_its_rows_are_one_statement(connection):
    from crm_sync.queue import claim_states

    for _ in range(3):
        _claimable(connection)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db_connection) as captured:
        states, _ = claim_states(
            connection_id=connection.pk, limit=10, token="w1", fields=["remote_id"], contact_fields=["email"]
        )
    # (the test's own transaction turns the claim's into a savepoint, which is not counted)
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(states) == 3 and len(statements) == 1 and "SKIP LOCKED" in statements[0]
