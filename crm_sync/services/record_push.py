"""Pushing local record changes back to their CRM: claim, write, record the outcome, reap.

Same rules as contacts (STYLE §4.4, outcomes.py): a claim is a short transaction (SKIP LOCKED
on PostgreSQL, and a conditional UPDATE that makes it exclusive on every backend); no HTTP
call happens while a lock is held; a rate limit puts the record back at the CRM's
Retry-After without counting an attempt; other retriable failures back off exponentially
with jitter up to the connection's max retries; permanent failures go to Error with the
CRM's message; the reaper returns records stuck in Processing. Writes are one request each
(actions first, then the field update), so the batch is only the unit of work of a task.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from crm_sync import connections
from crm_sync.models import ProcessingStatus, RecordSyncState
from crm_sync.queue import stale_claims_return
from crm_sync.services.merge import values_equal
from crm_sync.services.retry import next_retry_time, rate_limit_wait_seconds
from integrations.errors import CrmError, CrmRateLimited

logger = logging.getLogger(__name__)
BATCH = 50


def record_states_claim(
    *, connection_id: int, limit: int, token: str, now: datetime
) -> list[RecordSyncState]:
    """Claim up to `limit` due record states of a connection for the worker holding `token`."""
    with transaction.atomic():
        candidates = RecordSyncState.objects.filter(
            connection_id=connection_id, processing_status=ProcessingStatus.QUEUED, due_at__lte=now
        ).order_by("due_at", "id")
        if db_connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        RecordSyncState.objects.filter(pk__in=ids, processing_status=ProcessingStatus.QUEUED).update(
            processing_status=ProcessingStatus.PROCESSING, claim_token=token, claimed_at=now
        )
    return list(
        RecordSyncState.objects.filter(claim_token=token, processing_status=ProcessingStatus.PROCESSING)
        .select_related("record", "connection")
        .order_by("due_at", "id")
    )


def _failure(state: RecordSyncState, *, error: CrmError, now: datetime, connection) -> None:
    state.error = (error.message or str(error))[:4000]
    state.error_category = error.category
    if isinstance(error, CrmRateLimited):
        wait = rate_limit_wait_seconds(
            retry_after=error.retry_after, default=settings.SYNC_RATE_LIMIT_DEFAULT_WAIT_SECONDS
        )
        state.processing_status = ProcessingStatus.QUEUED
        state.due_at = now + timedelta(seconds=wait)
        return
    policy = connections.retry_policy(connection)
    attempts_before = state.retry_count
    state.retry_count = attempts_before + 1
    state.last_retry_at = now
    if error.retriable and state.retry_count < policy["max_retries"]:
        state.processing_status = ProcessingStatus.QUEUED
        state.next_retry_at = next_retry_time(
            now=now,
            retry_count=attempts_before,
            base=policy["retry_base"],
            cap=policy["retry_cap"],
            retry_after=error.retry_after,
        )
        state.due_at = state.next_retry_at
        return
    state.processing_status = ProcessingStatus.ERROR
    state.next_retry_at = None
    state.due_at = None


def _send(state: RecordSyncState, connector) -> tuple[dict, dict, list, CrmError | None]:
    """Send the claimed state's actions, then its field update; stop at the first failure.

    Return the values and actions the CRM accepted, the exchanges, and the failure.
    """
    record = state.record
    sent_values: dict = {}
    sent_actions: dict = {}
    exchanges: list = []
    try:
        for action, body in state.pending_actions.items():
            exchanges.append(
                connector.record_action(
                    entity=record.object_type, remote_id=record.remote_id, action=action, body=body
                )
            )
            sent_actions[action] = body
        if state.pending_values:
            exchanges.append(
                connector.write_record(
                    entity=record.object_type,
                    remote_id=record.remote_id,
                    values=state.pending_values,
                    current=record.raw if isinstance(record.raw, dict) else {},
                )
            )
            sent_values = dict(state.pending_values)
    except CrmError as exc:
        exchange = getattr(exc, "exchange", None)
        if exchange is not None:
            exchanges.append(exchange)
        return sent_values, sent_actions, exchanges, exc
    return sent_values, sent_actions, exchanges, None


def _write_back(
    *, state: RecordSyncState, token: str, now: datetime, sent_values, sent_actions, exchanges, error
) -> bool:
    """Record the outcome on the row this worker still owns; return False when it was reaped.

    Locks the row, so a PATCH made during the push is seen: only values still equal to what
    was sent leave the pending set, and anything newer is queued again at once.
    """
    with transaction.atomic():
        row = (
            RecordSyncState.objects.select_for_update()
            .filter(pk=state.pk, claim_token=token, processing_status=ProcessingStatus.PROCESSING)
            .first()
        )
        if row is None:
            return False
        for name, value in sent_values.items():
            if name in row.pending_values and values_equal(row.pending_values[name], value):
                del row.pending_values[name]
            row.base_values[name] = value
        for action, body in sent_actions.items():
            if row.pending_actions.get(action) == body:
                del row.pending_actions[action]
            row.base_values.update(body)
        if exchanges:
            row.last_request = exchanges[-1].request
            row.last_response = exchanges[-1].response
        row.claim_token = None
        row.claimed_at = None
        if error is not None:
            _failure(row, error=error, now=now, connection=state.connection)
            if error.category == "auth":
                connections.circuit_open(connection=state.connection, error=error)
        elif row.conflict_fields:
            row.processing_status = ProcessingStatus.ERROR
            row.error_category = "conflict"
            row.due_at = None
        elif row.pending_values or row.pending_actions:
            row.processing_status = ProcessingStatus.QUEUED  # changed while in flight
            row.due_at = now
            row.retry_count = 0
            row.next_retry_at = None
        else:
            row.processing_status = ProcessingStatus.COMPLETE
            row.error = ""
            row.error_category = ""
            row.retry_count = 0
            row.next_retry_at = None
            row.due_at = None
            row.last_synced_at = now
        row.save()
    return True


def record_push_batch(*, connection_id: int, limit: int = BATCH, now: datetime | None = None) -> dict:
    """Claim and push one batch of a connection's record changes; return counts."""
    connection = connections.pushable_connection(connection_id=connection_id)
    counts = {"claimed": 0, "succeeded": 0, "failed": 0}
    if connection is None:
        return counts
    token = uuid.uuid4().hex
    claimed = record_states_claim(
        connection_id=connection_id, limit=limit, token=token, now=now or timezone.now()
    )
    counts["claimed"] = len(claimed)
    if not claimed:
        return counts
    connector = connections.connector_for(connection)
    halted: CrmError | None = None
    for state in claimed:
        if halted is not None:
            result = ({}, {}, [], halted)  # a 429 or an auth failure holds for the whole batch
        else:
            result = _send(state, connector)
            if isinstance(result[3], CrmRateLimited) or (result[3] and result[3].category == "auth"):
                halted = result[3]
        sent_values, sent_actions, exchanges, error = result
        _write_back(
            state=state,
            token=token,
            now=timezone.now(),
            sent_values=sent_values,
            sent_actions=sent_actions,
            exchanges=exchanges,
            error=error,
        )
        counts["failed" if error else "succeeded"] += 1
    return counts


def record_states_due_connections(*, now: datetime) -> list[int]:
    return list(
        RecordSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED, due_at__lte=now)
        .values_list("connection_id", flat=True)
        .distinct()
    )


def record_states_reap(*, lease_seconds: float, now: datetime | None = None) -> dict[str, int]:
    """Return records stuck in Processing (a dead worker) to the queue; each reclaim is an
    attempt, so a record that kills its worker every time ends in Error after max retries."""
    now = now or timezone.now()
    stale = RecordSyncState.objects.filter(
        processing_status=ProcessingStatus.PROCESSING, claimed_at__lt=now - timedelta(seconds=lease_seconds)
    )
    return stale_claims_return(stale, now=now, what="record", failed_fields={"due_at": None})
