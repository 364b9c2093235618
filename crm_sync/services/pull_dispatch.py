"""The pull dispatcher: start the pulls that are due (beat runs it every 30 seconds).

A pull of (connection, object type) is due when its last run started at least the
connection's pull_interval_seconds ago (0: never scheduled, only pulled on demand). Skipped:
disabled connections, paused ones (circuit open), push-only ones, those out of daily quota,
and a source whose last pull was rate limited a moment ago or is still running. Messages are
only nudges: a duplicate finds the source running and returns.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from crm_sync.models import SyncRun
from crm_sync.services.pull import connection_pull_types, connection_pulls
from integrations import registry
from integrations.models import CrmConnection
from integrations.ratelimit import daily_quota_for

logger = logging.getLogger(__name__)


def _quota_spent(connection: CrmConnection) -> bool:
    connector_class = registry.get_connector_class(connection.kind)
    quota = daily_quota_for(connection, default_limit=connector_class.daily_quota_default(connection))
    return quota is not None and quota.remaining() <= 0


def pulls_due(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """(connection id, object type) of every pull that is due now."""
    now = now or timezone.now()
    connections = [
        c
        for c in CrmConnection.objects.filter(
            enabled=True, circuit_state=CrmConnection.CircuitState.CLOSED, pull_interval_seconds__gt=0
        ).order_by("pk")
        if connection_pulls(c) and c.kind in registry.connectors()
    ]
    if not connections:
        return []
    last_runs = {
        (row["connection_id"], row["object_type"]): row
        for row in SyncRun.objects.filter(direction=SyncRun.Direction.PULL, connection__in=connections)
        .values("connection_id", "object_type")
        .annotate(last_started=Max("started_at"), last_finished=Max("finished_at"))
    }
    limited = set(
        SyncRun.objects.filter(
            direction=SyncRun.Direction.PULL,
            connection__in=connections,
            outcome=SyncRun.Outcome.RATE_LIMITED,
            finished_at__gte=now - timedelta(seconds=settings.SYNC_RATE_LIMIT_DEFAULT_WAIT_SECONDS),
        ).values_list("connection_id", "object_type")
    )
    running = set(
        SyncRun.objects.filter(
            direction=SyncRun.Direction.PULL, connection__in=connections, outcome=SyncRun.Outcome.RUNNING
        ).values_list("connection_id", "object_type")
    )
    due = []
    for connection in connections:
        types = connection_pull_types(connection=connection)
        if not types or _quota_spent(connection):
            continue
        interval = timedelta(seconds=connection.pull_interval_seconds)
        for object_type in types:
            key = (connection.pk, object_type)
            if key in limited or key in running:
                continue
            last = last_runs.get(key)
            if last is None or last["last_started"] <= now - interval:
                due.append(key)
    return due


def pulls_dispatch_due(*, now: datetime | None = None, enqueue=None) -> dict[int, list[str]]:
    """Enqueue a pull task for every due pull; return {connection id: [object types]}."""
    if enqueue is None:
        from crm_sync.tasks import pull_object_type as pull_object_type_task

        def enqueue(connection_id: int, object_type: str) -> None:
            pull_object_type_task.apply_async(
                kwargs={"connection_id": connection_id, "object_type": object_type},
                expires=settings.SYNC_PULL_TASK_MAX_SECONDS,
            )

    now = now or timezone.now()
    dispatched: dict[int, list[str]] = {}
    for connection_id, object_type in pulls_due(now=now):
        # A task queued but not started yet has no run: the key keeps the next tick from
        # queueing it again, for the longest a queued task may wait (its expiry).
        key = f"crm_sync:pull-dispatched:{connection_id}:{object_type}"
        if not cache.add(key, now.isoformat(), timeout=settings.SYNC_PULL_TASK_MAX_SECONDS):
            continue
        enqueue(connection_id, object_type)
        dispatched.setdefault(connection_id, []).append(object_type)
    if dispatched:
        logger.info("Dispatched pull tasks: %s", dispatched)
    return dispatched
