"""The push engine: claim, connector call, per-contact outcomes, SyncRun."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from crm_sync.services.push import push_batch_process, push_connection_drain
from integrations.connectors.base import PushResult
from integrations.errors import CrmAuthError, CrmRateLimited, CrmUnavailable, CrmValidationError
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db


def _queued(connection, n=3, **kwargs):
    return [ContactSyncStateFactory(connection=connection, queued=True, **kwargs) for _ in range(n)]


def test_push_marks_every_contact_complete_and_records_a_run(connection, scripted):
    # given
    states = _queued(connection, 3)
    # when
    run = push_batch_process(connection_id=connection.pk)
    # then
    assert len(scripted.calls) == 1 and len(scripted.calls[0]) == 3
    for state in states:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.COMPLETE
        assert state.processing_status == ProcessingStatus.COMPLETE
        assert state.remote_id.startswith("r-")
        assert state.last_synced_at is not None and len(state.pushed_hash) == 64
        assert state.claim_token is None
    assert run.succeeded == 3 and run.claimed == 3 and run.outcome == SyncRun.Outcome.SUCCESS
    assert SyncRun.objects.count() == 1


def test_last_request_is_redacted_of_secrets(connection, scripted):
    state = _queued(connection, 1)[0]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert "sk-live-should-not-leak" not in str(state.last_request)
    assert state.last_request["email"] == state.contact.email


def test_nothing_due_returns_none_without_calling_the_crm(connection, scripted):
    ContactSyncStateFactory(connection=connection, queued=True, due_at=timezone.now() + timedelta(minutes=5))
    assert push_batch_process(connection_id=connection.pk) is None
    assert scripted.calls == []


def test_unchanged_payload_completes_without_a_call(connection, scripted):
    # given: a contact pushed once, then queued again unchanged
    state = _queued(connection, 1)[0]
    push_batch_process(connection_id=connection.pk)
    ContactSyncState.objects.filter(pk=state.pk).update(
        sync_status=SyncStatus.QUEUED, processing_status=ProcessingStatus.QUEUED, due_at=timezone.now()
    )
    # when
    run = push_batch_process(connection_id=connection.pk)
    # then
    assert len(scripted.calls) == 1
    assert run.unchanged == 1
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.COMPLETE


def test_changed_payload_is_pushed_again(connection, scripted):
    state = _queued(connection, 1)[0]
    push_batch_process(connection_id=connection.pk)
    state.contact.first_name = "Changed"
    state.contact.save()
    ContactSyncState.objects.filter(pk=state.pk).update(
        sync_status=SyncStatus.QUEUED, processing_status=ProcessingStatus.QUEUED, due_at=timezone.now()
    )
    push_batch_process(connection_id=connection.pk)
    assert len(scripted.calls) == 2
    assert scripted.calls[1][0].properties["first_name"] == "Changed"


def test_contact_without_email_is_skipped_with_reason(connection, scripted):
    contact = ContactFactory(organization=connection.organization, without_email=True)
    state = ContactSyncStateFactory(connection=connection, contact=contact, queued=True)
    run = push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.SKIPPED and "no email" in state.skip_reason
    assert run.skipped == 1 and scripted.calls == []


def test_retriable_batch_failure_backs_off_and_counts_an_attempt(connection, scripted):
    # given
    states = _queued(connection, 2)
    scripted.script = [CrmUnavailable("HubSpot answered 503", status=503)]
    before = timezone.now()
    # when
    run = push_batch_process(connection_id=connection.pk)
    # then
    for state in states:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.ERROR
        assert state.processing_status == ProcessingStatus.QUEUED  # scheduled again
        assert state.retry_count == 1 and state.error_category == "unavailable"
        # base 10 s * 2**0 with jitter in [50%, 100%]
        assert before + timedelta(seconds=5) <= state.next_retry_at <= timezone.now() + timedelta(seconds=10)
        assert state.due_at == state.next_retry_at
    assert run.retried == 2 and run.outcome == SyncRun.Outcome.FAILED


def test_retry_after_is_a_floor_for_the_backoff(connection, scripted):
    state = _queued(connection, 1)[0]
    scripted.script = [CrmUnavailable("busy", status=503, retry_after=300)]
    before = timezone.now()
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.next_retry_at >= before + timedelta(seconds=300)


def test_max_retries_ends_in_error_that_is_not_retried(connection, scripted):
    state = ContactSyncStateFactory(connection=connection, queued=True, retry_count=2)  # max_retries = 3
    scripted.script = [CrmUnavailable("down", status=503)]
    run = push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.ERROR and state.processing_status == ProcessingStatus.ERROR
    assert state.retry_count == 3 and state.next_retry_at is None
    assert run.failed == 1


def test_rate_limited_batch_waits_for_the_window_and_is_not_an_attempt(connection, scripted):
    state = ContactSyncStateFactory(connection=connection, queued=True, retry_count=1)
    scripted.script = [CrmRateLimited("Too many requests", status=429, retry_after=7)]
    before = timezone.now()
    run = push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.processing_status == ProcessingStatus.QUEUED
    assert state.retry_count == 1  # unchanged: not an attempt
    assert state.due_at >= before + timedelta(seconds=7)
    assert run.rate_limited == 1 and run.outcome == SyncRun.Outcome.RATE_LIMITED


def test_permanent_failure_goes_to_error_at_once_with_the_crm_message(connection, scripted):
    good, bad = _queued(connection, 2)

    def partial(records):
        return [
            PushResult(contact_id=r.contact_id, ok=True, remote_id="9")
            if r.contact_id == str(good.contact_id)
            else PushResult(
                contact_id=r.contact_id,
                ok=False,
                error=CrmValidationError("Property values were not valid: phone"),
            )
            for r in records
        ]

    scripted.script = [partial]
    run = push_batch_process(connection_id=connection.pk)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.sync_status == SyncStatus.COMPLETE
    assert bad.sync_status == SyncStatus.ERROR and bad.processing_status == ProcessingStatus.ERROR
    assert bad.error == "Property values were not valid: phone" and bad.error_category == "validation"
    assert bad.retry_count == 1
    assert run.outcome == SyncRun.Outcome.PARTIAL and run.succeeded == 1 and run.failed == 1


def test_auth_failure_opens_the_circuit_and_stops_dispatching(connection, scripted):
    # given: two batches worth of work
    connection.batch_size = 2
    connection.save()
    _queued(connection, 4)
    scripted.script = [CrmAuthError("Invalid token", status=401)]
    # when
    runs, budget_spent = push_connection_drain(connection_id=connection.pk, max_seconds=30)
    # then: one batch burnt, the connection paused, the rest still queued
    connection.refresh_from_db()
    assert connection.is_circuit_open and "Invalid token" in connection.circuit_reason
    assert len(runs) == 1 and not budget_spent
    assert (
        ContactSyncState.objects.filter(
            error_category="auth", processing_status=ProcessingStatus.ERROR
        ).count()
        == 2
    )
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() == 2
    assert push_batch_process(connection_id=connection.pk) is None  # paused


def test_unexpected_connector_exception_does_not_strand_rows(connection, scripted):
    state = _queued(connection, 1)[0]

    def boom(records):
        raise RuntimeError("bug")

    scripted.script = [boom]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.processing_status == ProcessingStatus.QUEUED and state.error_category == "unavailable"


def test_write_back_skips_rows_this_worker_no_longer_owns(connection, scripted):
    # given: the reaper gave the row to someone else while the CRM call was running
    state = _queued(connection, 1)[0]

    def stolen(records):
        ContactSyncState.objects.filter(pk=state.pk).update(
            claim_token="other-worker", processing_status=ProcessingStatus.PROCESSING
        )
        return [PushResult(contact_id=r.contact_id, ok=True, remote_id="1") for r in records]

    scripted.script = [stolen]
    run = push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.claim_token == "other-worker" and state.sync_status != SyncStatus.COMPLETE
    assert run.released == 1


def test_contact_edited_while_pushing_is_queued_again_after_the_push(connection, scripted):
    state = _queued(connection, 1)[0]

    def edited(records):
        ContactSyncState.objects.filter(pk=state.pk).update(requeue_requested=True)
        return [PushResult(contact_id=r.contact_id, ok=True, remote_id="1") for r in records]

    scripted.script = [edited]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.processing_status == ProcessingStatus.QUEUED
    assert state.remote_id == "1" and not state.requeue_requested


def test_high_priority_is_claimed_first(connection, scripted):
    connection.batch_size = 1
    connection.save()
    _queued(connection, 2)
    urgent = ContactSyncStateFactory(connection=connection, queued=True, priority=10)
    push_batch_process(connection_id=connection.pk)
    assert scripted.calls[0][0].contact_id == str(urgent.contact_id)


def test_disabled_connection_is_not_pushed(connection, scripted):
    _queued(connection, 1)
    connection.enabled = False
    connection.save()
    assert push_batch_process(connection_id=connection.pk) is None
    assert scripted.calls == []


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_lanes_push_every_contact_exactly_once(connection, scripted):
    """Four lanes (threads, each its own database connection) drain one connection together:
    every contact is sent once, in batches no two lanes share, and ends Complete."""
    connection.batch_size = 7
    connection.save()
    states = _queued(connection, 60)
    seen_threads = set()

    def slow_success(records):
        import threading
        import time

        seen_threads.add(threading.get_ident())
        time.sleep(0.02)  # a CRM round trip, so lanes overlap
        return [
            PushResult(contact_id=r.contact_id, ok=True, remote_id=f"r-{r.contact_id[:8]}") for r in records
        ]

    scripted.script = [slow_success] * 20
    runs, budget_spent = push_connection_drain(connection_id=connection.pk, max_seconds=30, lanes=4)
    sent = [payload.contact_id for call in scripted.calls for payload in call]
    assert sorted(sent) == sorted(str(s.contact_id) for s in states)  # each exactly once
    assert len(seen_threads) > 1  # the lanes really ran side by side
    assert not budget_spent and sum(run.succeeded for run in runs) == 60
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.COMPLETE, claim_token=None).count() == 60


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_lanes_stop_together_when_the_time_budget_is_spent(connection, scripted):
    connection.batch_size = 5
    connection.save()
    _queued(connection, 40)

    def slow_success(records):
        import time

        time.sleep(0.3)
        return [PushResult(contact_id=r.contact_id, ok=True) for r in records]

    scripted.script = [slow_success] * 8
    runs, budget_spent = push_connection_drain(connection_id=connection.pk, max_seconds=0.2, lanes=2)
    # each lane finished the batch in hand, then handed over: nothing is left claimed
    assert budget_spent and 1 <= len(runs) <= 2
    assert not ContactSyncState.objects.filter(processing_status=ProcessingStatus.PROCESSING).exists()
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() == 40 - 5 * len(
        runs
    )


def test_lanes_are_one_where_the_database_cannot_claim_rows_apart(settings):
    from django.db import connection as db_connection

    from crm_sync.services.push import push_lanes

    settings.SYNC_PUSH_LANES = 6
    expected = 6 if db_connection.features.has_select_for_update_skip_locked else 1
    assert push_lanes() == expected
    assert push_lanes(3) == (3 if expected == 6 else 1)
    assert push_lanes(0) == 1


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_lane_stops_the_others_and_the_error_reaches_the_task(connection, scripted, monkeypatch):
    from django.db import OperationalError

    import crm_sync.services.push as push_module

    connection.batch_size = 5
    connection.save()
    _queued(connection, 40)
    real = push_module.push_batch_process
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OperationalError("connection lost")
        return real(**kwargs)

    monkeypatch.setattr(push_module, "push_batch_process", flaky)
    with pytest.raises(OperationalError):
        push_connection_drain(connection_id=connection.pk, max_seconds=30, lanes=2)
    # the other lane stopped after its batch in hand instead of draining the queue
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() >= 20
    assert not ContactSyncState.objects.filter(processing_status=ProcessingStatus.PROCESSING).exists()


def test_a_claimed_row_whose_contact_is_gone_is_dropped_and_the_rest_pushed(connection, scripted):
    from django.db import connection as db_connection

    orphan, pushed = _queued(connection, 2)
    with db_connection.cursor() as cursor:  # a delete that bypasses Django's cascade
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [orphan.contact_id.hex])
    run = push_batch_process(connection_id=connection.pk)
    assert [payload.contact_id for payload in scripted.calls[0]] == [str(pushed.contact_id)]
    assert not ContactSyncState.objects.filter(pk=orphan.pk).exists()
    pushed.refresh_from_db()
    assert pushed.sync_status == SyncStatus.COMPLETE and run.claimed == 2 and run.succeeded == 1


def test_a_row_keeps_its_last_exchange_until_a_new_one_replaces_it(connection, scripted):
    """A push does not load the kept bodies; each row writes only the exchange it had."""
    unchanged, failed, pushed, skipped = _queued(connection, 4)
    old = {"last_request": {"old": "request"}, "last_response": {"old": "response"}}
    push_batch_process(connection_id=connection.pk)  # the first push, so `unchanged` has a hash
    ContactSyncState.objects.update(
        **old, sync_status=SyncStatus.QUEUED, processing_status=ProcessingStatus.QUEUED, due_at=timezone.now()
    )
    ContactSyncState.objects.filter(pk=skipped.pk).update(pushed_hash="")
    skipped.contact.email = ""
    skipped.contact.save(update_fields=["email"])
    failed.contact.first_name = "Changed"
    failed.contact.save(update_fields=["first_name"])
    pushed.contact.first_name = "Changed too"
    pushed.contact.save(update_fields=["first_name"])

    def answer(records):
        return [
            PushResult(
                contact_id=r.contact_id,
                ok=r.contact_id == str(pushed.contact_id),
                remote_id="9",
                error=None if r.contact_id == str(pushed.contact_id) else CrmValidationError("bad phone"),
                request={"sent": r.contact_id},
                response={"answer": r.contact_id},
            )
            for r in records
        ]

    scripted.script = [answer]
    run = push_batch_process(connection_id=connection.pk)
    assert (run.unchanged, run.skipped, run.succeeded, run.failed) == (1, 1, 1, 1)
    by_pk = ContactSyncState.objects.in_bulk([s.pk for s in (unchanged, failed, pushed, skipped)])
    for kept in (unchanged, skipped):  # no exchange this time: the last one stays
        assert (by_pk[kept.pk].last_request, by_pk[kept.pk].last_response) == tuple(old.values())
    for exchanged in (failed, pushed):
        row = by_pk[exchanged.pk]
        assert row.last_request == {"sent": str(exchanged.contact_id)}
        assert row.last_response == {"answer": str(exchanged.contact_id)}
    assert by_pk[failed.pk].error == "bad phone" and by_pk[pushed.pk].sync_status == SyncStatus.COMPLETE


def test_a_failed_batch_replaces_the_response_and_keeps_the_request(connection, scripted):
    state = _queued(connection, 1)[0]
    ContactSyncState.objects.filter(pk=state.pk).update(last_request={"old": 1}, last_response={"old": 2})
    scripted.script = [CrmUnavailable("down")]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.last_request == {"old": 1} and state.last_response["message"] == "down"


def test_requeue_fields_are_every_field_a_requeue_changes():
    from crm_sync.services.outcomes import REQUEUE_FIELDS, state_apply_requeue

    state = ContactSyncState(
        sync_status=SyncStatus.PROCESSING,
        processing_status=ProcessingStatus.PROCESSING,
        retry_count=2,
        next_retry_at=timezone.now(),
        due_at=None,
        requeue_requested=True,
        claim_token="w",
        claimed_at=timezone.now(),
    )
    before = {f.attname: getattr(state, f.attname) for f in ContactSyncState._meta.concrete_fields}
    state_apply_requeue(state, now=timezone.now() + timedelta(seconds=1))
    changed = {name for name, value in before.items() if getattr(state, name) != value}
    assert changed == set(REQUEUE_FIELDS)


@pytest.mark.parametrize("kept_exchange", [False, True])
def test_a_batchs_queries_do_not_grow_with_its_size(connection, scripted, kept_exchange):
    """No per-row query hides in a push: not for a contact, nor for a body it did not load."""
    from django.db import connection as db_connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 6):
        states = _queued(connection, size)
        if kept_exchange:  # rows that keep their last exchange (unchanged since their last push)
            push_batch_process(connection_id=connection.pk)
            ContactSyncState.objects.filter(pk__in=[s.pk for s in states]).update(
                last_request={"old": 1}, processing_status=ProcessingStatus.QUEUED, due_at=timezone.now()
            )
        with CaptureQueriesContext(db_connection) as captured:
            run = push_batch_process(connection_id=connection.pk)
        assert run.claimed == size and (run.unchanged if kept_exchange else run.succeeded) == size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_the_crms_http_status_is_stored_with_the_error_and_cleared_on_success(connection, scripted):
    state = _queued(connection, 1)[0]
    scripted.script = [CrmUnavailable("HubSpot answered 503", status=503)]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.http_status == 503 and state.error_category == "unavailable"
    ContactSyncState.objects.filter(pk=state.pk).update(due_at=timezone.now())
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.COMPLETE and state.http_status is None


def test_a_failure_without_an_http_answer_stores_no_status(connection, scripted):
    state = _queued(connection, 1)[0]
    scripted.script = [CrmUnavailable("connection reset")]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.ERROR and state.http_status is None
