"""Reads behind the operator's overview of every connection (manage.py sync stats, push --wait)."""

from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from crm_sync.models import SyncRun
from crm_sync.selectors import sync_stats
from integrations import registry
from integrations.models import CrmConnection


def _display_name(kind: str) -> str:
    try:
        return registry.get_connector_class(kind).display_name
    except registry.UnknownCrm:  # a connection whose connector is no longer installed
        return kind


def connection_state_text(*, connection, stats: dict) -> str:
    """The connection's state in plain words: what an operator needs to know, and to do."""
    if not connection.enabled:
        return "Disabled"
    pause = stats.get("paused")
    if pause and pause["reason"] == "circuit_open":
        return (
            f"{pause['message']} (fix the credentials, then: manage.py sync resume --crm {connection.kind})"
        )
    if pause:
        return f"Daily API limit spent until {pause['until']:%Y-%m-%d %H:%M} UTC; resumes on its own"
    return "Healthy"


def connections_overview(*, organization, now: datetime | None = None) -> list[dict]:
    """Per connection of the organization: its counts (sync_stats), state, last push and last pull."""
    now = now or timezone.now()
    connections = list(CrmConnection.objects.filter(organization=organization).order_by("kind", "pk"))
    last_runs = {
        (row["connection_id"], row["direction"]): row["last"]
        for row in SyncRun.objects.filter(connection__in=connections, finished_at__isnull=False)
        .order_by()
        .values("connection_id", "direction")
        .annotate(last=Max("finished_at"))
    }
    rows = []
    for connection in connections:
        stats = sync_stats(connection=connection, now=now)
        rows.append(
            {
                **stats,
                "connection_id": connection.pk,
                "name": connection.name,
                "display_name": _display_name(connection.kind),
                "state": connection_state_text(connection=connection, stats=stats),
                "last_push": last_runs.get((connection.pk, SyncRun.Direction.PUSH)),
                "last_pull": last_runs.get((connection.pk, SyncRun.Direction.PULL)),
            }
        )
    return rows
