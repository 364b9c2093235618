"""Big queue-alls: decided and counted in the request (202), written to the queue in chunks after it.

The thresholds are lowered so a handful of contacts takes the path a million do
(SYNC_QUEUE_ALL_INLINE_MAX_ROWS, SYNC_QUEUE_ALL_CHUNK_ROWS).
"""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import AuditEvent
from crm_sync.models import (
    ContactSyncState,
    Priority,
    ProcessingStatus,
    QueueAllChunk,
    QueueAllRun,
    SyncStatus,
)
from crm_sync.selectors import queue_depth
from crm_sync.services.queue_all import contacts_queue_all
from crm_sync.services.queue_all_runs import (
    STALLED_AFTER,
    queue_all_chunk_write,
    queue_all_run_start,
    queue_all_run_write,
    queue_all_runs_to_resume,
)
from crm_sync.services.queueing import contact_queue
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db

ALL = "/api/v1/contacts/queue-all-sync/"
STATS = "/api/v1/contacts/sync-stats/?crm=scripted"
SYSTEM = Actor.system("test")


@pytest.fixture(autouse=True)
def small_thresholds(settings):
    settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS = 2
    settings.SYNC_QUEUE_ALL_CHUNK_ROWS = 2


@pytest.fixture
def mixed(org, connection):
    """Eight contacts: three without a state row, two failed, one unchanged since its push, one
    queued already, and one without an email (five are queued, three skipped)."""
    new = [ContactFactory(organization=org) for _ in range(3)]
    failed = [ContactSyncStateFactory(connection=connection, errored=True) for _ in range(2)]
    unchanged = ContactSyncStateFactory(
        connection=connection, complete=True, last_synced_at=timezone.now() + timedelta(minutes=1)
    )
    queued = ContactSyncStateFactory(connection=connection, queued=True)
    no_email = ContactFactory(organization=org, email="")
    return {"new": new, "failed": failed, "unchanged": unchanged, "queued": queued, "no_email": no_email}


def queued_ids(connection) -> set:
    return set(
        ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.QUEUED).values_list(
            "contact_id", flat=True
        )
    )


