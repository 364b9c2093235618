"""Reads behind the admin dashboard: one aggregate query per panel, whatever the number of contacts.

Every function takes the connections the viewer may see (already scoped to their organizations)
and returns plain dicts for the template. Counts come from the sync-state indexes (stats,
claim, processing, errors); rates and charts from the SyncRun history.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from crm_sync.models import (
    QUEUE_ALL_PENDING,
    ConnectionStatusSnapshot,
    ContactSyncState,
    ProcessingStatus,
    QueueAllRun,
    SyncRun,
    SyncStatus,
    registry_display_name,
)
from crm_sync.selectors import THROUGHPUT_WINDOW
from integrations.models import CrmConnection
from integrations.ratelimit import daily_quota_status, limiter_blocked_until

FAILURE_GROUPS = 10
# Failure groups are made of each connection's latest failures only: the panel costs the same
# at any size.
FAILURE_WINDOW = 1000
QUOTA_WARNING_SHARE = 0.8
STATUS_ORDER = [
    SyncStatus.COMPLETE,
    SyncStatus.QUEUED,
    SyncStatus.PROCESSING,
    SyncStatus.SELECTED,
    SyncStatus.SKIPPED,
    SyncStatus.ERROR,
]


@dataclass
class ConnectionPanel:
    connection: object
    crm: str
    counts: dict[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    # Contacts a big queue-all has counted and not yet written to the queue (read live, not snapshotted).
    queue_all_pending: int = 0
    throughput: float | None = None
    last_push: datetime | None = None
    last_pull: datetime | None = None
    state: dict = field(default_factory=dict)
    counted_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def complete(self) -> int:
        return self.counts.get(SyncStatus.COMPLETE, 0)

    @property
    def errors(self) -> int:
        return self.counts.get(SyncStatus.ERROR, 0)

    @property
    def success_rate_pct(self) -> str:
        rate = self.success_rate
        return "—" if rate is None else f"{rate:.1%}"

    @property
    def success_rate(self) -> float | None:
        """Complete over finished (Complete + Error): a long queue is not a failure."""
        done = self.counts.get(SyncStatus.COMPLETE, 0) + self.counts.get(SyncStatus.ERROR, 0)
        return self.counts.get(SyncStatus.COMPLETE, 0) / done if done else None

    @property
    def drain_seconds(self) -> float | None:
        """The queue over the throughput measured on this connection; None with no recent history."""
        waiting = self.queue_depth + self.queue_all_pending
        if not waiting:
            return 0.0
        if not self.throughput:
            return None
        return waiting / self.throughput


def _local_time(value: datetime) -> str:
    return timezone.localtime(value).strftime("%H:%M")


def connection_state(*, connection, now: datetime) -> dict:
    """The connection's state in plain words: {"level": ok|warning|error, "text", "action"}.

    Paused (the sync engine stopped it on an authentication failure) comes first, then a spent
    daily quota, a rate-limit pause, a nearly spent quota; otherwise healthy (or disabled).
    """
    if not connection.enabled:
        return {"level": "muted", "text": "Disabled", "action": ""}
    if connection.is_circuit_open:
        when = f" at {_local_time(connection.circuit_opened_at)}" if connection.circuit_opened_at else ""
        reason = "authentication failed" if _looks_like_auth(connection.circuit_reason) else "stopped"
        return {
            "level": "error",
            "text": f"Paused: {reason}{when}",
            "action": "fix the credentials, then Resume",
            "detail": connection.circuit_reason,
        }
    until = connection.quota_held_until(now)
    if until is not None:
        return {
            "level": "error",
            "text": f"Daily quota spent until {_local_time(until)}",
            "action": "pushes and pulls resume on their own",
            "detail": connection.quota_exhausted_reason,
        }
    blocked = limiter_blocked_until(connection)
    if blocked is not None and blocked > now:
        return {
            "level": "warning",
            "text": f"Rate limited until {_local_time(blocked)}",
            "action": "the service waits and retries",
        }
    quota = daily_quota_status(connection)
    if quota and quota.get("limit") and quota.get("used") is not None:
        share = quota["used"] / quota["limit"]
        if share >= QUOTA_WARNING_SHARE:
            return {"level": "warning", "text": f"Daily quota {share:.0%} used", "action": ""}
    return {"level": "ok", "text": "Healthy", "action": ""}


def _looks_like_auth(reason: str) -> bool:
    reason = (reason or "").lower()
    return "auth" in reason or "credential" in reason or "401" in reason or "403" in reason


def connection_panels(*, connections, now: datetime | None = None) -> list[ConnectionPanel]:
    """One panel per connection, from three aggregate queries (statuses, queue, runs)."""
    now = now or timezone.now()
    connections = list(connections)
    ids = [c.pk for c in connections]
    panels = {
        c.pk: ConnectionPanel(connection=c, crm=registry_display_name(c.kind), state={}) for c in connections
    }
    if not ids:
        return []
    snapshots = connection_snapshots(connection_ids=ids, now=now)
    for connection_id, snapshot in snapshots.items():
        panels[connection_id].counts = dict(snapshot.counts)
        panels[connection_id].queue_depth = snapshot.queue_depth
        panels[connection_id].counted_at = snapshot.computed_at
    # Runs: the last push and pull by index lookups, throughput from the last 15 minutes only, so
    # the query never reads the whole run history.
    since = now - THROUGHPUT_WINDOW
    runs = SyncRun.objects.filter(connection=OuterRef("pk")).order_by()
    recent = runs.filter(direction=SyncRun.Direction.PUSH, finished_at__gte=since)

    def newest(direction: str):
        return Subquery(runs.filter(direction=direction).order_by("-started_at").values("finished_at")[:1])

    def recent_aggregate(expression):
        return Subquery(recent.values("connection").annotate(v=expression).values("v")[:1])

    for row in (
        CrmConnection.objects.filter(pk__in=ids)
        .values("pk")
        .annotate(
            last_push=newest(SyncRun.Direction.PUSH),
            last_pull=newest(SyncRun.Direction.PULL),
            done=recent_aggregate(
                Sum(F("succeeded") + F("failed") + F("retried") + F("skipped") + F("unchanged"))
            ),
            first=recent_aggregate(Min("started_at")),
            last=recent_aggregate(Max("finished_at")),
            # At most one unfinished queue-all a connection (a constraint).
            queue_all_pending=Subquery(
                QueueAllRun.objects.filter(connection=OuterRef("pk"), finished_at__isnull=True)
                .annotate(pending=QUEUE_ALL_PENDING)
                .values("pending")[:1]
            ),
        )
    ):
        panel = panels[row["pk"]]
        panel.last_push, panel.last_pull = row["last_push"], row["last_pull"]
        panel.queue_all_pending = row["queue_all_pending"] or 0
        if row["done"] and row["first"] and row["last"]:
            panel.throughput = row["done"] / max((row["last"] - row["first"]).total_seconds(), 1.0)
    for panel in panels.values():
        panel.state = connection_state(connection=panel.connection, now=now)
    return [panels[c.pk] for c in connections]


def _count(*, connection_ids: list) -> dict:
    """{connection id: (counts by status, queue depth)}: two aggregate queries over the states.

    Statuses come from the stats index (connection, sync_status); the queue from the claim and
    processing partial indexes, which hold only the queue.
    """
    counted = {pk: ({}, 0) for pk in connection_ids}
    for row in (
        ContactSyncState.objects.filter(connection_id__in=connection_ids)
        .order_by()
        .values("connection_id", "sync_status")
        .annotate(n=Count("*"))
    ):
        counted[row["connection_id"]][0][row["sync_status"]] = row["n"]
    for row in (
        ContactSyncState.objects.filter(
            connection_id__in=connection_ids,
            processing_status__in=[ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING],
        )
        .order_by()
        .values("connection_id")
        .annotate(n=Count("*"))
    ):
        counted[row["connection_id"]] = (counted[row["connection_id"]][0], row["n"])
    return counted


def connection_snapshots_refresh(*, connection_ids: list, now: datetime | None = None) -> dict:
    """Count again and store the snapshots of these connections; return them by connection id."""
    now = now or timezone.now()
    snapshots = {}
    for pk, (counts, depth) in _count(connection_ids=connection_ids).items():
        snapshots[pk], _ = ConnectionStatusSnapshot.objects.update_or_create(
            connection_id=pk, defaults={"counts": counts, "queue_depth": depth, "computed_at": now}
        )
    return snapshots


def connection_snapshots(*, connection_ids: list, now: datetime) -> dict:
    """The connections' snapshots, counted again (and stored) for those missing or too old."""
    fresh_after = now - timedelta(seconds=settings.DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS)
    snapshots = {
        s.connection_id: s
        for s in ConnectionStatusSnapshot.objects.filter(
            connection_id__in=connection_ids, computed_at__gte=fresh_after
        )
    }
    stale = [pk for pk in connection_ids if pk not in snapshots]
    if stale:
        snapshots |= connection_snapshots_refresh(connection_ids=stale, now=now)
    return snapshots


