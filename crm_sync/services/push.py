"""Push one batch of queued contacts to one CRM connection.

Claim (short transaction) → build payloads → one connector call with no lock held →
write every outcome back in one bulk statement, only for rows this worker still owns →
record a SyncRun. A crash anywhere leaves rows Processing for the reaper; a soft time
limit releases them at once.
"""

import logging
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.utils import timezone

from core.bulk import bulk_update_rows, bulk_update_where
from crm_sync import connections
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun
from crm_sync.outcome_signals import contacts_pushed, send_on_commit
from crm_sync.queue import claim_states, release_claimed
from crm_sync.services.events import sync_events_record
from crm_sync.services.outcomes import (
    EXCHANGE_FIELDS,
    LOADED_FIELDS,
    OUTCOME_FIELDS,
    REQUEUE_FIELDS,
    state_apply_requeue,
    state_mark_complete,
    state_mark_failed,
    state_mark_rate_limited,
    state_mark_skipped,
)
from crm_sync.services.payloads import (
    CONTACT_COLUMNS,
    contact_payload_build,
    exchange_capture,
    exchanges_capture,
)
from crm_sync.services.retry import rate_limit_wait_seconds
from crm_sync.services.statements import states_orphaned_delete
from integrations.errors import CrmError, CrmRateLimited, CrmUnavailable

logger = logging.getLogger(__name__)

NO_EMAIL_REASON = "The contact has no email address; this CRM keys contacts by email."


@dataclass
class BatchTally:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    unchanged: int = 0
    rate_limited: int = 0
    released: int = 0
    errors: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def note_error(self, contact_id: str, error: CrmError) -> None:
        if len(self.errors) < 20:
            self.errors.append(
                {"contact_id": contact_id, "category": error.category, "message": error.message[:300]}
            )


def _apply_failure(state, *, error: CrmError, now: datetime, connection, tally: BatchTally) -> None:
    if isinstance(error, CrmRateLimited):
        if error.resets_at is not None:
            # A spent daily quota: due exactly at the CRM's reset, when the connection's hold ends.
            wait = max((error.resets_at - now).total_seconds(), 0.0)
        else:
            wait = rate_limit_wait_seconds(
                retry_after=error.retry_after, default=settings.SYNC_RATE_LIMIT_DEFAULT_WAIT_SECONDS
            )
        state_mark_rate_limited(state, now=now, wait_seconds=wait)
        tally.rate_limited += 1
        return
    policy = connections.retry_policy(connection)
    again = state_mark_failed(state, now=now, error=error, **policy)
    tally.note_error(str(state.contact_id), error)
    if again:
        tally.retried += 1
    else:
        tally.failed += 1


def _write_back(*, states: list[ContactSyncState], token: str, now: datetime) -> int:
    """Write outcomes for the rows this worker still owns; return them ({pk: (requeue_requested,)}).

    A row re-queued by the reaper (this worker was presumed dead) is no longer ours and
    keeps whatever happened since. A row edited meanwhile (requeue_requested) is queued
    again with its new data once this push is recorded.
    """
    # Rows are written in groups by the exchange fields they hold: one group (every row
    # pushed) in the usual batch, and a row with no new exchange keeps the one it had.
    groups: dict[tuple[str, ...], list[ContactSyncState]] = defaultdict(list)
    for state in states:
        unset = state.get_deferred_fields()
        groups[tuple(name for name in EXCHANGE_FIELDS if name not in unset)].append(state)
    owned: dict = {}
    with transaction.atomic():
        for exchanges, group in groups.items():
            fields = [name for name in OUTCOME_FIELDS if name not in EXCHANGE_FIELDS or name in exchanges]
            owned |= bulk_update_where(
                ContactSyncState,
                group,
                fields,
                where={"claim_token": token, "processing_status": ProcessingStatus.PROCESSING},
                returning=["requeue_requested"],
            )
        requeued = [state for state in states if owned.get(state.pk, (False,))[0]]
        for state in requeued:
            state_apply_requeue(state, now=now)
        bulk_update_rows(ContactSyncState, requeued, REQUEUE_FIELDS)
    return owned


