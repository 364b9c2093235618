"""Reads of sync state: stats, failures, per-contact status and processing estimates."""

import math
from datetime import datetime, timedelta

from django.db.models import CharField, Count, F, Max, Min, Q, QuerySet, Sum, Value
from django.utils import timezone

from crm_sync.connections import organization_connections, push_kinds
from crm_sync.dispatch_marks import dispatch_wait
from crm_sync.models import (
    QUEUE_ALL_PENDING,
    ContactSyncState,
    ProcessingStatus,
    QueueAllRun,
    SyncRun,
    SyncStatus,
)
from integrations import registry

THROUGHPUT_WINDOW = timedelta(minutes=15)
# Push runs an estimate falls back on when none finished within THROUGHPUT_WINDOW.
HISTORY_RUNS = 20
# sync-stats' labels of its last-24-hours counts and of the queue-all rest (no status is spelled like them).
LAST_24H_SYNCED, LAST_24H_ERRORS = "last_24h:synced", "last_24h:errors"
QUEUE_ALL_PENDING_LABEL = "queue_all:pending"
UNKNOWN_TEXT = "Unknown: no push has been measured on this connection yet"


def connection_pause(*, connection, now: datetime | None = None) -> dict | None:
    """Why a connection's queue is not moving, when it is not: a spent daily quota or an open circuit.

    {"reason": "daily_quota_exhausted" | "circuit_open", "policy", "until" (null: until someone
    acts), "message" for a person, "crm_message" (what the CRM said)}; None when nothing holds it.
    """
    now = now or timezone.now()
    if connection.is_circuit_open:
        return {
            "reason": "circuit_open",
            "policy": None,
            "until": None,
            "message": "Paused: "
            + (connection.circuit_reason or "the CRM refused the connection's calls").rstrip(".")
            + ". Nothing is sent until the connection is resumed (fix the cause, then Resume).",
            "crm_message": "",
        }
    until = connection.quota_held_until(now)
    if until is None:
        return None
    name = registry.get_connector_class(connection.kind).display_name
    return {
        "reason": "daily_quota_exhausted",
        "policy": "DAILY",
        "until": until,
        "message": f"{name}'s daily API limit is spent: pushes and pulls wait for its daily reset "
        f"at {until.isoformat()}, then resume on their own.",
        "crm_message": connection.quota_exhausted_reason,
    }


def sync_stats(*, connection, now: datetime | None = None) -> dict:
    """Counts by status for one connection, and the last 24 hours' synced and failed: one statement.

    Three index-only parts in one UNION ALL (docs/benchmarks.md "bench/queue_all.py"): counts by
    status from the deduplicated stats index (connection, sync_status), the synced ones of the
    last 24 hours as a range of the partial index of Complete rows, the failed ones as a range of
    the errors index. No FILTER is evaluated per row of the big count.
    """
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    states = ContactSyncState.objects.filter(connection=connection).order_by()

    def labelled(queryset, label: str):
        return queryset.annotate(k=Value(label, output_field=CharField())).values("k").annotate(n=Count("*"))

    rows = (
        states.values_list("sync_status")
        .annotate(n=Count("*"))
        .union(
            labelled(
                states.filter(sync_status=SyncStatus.COMPLETE, last_synced_at__gte=since), LAST_24H_SYNCED
            ),
            labelled(states.filter(sync_status=SyncStatus.ERROR, last_retry_at__gte=since), LAST_24H_ERRORS),
            _queue_all_pending(connection)
            .annotate(k=Value(QUEUE_ALL_PENDING_LABEL, output_field=CharField()))
            .values("k")
            .annotate(n=Sum(QUEUE_ALL_PENDING)),
            all=True,
        )
    )
    by_status = {label: {"n": n or 0} for label, n in rows}
    queue_all_pending = by_status.pop(QUEUE_ALL_PENDING_LABEL, {"n": 0})["n"]
    last_24h = {
        "synced": by_status.pop(LAST_24H_SYNCED, {"n": 0})["n"],
        "errors": by_status.pop(LAST_24H_ERRORS, {"n": 0})["n"],
    }

    def count(*statuses: str, key: str = "n") -> int:
        return sum(by_status[s][key] for s in statuses if s in by_status)

    total = sum(row["n"] for row in by_status.values())
    synced = count(SyncStatus.COMPLETE)
    return {
        "crm": connection.kind,
        "total_contacts": total,
        "synced": synced,
        "queued": count(SyncStatus.QUEUED, SyncStatus.SELECTED),
        "processing": count(SyncStatus.PROCESSING),
        "errors": count(SyncStatus.ERROR),
        "skipped": count(SyncStatus.SKIPPED),
        "success_rate": round(synced / total, 4) if total else 0.0,
        "last_24h": last_24h,
        # Contacts a big queue-all has counted as queued and not yet written to the queue
        # (crm_sync/services/queue_all_runs.py); their rows still count under their old status.
        "queue_all_pending": queue_all_pending,
        "paused": connection_pause(connection=connection, now=now),
    }


