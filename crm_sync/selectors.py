"""Reads of sync state: stats, failures, per-contact status and processing estimates."""

import math
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from integrations import registry

THROUGHPUT_WINDOW = timedelta(minutes=15)


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
            "message": "Paused: " + (connection.circuit_reason or "the connection's circuit is open"),
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
    """Counts by status for one connection: one aggregate query, grouped by status.

    Reading only stats-index columns (COUNT(*), not COUNT(id)) lets PostgreSQL answer it
    from the stats index alone once the table is vacuumed; grouping evaluates two filters per row
    instead of eight (docs/benchmarks.md "bench/queue_all.py").
    """
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    rows = (
        ContactSyncState.objects.filter(connection=connection)
        .order_by()
        .values("sync_status")
        .annotate(
            n=Count("*"),
            synced_24h=Count("last_synced_at", filter=Q(last_synced_at__gte=since)),
            errors_24h=Count("last_retry_at", filter=Q(last_retry_at__gte=since)),
        )
    )
    by_status = {row["sync_status"]: row for row in rows}

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
        "last_24h": {
            "synced": count(SyncStatus.COMPLETE, key="synced_24h"),
            "errors": count(SyncStatus.ERROR, key="errors_24h"),
        },
        "paused": connection_pause(connection=connection, now=now),
    }


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


def connection_throughput(*, connection, now: datetime | None = None) -> float:
    """Contacts per second this connection has been processed at recently (all workers together).

    Measured from the SyncRuns of the last 15 minutes; with no history yet, one batch per
    push interval (what the dispatcher alone guarantees).
    """
    now = now or timezone.now()
    recent = SyncRun.objects.filter(
        connection=connection, direction=SyncRun.Direction.PUSH, finished_at__gte=now - THROUGHPUT_WINDOW
    ).aggregate(
        done=Sum(F("succeeded") + F("failed") + F("retried") + F("skipped") + F("unchanged")),
        first=Min("started_at"),
        last=Max("finished_at"),
    )
    done = recent["done"] or 0
    if done and recent["first"] and recent["last"]:
        # The wall-clock span counts parallel workers once; idle gaps make it conservative.
        span = max((recent["last"] - recent["first"]).total_seconds(), 1.0)
        return done / span
    return max(connection.batch_size, 1) / max(connection.push_interval_seconds, 1)


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


def queue_depth(*, connection) -> int:
    return ContactSyncState.objects.filter(
        connection=connection, processing_status__in=[ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING]
    ).count()


def seconds_phrase(seconds: float) -> str:
    if seconds < 60:
        whole = max(int(math.ceil(seconds)), 1)
        return f"Within {whole} second{'s' if whole != 1 else ''}"
    minutes = int(math.ceil(seconds / 60))
    if minutes < 120:
        return f"Within {minutes} minute{'s' if minutes != 1 else ''}"
    hours = int(math.ceil(minutes / 60))
    return f"Within {hours} hours"


def _hold_seconds(connection, now: datetime) -> float:
    """Seconds until a daily-quota hold of the connection ends (0 when none stands)."""
    until = connection.quota_held_until(now)
    return (until - now).total_seconds() if until else 0.0


def processing_estimate(*, state: ContactSyncState, connection, now: datetime | None = None) -> dict:
    """When a queued contact should be processed: its wait, plus the queue ahead at the measured rate.

    While a daily-quota hold stands nothing moves before the CRM's reset, so the estimate
    starts there and says so.
    """
    now = now or timezone.now()
    if state.processing_status == ProcessingStatus.PROCESSING:
        return {"seconds": 0.0, "at": now, "text": "Processing now"}
    ahead = queue_position(state=state)
    rate = connection_throughput(connection=connection, now=now)
    wait = max((state.due_at - now).total_seconds(), 0.0) if state.due_at else 0.0
    held = _hold_seconds(connection, now)
    seconds = max(wait, held) + (ahead + 1) / rate
    text = seconds_phrase(seconds)
    if held:
        reset = connection.quota_exhausted_until.isoformat()
        text = f"After the CRM's daily API limit resets at {reset} ({text[0].lower()}{text[1:]})"
    return {"seconds": seconds, "at": now + timedelta(seconds=seconds), "text": text}


def queue_completion_estimate(*, connection, now: datetime | None = None) -> datetime:
    """When the connection's whole current queue should be done at the measured rate (after a
    daily-quota hold, when one stands)."""
    now = now or timezone.now()
    depth = queue_depth(connection=connection)
    rate = connection_throughput(connection=connection, now=now)
    return now + timedelta(seconds=_hold_seconds(connection, now) + depth / rate)


def contact_states(*, contact) -> list[ContactSyncState]:
    return list(ContactSyncState.objects.filter(contact=contact).select_related("connection"))


def sync_run_list(*, connection) -> QuerySet:
    return SyncRun.objects.filter(connection=connection).order_by("-finished_at")