def test_a_big_queue_all_answers_202_with_its_count_before_writing_a_row(
    api_client, connection, mixed, django_capture_on_commit_callbacks
):
    with (
        mock.patch("crm_sync.tasks.queue_all_write.delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = api_client.post(ALL, {"crm": "scripted"}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["queued_count"] == 5 and body["matched_count"] == 8
    assert body["skipped"] == {"no_email": 1, "already_queued": 1, "unchanged": 1}
    run = body["run"]
    assert run["status"] == "writing" and run["queued_count"] == 5
    assert run["written_count"] == 0 and run["pending_count"] == 5 and run["finished_at"] is None
    # Decided and counted, nothing written yet: only the row that was queued before is queued.
    assert queued_ids(connection) == {mixed["queued"].contact_id}
    assert QueueAllChunk.objects.filter(run_id=run["id"]).count() == 3  # 2 + 1 new, 2 failed
    assert len(callbacks) == 1
    delay.assert_called_once_with(run_id=run["id"])
    audit = AuditEvent.objects.get(action="sync.queue_all")
    assert audit.changes["count"] == 5 and audit.changes["run"] == run["id"]

    stats = api_client.get(STATS).json()
    assert stats["queue_all_pending"] == 5 and stats["queued"] == 1
    assert queue_depth(connection=connection) == 1 + 5


def test_the_chunks_write_exactly_what_was_counted_and_finish_the_run(api_client, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = api_client.post(ALL, {"crm": "scripted"}, format="json").json()["run"]["id"]
    written, more = queue_all_run_write(run_id=run_id)
    assert (written, more) == (5, False)
    expected = {c.pk for c in mixed["new"]} | {s.contact_id for s in mixed["failed"]}
    assert queued_ids(connection) == expected | {mixed["queued"].contact_id}
    for state in ContactSyncState.objects.filter(contact_id__in=[s.contact_id for s in mixed["failed"]]):
        assert state.retry_count == 0 and state.error == "" and state.processing_status == "Queued"
    run = QueueAllRun.objects.get(pk=run_id)
    assert (run.written, run.not_written, run.pending) == (5, 0, 0)
    assert run.finished_at is not None and not QueueAllChunk.objects.exists()
    assert api_client.get(STATS).json()["queue_all_pending"] == 0
    assert queue_all_chunk_write(run_id=run_id) is None  # nothing is written twice
    assert QueueAllRun.objects.get(pk=run_id).written == 5


def test_a_second_queue_all_while_one_is_written_is_refused_with_409(api_client, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = api_client.post(ALL, {"crm": "scripted"}, format="json").json()["run"]["id"]
        for body in ({"crm": "scripted"}, {"crm": "scripted", "dry_run": True}):
            response = api_client.post(ALL, body, format="json")
            assert response.status_code == 409, response.json()
            error = response.json()
            assert error["code"] == "queue_all_in_progress"
            assert error["details"]["run"]["id"] == run_id
            assert error["details"]["run"]["pending_count"] == 5
        assert QueueAllRun.objects.count() == 1
        queue_all_run_write(run_id=run_id)
        # Written: queueing again is allowed, and finds everything queued.
        response = api_client.post(ALL, {"crm": "scripted"}, format="json")
    assert response.status_code == 200 and response.json()["queued_count"] == 0


def test_the_database_allows_one_unfinished_run_per_connection(org, connection, mixed):
    from contacts.models import Contact

    QueueAllRun.objects.create(connection=connection, requested_at=timezone.now(), total=1)
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the service's Conflict, checked below
        queue_all_run_start(
            contacts=Contact.objects.filter(organization=org),
            connection=connection,
            now=timezone.now(),
            priority=Priority.NORMAL,
            force=False,
            not_synced=False,
        )
    assert getattr(refused.value, "code", None) == "queue_all_in_progress"
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueAllRun.objects.create(connection=connection, requested_at=timezone.now(), total=1)


def test_the_decision_is_taken_once_at_the_request(org, connection, mixed):
    """What happens between the answer and the writing never changes who is queued, only whether
    the run is the one that queues them."""
    edited, deleted, queued_meanwhile = mixed["new"]
    failed = mixed["failed"][0]
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        result = contacts_queue_all(organization=org, crm="scripted", filters={"source": "api"}, actor=SYSTEM)
    assert result["queued_count"] == 5
    later = ContactFactory(organization=org, source="api")  # created after the request: not counted
    edited.source = "event"  # no longer matches the filter: the request's decision still holds
    edited.save()
    deleted.delete()
    contact_queue(organization=org, contact_id=queued_meanwhile.pk, crm="scripted", actor=SYSTEM)
    queued_meanwhile_at = ContactSyncState.objects.get(contact=queued_meanwhile).queued_at
    ContactSyncState.objects.filter(contact_id=failed.contact_id).update(
        processing_status=ProcessingStatus.PROCESSING, sync_status=SyncStatus.PROCESSING
    )

    queue_all_run_write(run_id=result["run"]["id"])

    run = QueueAllRun.objects.get(pk=result["run"]["id"])
    assert run.written + run.not_written == 5 and run.finished_at is not None
    assert ContactSyncState.objects.get(contact=edited).sync_status == SyncStatus.QUEUED
    assert not ContactSyncState.objects.filter(contact_id=deleted.pk).exists()
    assert not ContactSyncState.objects.filter(contact=later).exists()
    # queued by someone else after the request: left as that request queued it
    assert ContactSyncState.objects.get(contact=queued_meanwhile).queued_at == queued_meanwhile_at
    # edited and the other failed one written; deleted, queued meanwhile and the failed one a
    # worker is pushing now (that push serves the request) not written by the run
    assert run.not_written == 3 and run.written == 2


def test_a_row_a_worker_is_pushing_is_never_taken_from_it(org, connection):
    """A failed row whose retry a worker claimed after the request: that push sends the contact
    as it is now, which is what the request asked; the run leaves the row to the worker."""
    states = [ContactSyncStateFactory(connection=connection, errored=True) for _ in range(3)]
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        result = contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)
    held = states[0]
    ContactSyncState.objects.filter(pk=held.pk).update(
        sync_status=SyncStatus.PROCESSING, processing_status=ProcessingStatus.PROCESSING, claim_token="w"
    )
    queue_all_run_write(run_id=result["run"]["id"])
    held.refresh_from_db()
    assert held.processing_status == ProcessingStatus.PROCESSING and held.claim_token == "w"
    run = QueueAllRun.objects.get(pk=result["run"]["id"])
    assert (run.written, run.not_written) == (2, 1)


def test_force_and_high_priority_carry_to_the_written_rows(
    org, connection, django_capture_on_commit_callbacks
):
    states = [
        ContactSyncStateFactory(
            connection=connection, complete=True, last_synced_at=timezone.now() + timedelta(minutes=1)
        )
        for _ in range(3)
    ]
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        result = contacts_queue_all(
            organization=org, crm="scripted", force=True, priority="high", actor=SYSTEM
        )
    assert result["queued_count"] == 3
    with (
        mock.patch("crm_sync.tasks.push_batch.delay") as push,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        queue_all_chunk_write(run_id=result["run"]["id"])
    assert len(callbacks) == 1
    push.assert_called_once_with(connection_id=connection.pk)
    queue_all_run_write(run_id=result["run"]["id"])
    for state in ContactSyncState.objects.filter(pk__in=[s.pk for s in states]):
        assert state.sync_status == SyncStatus.QUEUED and state.priority == Priority.HIGH
        assert state.pushed_hash == ""  # forced: pushed even if the payload is unchanged


def test_not_already_synced_leaves_complete_rows_out_of_the_run(org, connection):
    ContactSyncStateFactory(connection=connection, complete=True, pushed_hash="")
    failed = [ContactSyncStateFactory(connection=connection, errored=True) for _ in range(3)]
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        result = contacts_queue_all(
            organization=org, crm="scripted", filters={"not_already_synced": True}, actor=SYSTEM
        )
    assert result["queued_count"] == 3
    queue_all_run_write(run_id=result["run"]["id"])
    assert queued_ids(connection) == {s.contact_id for s in failed}


def test_a_task_hands_on_after_its_time_budget(org, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)["run"]["id"]
    assert queue_all_run_write(run_id=run_id, max_seconds=0) == (2, True)
    from crm_sync.tasks import queue_all_write

    with mock.patch("crm_sync.tasks.queue_all_write.apply_async") as again:
        assert queue_all_write(run_id=run_id) == 3
    again.assert_not_called()
    assert QueueAllRun.objects.get(pk=run_id).finished_at is not None


def test_a_stalled_run_is_resumed_by_the_dispatcher_once_a_period(org, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)["run"]["id"]
    assert queue_all_runs_to_resume() == []  # just requested: its task is on its way
    QueueAllRun.objects.filter(pk=run_id).update(updated_at=timezone.now() - STALLED_AFTER * 2)
    from crm_sync.tasks import dispatch_due_pushes

    with (
        mock.patch("crm_sync.tasks.queue_all_write.apply_async") as resumed,
        mock.patch("crm_sync.services.dispatch.pushes_dispatch_due", return_value={}),
    ):
        dispatch_due_pushes()
        dispatch_due_pushes()
    resumed.assert_called_once_with(kwargs={"run_id": run_id}, expires=60)


def test_a_small_queue_all_is_written_in_the_request(api_client, org, connection, settings):
    settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS = 50
    ContactFactory(organization=org)
    response = api_client.post(ALL, {"crm": "scripted"}, format="json")
    assert response.status_code == 200 and "run" not in response.json()
    assert not QueueAllRun.objects.exists()


def test_deleting_the_connection_takes_its_runs(org, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)["run"]["id"]
    connection.delete()
    assert not QueueAllRun.objects.exists() and not QueueAllChunk.objects.exists()
    assert queue_all_chunk_write(run_id=run_id) is None


def test_the_dashboard_shows_what_a_queue_all_has_still_to_write(admin_client, org, connection, mixed):
    with mock.patch("crm_sync.tasks.queue_all_write.delay"):
        run_id = contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)["run"]["id"]
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "1 + 5 a queue-all is writing" in page
    listing = admin_client.get("/admin/crm_sync/queueallrun/").content.decode()
    assert f"/admin/crm_sync/queueallrun/{run_id}/" in listing
    queue_all_run_write(run_id=run_id)
    page = admin_client.get("/admin/dashboard/").content.decode()
    assert "a queue-all is writing" not in page


def _at_once(target, count: int = 2) -> tuple[list, list]:
    """Run `target` in `count` threads that start together; (results, errors)."""
    from django.db import connections as db_connections

    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # reported by the caller, not swallowed
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_big_queue_alls_at_once_make_one_run_and_one_409(org, connection):
    past = timezone.now() - timedelta(hours=1)
    for _ in range(10):
        ContactSyncStateFactory(connection=connection, complete=True, last_synced_at=past)
        ContactFactory(organization=org)

    def queue_all():
        with mock.patch("crm_sync.services.queue_all._write_later"), transaction.atomic():
            return contacts_queue_all(organization=org, crm="scripted", actor=SYSTEM)

    results, errors = _at_once(queue_all)
    assert len(results) == 1 and results[0]["queued_count"] == 20
    assert [getattr(e, "code", e) for e in errors] == ["queue_all_in_progress"]
    run_id = results[0]["run"]["id"]

    # Two writers of the same run: each chunk is written once.
    written, errors = _at_once(lambda: queue_all_run_write(run_id=run_id)[0])
    assert errors == [] and sum(written) == 20
    run = QueueAllRun.objects.get(pk=run_id)
    assert (run.written, run.not_written) == (20, 0) and run.finished_at is not None
    states = ContactSyncState.objects.filter(connection=connection)
    assert states.count() == 20
    assert set(states.values_list("sync_status", flat=True)) == {SyncStatus.QUEUED}


def test_a_broker_that_refuses_the_task_still_gets_the_202_and_the_run_is_resumed_later(
    api_client, connection, mixed, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    with (
        mock.patch("crm_sync.tasks.queue_all_write.delay", side_effect=OperationalError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(ALL, {"crm": "scripted", "priority": "high"}, format="json")
    assert response.status_code == 202 and response.json()["queued_count"] == 5
    run_id = response.json()["run"]["id"]
    QueueAllRun.objects.filter(pk=run_id).update(updated_at=timezone.now() - STALLED_AFTER * 2)
    assert queue_all_runs_to_resume() == [run_id]


def test_a_high_priority_queue_is_answered_when_the_broker_refuses_the_push_nudge(
    api_client, org, connection, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    contact = ContactFactory(organization=org)
    with (
        mock.patch("crm_sync.tasks.push_batch.delay", side_effect=OperationalError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(
            f"/api/v1/contacts/{contact.pk}/queue-sync/",
            {"crm": "scripted", "priority": "high"},
            format="json",
        )
    assert response.status_code == 200 and response.json()["sync_status"] == "Queued"