def sync_stats_every_crm(*, organization, now: datetime | None = None) -> dict:
    """sync_stats of each push-capable CRM the organization has a connection of, by kind.

    The connection that represents a kind is the one `crm=<kind>` would read (enabled first).
    """
    now = now or timezone.now()
    kinds = set(push_kinds())
    chosen = {}
    for connection in organization_connections(organization=organization).filter(kind__in=kinds):
        chosen.setdefault(connection.kind, connection)
    return {"crms": {kind: sync_stats(connection=chosen[kind], now=now) for kind in sorted(chosen)}}


def sync_failures(*, connection) -> QuerySet:
    """Failed contacts of a connection, most recent failure first (the errors index)."""
    return (
        ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.ERROR)
        .select_related("contact")
        .only(
            "id",
            "contact_id",
            "contact__email",
            "error",
            "error_category",
            "retry_count",
            "last_retry_at",
            "next_retry_at",
            "sync_status",
            "processing_status",
        )
        .order_by(F("last_retry_at").desc(nulls_last=True), "-id")
    )


def state_can_retry(state: ContactSyncState) -> bool:
    """True while the engine will retry on its own (a retriable failure with retries left)."""
    return state.sync_status == SyncStatus.ERROR and state.processing_status == ProcessingStatus.QUEUED


def connection_throughput(*, connection, now: datetime | None = None) -> float | None:
    """Contacts per second this connection has been pushed at (all workers together); None unknown.

    Measured from its push SyncRuns of the last 15 minutes over their wall-clock span (parallel
    workers count once; idle gaps make it conservative). With none that recent, its last
    HISTORY_RUNS push runs over their summed durations. With no run at all the rate is unknown:
    a guess ("one batch per interval") would promise what nobody has measured.
    """
    now = now or timezone.now()
    done_expr = F("succeeded") + F("failed") + F("retried") + F("skipped") + F("unchanged")
    runs = SyncRun.objects.filter(connection=connection, direction=SyncRun.Direction.PUSH)
    recent = runs.filter(finished_at__gte=now - THROUGHPUT_WINDOW).aggregate(
        done=Sum(done_expr), first=Min("started_at"), last=Max("finished_at")
    )
    done = recent["done"] or 0
    if done and recent["first"] and recent["last"]:
        span = max((recent["last"] - recent["first"]).total_seconds(), 1.0)
        return done / span
    older = list(
        runs.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .annotate(done=done_expr)
        .values_list("done", "duration_ms")[:HISTORY_RUNS]
    )
    done = sum(row[0] for row in older)
    if not done:
        return None
    return done / max(sum(row[1] for row in older) / 1000, 1.0)


