"""Checks behind /healthz: each answers within a second or counts as down."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from core.selectors import heartbeat_report

logger = logging.getLogger(__name__)


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value it was given")
    cache.delete(key)
    return "ok"


def check_broker() -> str:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(url, transport_options=options, connect_timeout=1) as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        # Opening a channel proves more than a socket: the file transport checks its folders here.
        conn.default_channel  # noqa: B018 - the attribute access opens the channel
    return "ok"


CHECKS = {"database": check_database, "broker": check_broker, "cache": check_cache}


def health_report(*, require_workers: bool = False) -> tuple[bool, dict]:
    """What the web needs (database, broker, cache), then the background (workers, beat).

    A stale worker or beat does not make the web unhealthy (restarting the web would not help):
    it is reported, and counts only when `require_workers` (GET /healthz?workers=1) asks.
    """
    report, healthy = {}, True
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down", with its reason
            logger.warning("Health check %s failed: %s", name, exc)
            report[name] = f"error: {type(exc).__name__}"
            healthy = False
    try:
        background = heartbeat_report()
    except Exception as exc:  # noqa: BLE001 - the database check above already says why
        background = {part: {"state": f"error: {type(exc).__name__}"} for part in ("workers", "beat")}
    report.update(background)
    if require_workers and any(background[part]["state"] != "ok" for part in ("workers", "beat")):
        healthy = False
    return healthy, report