SERIES_KEYS = ("pushed", "pulled", "failed")
CLOSED_DAY_CACHE_SECONDS = 2 * 24 * 3600


def _activity_rows(
    *, connection_ids: list, start: datetime, end: datetime | None, trunc, per_connection: bool
):
    runs = SyncRun.objects.filter(connection_id__in=connection_ids, started_at__gte=start)
    if end is not None:
        runs = runs.filter(started_at__lt=end)
    group = ["bucket", "connection_id"] if per_connection else ["bucket"]
    return (
        runs.order_by()
        .annotate(bucket=trunc("started_at"))
        .values(*group)
        .annotate(
            pushed=Sum("succeeded", filter=Q(direction=SyncRun.Direction.PUSH), default=0),
            pulled=Sum("fetched", filter=Q(direction=SyncRun.Direction.PULL), default=0),
            failed=Sum(F("failed") + F("error_count"), default=0),
        )
    )


def _closed_days(*, connection_ids: list, start: datetime, today: datetime) -> dict:
    """{day: {pushed, pulled, failed}} of the days before today. A finished day's runs no longer
    change, so each (connection, day) is counted once and kept in the cache."""
    keys = {
        (
            pk,
            start + timedelta(days=n),
        ): f"crm_sync:dashboard:day:{pk}:{(start + timedelta(days=n)).isoformat()}"
        for pk in connection_ids
        for n in range((today - start).days)
    }
    cached = cache.get_many(list(keys.values()))
    missing = [
        pk for pk in connection_ids if any(keys[(pk, day)] not in cached for (c, day) in keys if c == pk)
    ]
    if missing:
        found = {
            (row["connection_id"], row["bucket"]): {k: row[k] for k in SERIES_KEYS}
            for row in _activity_rows(
                connection_ids=missing, start=start, end=today, trunc=TruncDay, per_connection=True
            )
        }
        fresh = {
            keys[(pk, day)]: found.get((pk, day), dict.fromkeys(SERIES_KEYS, 0))
            for (pk, day) in keys
            if pk in missing
        }
        cache.set_many(fresh, CLOSED_DAY_CACHE_SECONDS)
        cached |= fresh
    totals: dict = {}
    for (_, day), key in keys.items():
        values = cached.get(key) or {}
        bucket = totals.setdefault(day, dict.fromkeys(SERIES_KEYS, 0))
        for k in SERIES_KEYS:
            bucket[k] += values.get(k, 0)
    return totals


