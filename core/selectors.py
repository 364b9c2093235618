"""Reads behind /healthz and the admin: which workers and queues are alive, and whether beat is."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from core.models import WorkerHeartbeat


def _age(seen_at: datetime | None, now: datetime) -> float | None:
    return round((now - seen_at).total_seconds(), 1) if seen_at else None


def heartbeat_state(age: float | None) -> str:
    if age is None:
        return "never"
    return "ok" if age <= settings.HEALTH_HEARTBEAT_STALE_SECONDS else "stale"


def heartbeat_report(*, now: datetime | None = None) -> dict:
    """{"workers": {...}, "beat": {...}} from the heartbeat rows beat's schedules leave.

    Each project queue: its last heartbeat, how old, the worker that took it, and its state
    ("ok", "stale" past HEALTH_HEARTBEAT_STALE_SECONDS, "never"). Beat: the newest heartbeat of
    any queue (beat sent it; when every queue is stale, beat is the likely culprit).
    """
    now = now or timezone.now()
    rows = WorkerHeartbeat.objects.filter(queue__in=settings.WORKER_QUEUES).order_by("-seen_at")
    queues: dict[str, dict] = {}
    workers: dict[str, datetime] = {}
    for row in rows:
        queues.setdefault(row.queue, {"last_heartbeat": row.seen_at, "worker": row.hostname})
        workers.setdefault(row.hostname, row.seen_at)
    by_queue = {}
    for name in settings.WORKER_QUEUES:
        seen = queues.get(name, {}).get("last_heartbeat")
        age = _age(seen, now)
        by_queue[name] = {
            "state": heartbeat_state(age),
            "last_heartbeat": seen.isoformat() if seen else None,
            "age_seconds": age,
            "worker": queues.get(name, {}).get("worker"),
        }
    live = sorted(name for name, seen in workers.items() if heartbeat_state(_age(seen, now)) == "ok")
    newest = max(workers.values(), default=None)
    beat_age = _age(newest, now)
    states = {entry["state"] for entry in by_queue.values()}
    return {
        "workers": {
            "state": "ok" if states == {"ok"} else ("never" if states == {"never"} else "stale"),
            "live": live,
            "queues": by_queue,
        },
        "beat": {
            "state": heartbeat_state(beat_age),
            "last_heartbeat": newest.isoformat() if newest else None,
            "age_seconds": beat_age,
        },
    }
