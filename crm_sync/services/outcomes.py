"""How one push outcome changes one ContactSyncState (in memory; the caller writes in bulk).

The rules (STYLE §3 table): success → Complete; rate limited → Queued again at the CRM's
Retry-After, not an attempt; other retriable failures → an attempt with exponential
backoff until the connection's max retries; permanent failures → Error at once with the
CRM's message.
"""

from datetime import datetime, timedelta

from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus
from crm_sync.services.retry import next_retry_time
from integrations.errors import CrmError

# Every field an outcome may change: the one list bulk_update writes.
WRITTEN_FIELDS = [
    "sync_status",
    "processing_status",
    "priority",
    "remote_id",
    "error",
    "error_category",
    "http_status",
    "skip_reason",
    "retry_count",
    "next_retry_at",
    "last_retry_at",
    "last_synced_at",
    "pushed_hash",
    "due_at",
    "claim_token",
    "claimed_at",
    "requeue_requested",
    "last_request",
    "last_response",
    "updated_at",
]
# What a push outcome writes; `requeue_requested` is read by the same statement (an edit made
# while the push was in flight) and only cleared when the row is queued again.
OUTCOME_FIELDS = [name for name in WRITTEN_FIELDS if name != "requeue_requested"]
# The last exchange kept for operators: set when there was one, never read by a push. A push
# does not load them (two JSON documents a row), and a row without a new exchange keeps its own.
EXCHANGE_FIELDS = ("last_request", "last_response")
# What a push loads of each row it claims.
LOADED_FIELDS = [name for name in WRITTEN_FIELDS if name not in EXCHANGE_FIELDS]
# What queueing a row again changes (state_apply_requeue).
REQUEUE_FIELDS = [
    "sync_status",
    "processing_status",
    "retry_count",
    "next_retry_at",
    "due_at",
    "requeue_requested",
    "claim_token",
    "claimed_at",
    "updated_at",
]


def _unclaim(state: ContactSyncState, now: datetime) -> None:
    state.claim_token = None
    state.claimed_at = None
    state.updated_at = now


def state_mark_complete(
    state: ContactSyncState, *, now: datetime, remote_id: str | None, pushed_hash: str
) -> None:
    state.sync_status = SyncStatus.COMPLETE
    state.processing_status = ProcessingStatus.COMPLETE
    state.priority = Priority.NORMAL
    if remote_id:
        state.remote_id = str(remote_id)[:255]
    state.error = ""
    state.error_category = ""
    state.http_status = None
    state.skip_reason = ""
    state.retry_count = 0
    state.next_retry_at = None
    state.last_synced_at = now
    state.pushed_hash = pushed_hash
    state.due_at = None
    _unclaim(state, now)


def state_mark_skipped(state: ContactSyncState, *, now: datetime, reason: str) -> None:
    state.sync_status = SyncStatus.SKIPPED
    state.processing_status = ProcessingStatus.COMPLETE
    state.priority = Priority.NORMAL
    state.skip_reason = reason[:255]
    state.error = ""
    state.error_category = ""
    state.http_status = None
    state.next_retry_at = None
    state.due_at = None
    _unclaim(state, now)


def state_mark_rate_limited(state: ContactSyncState, *, now: datetime, wait_seconds: float) -> None:
    """Back in the queue for the next window; retry_count is untouched (not an attempt)."""
    state.sync_status = SyncStatus.QUEUED
    state.processing_status = ProcessingStatus.QUEUED
    state.due_at = now + timedelta(seconds=wait_seconds)
    _unclaim(state, now)


def state_mark_failed(
    state: ContactSyncState,
    *,
    now: datetime,
    error: CrmError,
    max_retries: int,
    retry_base: float,
    retry_cap: float,
) -> bool:
    """Record a failed attempt. Return True when another attempt is scheduled."""
    state.error = (error.message or str(error))[:4000]
    state.error_category = error.category
    state.http_status = error.status if error.status and 100 <= error.status <= 599 else None
    state.last_retry_at = now
    state.sync_status = SyncStatus.ERROR
    state.priority = Priority.NORMAL
    _unclaim(state, now)
    if error.category == "not_found":
        # The remote record is gone: forget its id so the next attempt creates it again.
        state.remote_id = ""
    attempts_before = state.retry_count
    state.retry_count = attempts_before + 1
    retriable = error.retriable or error.category == "not_found"
    if retriable and state.retry_count < max_retries:
        state.processing_status = ProcessingStatus.QUEUED
        state.next_retry_at = next_retry_time(
            now=now,
            retry_count=attempts_before,
            base=retry_base,
            cap=retry_cap,
            retry_after=error.retry_after,
        )
        state.due_at = state.next_retry_at
        return True
    state.processing_status = ProcessingStatus.ERROR
    state.next_retry_at = None
    state.due_at = None
    return False


def state_apply_requeue(state: ContactSyncState, *, now: datetime) -> None:
    """The contact changed while it was being pushed: queue it again, fresh (as queueing does)."""
    state.sync_status = SyncStatus.QUEUED
    state.processing_status = ProcessingStatus.QUEUED
    state.retry_count = 0
    state.next_retry_at = None
    state.due_at = now
    state.requeue_requested = False
    _unclaim(state, now)
