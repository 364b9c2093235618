"""Reads behind the CRM data API: per source its records, counts and pull status.

Every function costs a fixed number of queries whatever the number of sources or records:
counts and run states are grouped by connection in one query each.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.models import Contact
from core.errors import InvalidInput
from crm_sync.models import RemoteRecord, SyncRun
from crm_sync.services.pull import _stale_before
from crm_sync.sources import Source

FAILED = (SyncRun.Outcome.FAILED, SyncRun.Outcome.ABANDONED, SyncRun.Outcome.RATE_LIMITED)
FINISHED_OK = (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL)


@dataclass
class SourceStatus:
    status: str = "idle"  # idle | syncing | error
    last_sync: datetime | None = None
    contact_count: int = 0
    deal_count: int = 0
    last_error: str | None = None
    running_runs: tuple[int, ...] = ()


def updated_range(params) -> dict:
    """`updated_since` / `updated_before` (ISO 8601) as filter bounds; a bad one is a 400."""
    bounds = {}
    for name in ("updated_since", "updated_before"):
        raw = params.get(name)
        if raw in (None, ""):
            continue
        value = parse_datetime(raw.strip().replace(" ", "+"))
        if value is None:
            raise InvalidInput(
                f"{name} must be an ISO 8601 date-time.",
                code="invalid_filter",
                details={name: [f"An ISO 8601 date-time, e.g. 2026-01-20T10:00:00Z; got {raw[:50]!r}."]},
            )
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.utc)
        bounds[name] = value
    return bounds


def local_contacts(*, organization, bounds: dict | None = None) -> QuerySet[Contact]:
    bounds = bounds or {}
    queryset = Contact.objects.filter(organization=organization).order_by("-updated_at", "-id")
    if "updated_since" in bounds:
        queryset = queryset.filter(updated_at__gte=bounds["updated_since"])
    if "updated_before" in bounds:
        queryset = queryset.filter(updated_at__lt=bounds["updated_before"])
    return queryset


def source_records(*, source: Source, kind: str, bounds: dict | None = None) -> QuerySet[RemoteRecord]:
    """A source's pulled contacts (kind "contacts") or deals (every other object type), newest first."""
    bounds = bounds or {}
    queryset = RemoteRecord.objects.filter(connection=source.connection).defer("raw")
    queryset = (
        queryset.filter(object_type="contacts")
        if kind == "contacts"
        else queryset.exclude(object_type="contacts")
    )
    if "updated_since" in bounds:
        queryset = queryset.filter(remote_updated_at__gte=bounds["updated_since"])
    if "updated_before" in bounds:
        queryset = queryset.filter(remote_updated_at__lt=bounds["updated_before"])
    return queryset.order_by("-remote_updated_at", "-id")


def sources_status(
    *, organization, sources: list[Source], now: datetime | None = None
) -> dict[str, SourceStatus]:
    """Per source: idle / syncing / error, the last good pull, counts of contacts and deals, last error.

    `syncing`: a pull of the source is running (and alive). `error`: the source's newest finished
    pull failed (or its circuit is open); `last_error` says why. Counts leave out archived records.
    """
    now = now or timezone.now()
    statuses = {s.key: SourceStatus() for s in sources}
    by_connection = {s.connection.pk: s for s in sources if s.connection is not None}
    if any(s.is_local for s in sources):
        statuses["local"].contact_count = Contact.objects.filter(organization=organization).count()
    if not by_connection:
        return statuses
    ids = list(by_connection)
    for row in (
        RemoteRecord.objects.filter(connection_id__in=ids, archived=False)
        .order_by()
        .values("connection_id")
        .annotate(
            contacts=Count("pk", filter=Q(object_type="contacts")),
            deals=Count("pk", filter=~Q(object_type="contacts")),
        )
    ):
        status = statuses[by_connection[row["connection_id"]].key]
        status.contact_count, status.deal_count = row["contacts"], row["deals"]
    pulls = SyncRun.objects.filter(connection_id__in=ids, direction=SyncRun.Direction.PULL)
    last = {
        row["connection_id"]: row
        for row in pulls.order_by()
        .values("connection_id")
        .annotate(
            ok=Max("finished_at", filter=Q(outcome__in=FINISHED_OK)),
            failed=Max("finished_at", filter=Q(outcome__in=FAILED)),
        )
    }
    running: dict[int, list[int]] = {}
    for run_id, connection_id in (
        pulls.filter(outcome=SyncRun.Outcome.RUNNING, heartbeat_at__gte=_stale_before(now))
        .order_by("pk")
        .values_list("pk", "connection_id")
    ):
        running.setdefault(connection_id, []).append(run_id)
    failed_at = {
        cid: row["failed"]
        for cid, row in last.items()
        if row["failed"] and (row["ok"] is None or row["failed"] > row["ok"])
    }
    errors = {}
    if failed_at:
        for run in pulls.filter(
            connection_id__in=list(failed_at), outcome__in=FAILED, finished_at__in=list(failed_at.values())
        ).only("connection_id", "errors", "finished_at"):
            if run.finished_at == failed_at.get(run.connection_id):
                first = run.errors[0] if run.errors else {}
                errors[run.connection_id] = str(first.get("message") or "The pull failed.")
    for connection_id, source in by_connection.items():
        status = statuses[source.key]
        status.last_sync = (last.get(connection_id) or {}).get("ok")
        status.running_runs = tuple(running.get(connection_id, ()))
        if status.running_runs:
            status.status = "syncing"
        elif connection_id in failed_at or source.connection.is_circuit_open:
            status.status = "error"
            status.last_error = (
                errors.get(connection_id) or source.connection.circuit_reason or "The pull failed."
            )
        if status.status != "error" and connection_id in errors:
            status.last_error = errors[connection_id]
    return statuses


def records_page(
    *, organization, sources: list[Source], kind: str, bounds: dict, limit: int, offset: int
) -> tuple[list[tuple[str, object]], int]:
    """One page of `kind` ("contacts" or "deals") over `sources`: the local contacts first, then
    the pulled records of every connection, newest first; [(source key, row)] and the total."""
    keys = {s.connection.pk: s.key for s in sources if s.connection is not None}
    segments: list[tuple[QuerySet, object]] = []
    if kind == "contacts" and any(s.is_local for s in sources):
        segments.append((local_contacts(organization=organization, bounds=bounds), lambda row: "local"))
    if keys:
        remote = RemoteRecord.objects.filter(connection_id__in=list(keys)).defer("raw")
        remote = (
            remote.filter(object_type="contacts")
            if kind == "contacts"
            else remote.exclude(object_type="contacts")
        )
        if "updated_since" in bounds:
            remote = remote.filter(remote_updated_at__gte=bounds["updated_since"])
        if "updated_before" in bounds:
            remote = remote.filter(remote_updated_at__lt=bounds["updated_before"])
        segments.append((remote.order_by("-remote_updated_at", "-id"), lambda row: keys[row.connection_id]))
    page: list[tuple[str, object]] = []
    total, skip, room = 0, offset, limit
    for queryset, key_of in segments:
        size = queryset.count()
        total += size
        if room and skip < size:
            rows = list(queryset[skip : skip + room])
            page += [(key_of(row), row) for row in rows]
            room -= len(rows)
        skip = max(0, skip - size)
    return page, total