def queue_position(*, state: ContactSyncState) -> int:
    """How many due rows of the same connection a worker will take before this one."""
    due = state.due_at or timezone.now()
    return (
        ContactSyncState.objects.filter(
            connection_id=state.connection_id, processing_status=ProcessingStatus.QUEUED
        )
        .filter(Q(priority__gt=state.priority) | Q(priority=state.priority, due_at__lt=due))
        .count()
    )


def _queue_all_pending(connection) -> QuerySet:
    return QueueAllRun.objects.filter(connection=connection, finished_at__isnull=True).order_by()


def queue_depth(*, connection) -> int:
    """Rows in the queue, and the contacts a big queue-all has still to write to it."""
    in_queue = ContactSyncState.objects.filter(
        connection=connection, processing_status__in=[ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING]
    ).count()
    pending = _queue_all_pending(connection).aggregate(n=Sum(QUEUE_ALL_PENDING))
    return in_queue + (pending["n"] or 0)


def seconds_phrase(seconds: float) -> str:
    if seconds < 60:
        whole = max(int(math.ceil(seconds)), 1)
        return f"Within {whole} second{'s' if whole != 1 else ''}"
    minutes = int(math.ceil(seconds / 60))
    if minutes < 120:
        return f"Within {minutes} minute{'s' if minutes != 1 else ''}"
    hours = int(math.ceil(minutes / 60))
    return f"Within {hours} hours"


def _estimate(*, connection, now: datetime, wait: float, count: int) -> dict:
    """{"seconds", "at", "text", "paused"} for `count` rows after `wait` seconds.

    `wait` grows to the dispatcher's next start of the connection when that is later (a
    connection's pushes start at most once per its push interval). A paused connection says
    so and why, first: an open circuit moves nothing until someone resumes it (no time at
    all); a daily-quota hold moves nothing before the CRM's reset.
    An unmeasured rate gives no time: seconds and at are null and the text says unknown.
    """
    pause = connection_pause(connection=connection, now=now)
    if pause is not None and pause["until"] is None:
        return {"seconds": None, "at": None, "text": pause["message"], "paused": pause}
    rate = connection_throughput(connection=connection, now=now)
    wait = max(wait, dispatch_wait(connection=connection, now=now))
    held = (pause["until"] - now).total_seconds() if pause is not None else 0.0
    if rate is None:
        seconds = None
        text = UNKNOWN_TEXT
    else:
        seconds = max(wait, held) + count / rate
        text = seconds_phrase(seconds)
    if pause is not None:
        after = f"after the CRM's daily API limit resets at {pause['until'].isoformat()}"
        when = f" ({text[0].lower()}{text[1:]})" if seconds is not None else "; time to finish unknown"
        text = f"Paused: {after}{when}"
    at = now + timedelta(seconds=seconds) if seconds is not None else None
    return {"seconds": seconds, "at": at, "text": text, "paused": pause}


def processing_estimate(*, state: ContactSyncState, connection, now: datetime | None = None) -> dict:
    """When a queued contact should be processed: its wait, plus the queue ahead at the measured rate."""
    now = now or timezone.now()
    if state.processing_status == ProcessingStatus.PROCESSING:
        return {"seconds": 0.0, "at": now, "text": "Processing now", "paused": None}
    wait = max((state.due_at - now).total_seconds(), 0.0) if state.due_at else 0.0
    return _estimate(connection=connection, now=now, wait=wait, count=queue_position(state=state) + 1)


def queue_completion_estimate(*, connection, now: datetime | None = None) -> dict:
    """When the connection's whole current queue should be done at the measured rate."""
    now = now or timezone.now()
    return _estimate(connection=connection, now=now, wait=0.0, count=queue_depth(connection=connection))


def contact_states(*, contact) -> list[ContactSyncState]:
    return list(ContactSyncState.objects.filter(contact=contact).select_related("connection"))


def sync_run_list(*, connection) -> QuerySet:
    return SyncRun.objects.filter(connection=connection).order_by("-finished_at")
