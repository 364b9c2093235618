"""The push queue: claim, release and reap rows of ContactSyncState.

This is the only module that locks queue rows. Invariants (STYLE §4.4): a contact is
held by at most one worker at a time; a claim is a short transaction; no HTTP call
happens while a lock is held; a dead worker's rows come back through the reaper.
"""

import logging
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus

logger = logging.getLogger(__name__)


def due_states(*, connection_id: int, now: datetime):
    """Queued rows of one connection whose time has come, in claim order."""
    return ContactSyncState.objects.filter(
        connection_id=connection_id, processing_status=ProcessingStatus.QUEUED, due_at__lte=now
    ).order_by("-priority", "due_at", "id")


def claim_batch(*, connection_id: int, limit: int, token: str, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` due rows of a connection for the worker holding `token`.

    The conditional UPDATE (still Queued) is what makes a claim exclusive on every
    backend: SQLite silently drops FOR UPDATE. On PostgreSQL, SKIP LOCKED also keeps
    concurrent workers from waiting on each other's candidate rows.
    """
    now = now or timezone.now()
    candidates = due_states(connection_id=connection_id, now=now)
    with transaction.atomic(durable=True):
        if db_connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, no_key=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        claimed = ContactSyncState.objects.filter(
            pk__in=ids, processing_status=ProcessingStatus.QUEUED
        ).update(
            processing_status=ProcessingStatus.PROCESSING,
            sync_status=SyncStatus.PROCESSING,
            claim_token=token,
            claimed_at=now,
            requeue_requested=False,
        )
    if claimed == len(ids):
        return ids
    # Another worker changed some candidates between the read and the update.
    return list(
        ContactSyncState.objects.filter(
            claim_token=token, processing_status=ProcessingStatus.PROCESSING, pk__in=ids
        ).values_list("pk", flat=True)
    )


def release_claimed(*, token: str, ids: list[int] | None = None, due_at: datetime | None = None) -> int:
    """Return rows still held by `token` to Queued without counting an attempt.

    Used when a worker must stop before it knows an outcome (soft time limit, a rate
    limit hit before the call, a paused connection).
    """
    rows = ContactSyncState.objects.filter(claim_token=token, processing_status=ProcessingStatus.PROCESSING)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(
        processing_status=ProcessingStatus.QUEUED,
        sync_status=SyncStatus.QUEUED,
        claim_token=None,
        claimed_at=None,
        due_at=due_at or timezone.now(),
    )


def reap_stale(*, lease_seconds: float, now: datetime | None = None) -> dict[str, int]:
    """Return rows stuck in Processing longer than the lease to the queue.

    Each reclaim counts as an attempt, so a contact that kills its worker every time
    (a poison payload) ends in Error after the connection's max retries instead of
    looping forever; this is the loop guard `task_reject_on_worker_lost` needs.
    """
    from integrations.models import CrmConnection

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds)
    stale = ContactSyncState.objects.filter(
        processing_status=ProcessingStatus.PROCESSING, claimed_at__lt=cutoff
    )
    connection_ids = list(stale.values_list("connection_id", flat=True).distinct())
    requeued = errored = 0
    for connection in CrmConnection.objects.filter(pk__in=connection_ids).only("pk", "max_retries"):
        rows = stale.filter(connection_id=connection.pk)
        with transaction.atomic():
            errored += rows.filter(retry_count__gte=max(connection.max_retries - 1, 0)).update(
                processing_status=ProcessingStatus.ERROR,
                sync_status=SyncStatus.ERROR,
                error_category="worker_lost",
                error="The worker processing this contact stopped; maximum retries reached.",
                retry_count=F("retry_count") + 1,
                last_retry_at=now,
                next_retry_at=None,
                claim_token=None,
                claimed_at=None,
            )
            requeued += rows.update(
                processing_status=ProcessingStatus.QUEUED,
                sync_status=SyncStatus.QUEUED,
                retry_count=F("retry_count") + 1,
                last_retry_at=now,
                due_at=now,
                claim_token=None,
                claimed_at=None,
            )
    if requeued or errored:
        logger.warning("Reaped stale claims: %d requeued, %d failed after max retries", requeued, errored)
    return {"requeued": requeued, "errored": errored}