def push_batch_process(
    *, connection_id: int, worker_token: str | None = None, limit: int | None = None, worker: str = ""
) -> SyncRun | None:
    """Claim and push one batch for a connection. Return its SyncRun, or None when idle."""
    started = timezone.now()
    t0 = time.perf_counter()
    connection = connections.pushable_connection(connection_id=connection_id)
    if connection is None:
        return None
    # The worker's name in the token lets an operator see who holds a claimed row.
    token = worker_token or (f"{worker[:31]}:{uuid.uuid4().hex}" if worker else uuid.uuid4().hex)
    batch_size = limit or connections.batch_size(connection)
    states, orphans = claim_states(
        connection_id=connection.pk,
        limit=batch_size,
        token=token,
        now=started,
        fields=[*LOADED_FIELDS, "connection_id"],
        contact_fields=CONTACT_COLUMNS,
    )
    if not states and not orphans:
        return None
    tally = BatchTally(claimed=len(states) + len(orphans))
    t_claim = time.perf_counter()
    try:
        return _push_claimed(
            connection=connection,
            states=states,
            orphans=orphans,
            token=token,
            tally=tally,
            started=started,
            t0=t0,
            t_claim=t_claim,
            worker=worker,
        )
    except SoftTimeLimitExceeded:
        released = release_claimed(token=token, ids=[state.pk for state in states])
        logger.warning(
            "Soft time limit: released %d claimed contacts of connection %s", released, connection.pk
        )
        raise


def _push_claimed(
    *, connection, states, orphans, token, tally: BatchTally, started, t0, t_claim, worker
) -> SyncRun:
    if orphans:
        # A claimed row whose contact is gone (the reference is not a database constraint):
        # there is nothing to push, so the row goes rather than waiting for the reaper.
        dropped = states_orphaned_delete(state_ids=orphans)
        if dropped:
            logger.warning(
                "Dropped %d sync states of deleted contacts (connection %s)", dropped, connection.pk
            )
    to_push, payload_states, hashes = [], [], {}
    now = timezone.now()
    for state in states:
        contact = state.contact
        if not contact.email:
            state_mark_skipped(state, now=now, reason=NO_EMAIL_REASON)
            tally.skipped += 1
            continue
        payload = contact_payload_build(contact=contact, connection=connection, remote_id=state.remote_id)
        if state.pushed_hash and state.pushed_hash == payload.idempotency_key and state.last_synced_at:
            # Nothing changed since the last successful push: already in sync, no call.
            state_mark_complete(state, now=now, remote_id=state.remote_id, pushed_hash=state.pushed_hash)
            tally.unchanged += 1
            continue
        hashes[state.pk] = payload.idempotency_key
        to_push.append(payload)
        payload_states.append(state)
    t_build = time.perf_counter()

    if to_push:
        results, whole_error = None, None
        try:
            connector = connections.connector_for(connection)
            results = connector.push_contacts(to_push)
            if len(results) != len(to_push):
                raise CrmUnavailable(
                    f"The connector returned {len(results)} results for {len(to_push)} contacts.",
                    crm=connection.kind,
                )
        except SoftTimeLimitExceeded:
            raise
        except CrmError as exc:
            whole_error = exc
        except Exception as exc:  # noqa: BLE001 - a connector bug must not strand claimed rows
            logger.exception("Connector %s failed unexpectedly on a batch", connection.kind)
            whole_error = CrmUnavailable(
                f"Unexpected error while pushing: {type(exc).__name__}", crm=connection.kind
            )
        t_http = time.perf_counter()
        now = timezone.now()
        secrets = connections.secret_values(connection)
        if whole_error is not None:
            if whole_error.category == "auth":
                connections.circuit_open(connection=connection, error=whole_error)
            captured = exchange_capture(whole_error.as_dict(), secrets=secrets)
            for state in payload_states:
                state.last_response = captured
                _apply_failure(state, error=whole_error, now=now, connection=connection, tally=tally)
        else:
            by_id = {r.contact_id: r for r in results}
            answered = []
            for payload, state in zip(to_push, payload_states, strict=True):
                result = by_id.get(payload.contact_id)
                if result is None:
                    result_error = CrmUnavailable("The connector returned no result for this contact.")
                    _apply_failure(state, error=result_error, now=now, connection=connection, tally=tally)
                else:
                    answered.append((state, result))
            exchanges = exchanges_capture(
                [body for _, result in answered for body in (result.request, result.response)],
                secrets=secrets,
            )
            for index, (state, result) in enumerate(answered):
                state.last_request, state.last_response = exchanges[2 * index : 2 * index + 2]
                if result.ok:
                    state_mark_complete(
                        state, now=now, remote_id=result.remote_id, pushed_hash=hashes[state.pk]
                    )
                    tally.succeeded += 1
                else:
                    error = result.error or CrmUnavailable("The CRM rejected the contact without a reason.")
                    if error.category == "auth":
                        connections.circuit_open(connection=connection, error=error)
                    _apply_failure(state, error=error, now=now, connection=connection, tally=tally)
    else:
        t_http = time.perf_counter()

    written_at = timezone.now()
    owned = _write_back(states=states, token=token, now=written_at)
    tally.released = len(states) - len(owned)
    sync_events_record(
        states=[state for state in states if state.pk in owned],
        connection=connection,
        direction="push",
        now=written_at,
    )
    _announce(connection=connection, states=payload_states)
    t_write = time.perf_counter()
    tally.timings = {
        "claim": t_claim - t0,
        "build": t_build - t_claim,
        "http": t_http - t_build,
        "write": t_write - t_http,
    }
    return _run_record(
        connection=connection, tally=tally, started=started, worker=worker, t0=t0, t_end=t_write
    )