def activity_series(*, connections, now: datetime | None = None, days: bool = False) -> list[dict]:
    """Pushed, pulled and failed per hour over 24 hours (or per day over 30 days), from SyncRuns.

    Every bucket is present (zeros included), oldest first, so the chart's axis is regular.
    Per day, only today is read from the runs; the finished days come from the cache.
    """
    now = now or timezone.now()
    ids = [c.pk for c in connections]
    step = timedelta(days=1) if days else timedelta(hours=1)
    count = 30 if days else 24
    if days:
        end = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        end = now.replace(minute=0, second=0, microsecond=0)
    start = end - step * (count - 1)
    # Aware datetimes of the same instant are equal whatever their zone: keys match the buckets.
    if days:
        by_bucket = _closed_days(connection_ids=ids, start=start, today=end)
        live_start = end
    else:
        by_bucket, live_start = {}, start
    for row in _activity_rows(
        connection_ids=ids,
        start=live_start,
        end=None,
        trunc=TruncDay if days else TruncHour,
        per_connection=False,
    ):
        by_bucket[row["bucket"]] = {k: row[k] for k in SERIES_KEYS}
    series = []
    for index in range(count):
        bucket = start + step * index
        row = by_bucket.get(bucket) or {}
        series.append(
            {
                "at": bucket,
                "label": timezone.localtime(bucket).strftime("%d %b" if days else "%H:00"),
                **{k: row.get(k, 0) for k in SERIES_KEYS},
            }
        )
    return series


def failure_groups(*, connections, limit: int = FAILURE_GROUPS, window: int = FAILURE_WINDOW) -> list[dict]:
    """The latest failures (the `window` most recent of each connection) grouped by CRM, category
    and message: biggest groups first. Counts are within that window; a group's link lists all."""
    connections = list(connections)
    if not connections:
        return []
    kinds = {c.pk: c.kind for c in connections}
    # Each connection's newest failures by the errors index (connection, -last_retry_at): one
    # UNION ALL, since an IN list over connections would sort every failure first.
    parts = [
        ContactSyncState.objects.filter(connection_id=pk, sync_status=SyncStatus.ERROR)
        .order_by("-last_retry_at")
        .values_list("pk", flat=True)[:window]
        for pk in kinds
    ]
    if len(parts) > 1 and db_connection.features.supports_slicing_ordering_in_compound:
        latest = list(parts[0].union(*parts[1:], all=True))
    else:  # SQLite: no LIMIT inside a compound statement, one query per connection
        latest = [pk for part in parts for pk in part]
    rows = (
        ContactSyncState.objects.filter(pk__in=latest)
        .order_by()
        .values("connection_id", "error_category", "error")
        .annotate(n=Count("*"), latest=Max("last_retry_at"))
        .order_by("-n", F("latest").desc(nulls_last=True))[:limit]
    )
    return [
        {
            "connection_id": row["connection_id"],
            "crm": registry_display_name(kinds[row["connection_id"]]),
            "category": row["error_category"] or "unknown",
            "message": row["error"],
            "count": row["n"],
            "latest": row["latest"],
        }
        for row in rows
    ]