def _announce(*, connection, states: list[ContactSyncState]) -> None:
    """Tell other apps (webhooks) once per batch which contacts it settled (outcome_signals.py)."""
    synced = [s.contact_id for s in states if s.processing_status == ProcessingStatus.COMPLETE]
    failed = [s.contact_id for s in states if s.processing_status == ProcessingStatus.ERROR]
    if synced or failed:
        send_on_commit(contacts_pushed, connection=connection, synced_ids=synced, failed_ids=failed)


def _outcome(tally: BatchTally) -> str:
    if tally.rate_limited and not (tally.succeeded or tally.failed or tally.retried):
        return SyncRun.Outcome.RATE_LIMITED
    if tally.failed or tally.retried:
        return SyncRun.Outcome.PARTIAL if (tally.succeeded or tally.unchanged) else SyncRun.Outcome.FAILED
    return SyncRun.Outcome.SUCCESS


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 0)


def _run_record(*, connection, tally: BatchTally, started, worker: str, t0: float, t_end: float) -> SyncRun:
    return SyncRun.objects.create(
        connection=connection,
        direction=SyncRun.Direction.PUSH,
        outcome=_outcome(tally),
        worker=worker[:255],
        claimed=tally.claimed,
        succeeded=tally.succeeded,
        failed=tally.failed,
        retried=tally.retried,
        skipped=tally.skipped,
        unchanged=tally.unchanged,
        rate_limited=tally.rate_limited,
        released=tally.released,
        claim_ms=_ms(tally.timings.get("claim", 0)),
        build_ms=_ms(tally.timings.get("build", 0)),
        http_ms=_ms(tally.timings.get("http", 0)),
        write_ms=_ms(tally.timings.get("write", 0)),
        duration_ms=_ms(t_end - t0),
        errors=tally.errors,
        started_at=started,
        finished_at=timezone.now(),
    )


def _drain_serial(
    *, connection_id: int, deadline: float, worker: str, stop: threading.Event | None = None
) -> tuple[list[SyncRun], bool]:
    runs: list[SyncRun] = []
    while True:
        if time.monotonic() >= deadline:
            return runs, True
        if stop is not None and stop.is_set():
            return runs, False
        run = push_batch_process(connection_id=connection_id, worker=worker)
        if run is None:
            return runs, False
        runs.append(run)
        # An opened circuit needs no check here: the next claim finds the connection paused.
        if run.outcome == SyncRun.Outcome.RATE_LIMITED:
            return runs, False


def _drain_lane(*, connection_id: int, deadline: float, worker: str, stop: threading.Event):
    try:
        return _drain_serial(connection_id=connection_id, deadline=deadline, worker=worker, stop=stop)
    finally:
        # Database connections are per thread: the lane's own must not outlive it.
        db_connections.close_all()


def push_lanes(requested: int | None = None) -> int:
    """How many batches one task keeps in flight; one where the database has no row-level claims."""
    if not db_connection.features.has_select_for_update_skip_locked:
        return 1  # SQLite serializes writers: parallel lanes would only queue on its lock
    return max(requested if requested is not None else settings.SYNC_PUSH_LANES, 1)


def push_connection_drain(
    *, connection_id: int, max_seconds: float, worker: str = "", lanes: int | None = None
) -> tuple[list[SyncRun], bool]:
    """Push batches of one connection until nothing is due or `max_seconds` have passed.

    Return the runs and whether work was left because the time budget ran out (the task
    then hands over to a fresh task instead of nearing its time limit).

    A batch spends most of its time waiting (on the CRM, on the database), so one task runs
    `lanes` claim-push-write loops side by side in threads, each with its own database
    connection: while one lane waits for the CRM, another writes back or claims. The claim
    (SKIP LOCKED) keeps lanes from ever holding the same contact. On the soft time limit the
    lanes finish the batch in hand (bounded by the connector's timeouts), then stop.
    """
    deadline = time.monotonic() + max_seconds
    lanes = push_lanes(lanes)
    if lanes == 1:
        return _drain_serial(connection_id=connection_id, deadline=deadline, worker=worker)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix=f"push-{connection_id}") as pool:
        futures = [
            pool.submit(_drain_lane, connection_id=connection_id, deadline=deadline, worker=worker, stop=stop)
            for _ in range(lanes)
        ]
        try:
            # A lane's error (or the soft time limit, raised in this thread) stops the others.
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # re-raises a lane's error
            outcomes = [future.result() for future in futures]
        except BaseException:
            stop.set()
            wait(futures)
            raise
    runs = [run for lane_runs, _ in outcomes for run in lane_runs]
    return runs, any(budget_spent for _, budget_spent in outcomes)
