"""API-key usage (request_count, last_used_at), counted in memory and written in batches.

Counting each request with its own UPDATE made every API request a write, and every request
of one key a writer of the same row: concurrent requests queued on that row's lock and paid
a commit each. Here a request adds one to a per-process buffer; the buffer is written, one
UPDATE per key that was used, when API_KEY_USAGE_FLUSH_SECONDS have passed since the last
write (by the request that notices), and when the process exits (gunicorn and Celery stop
their workers with a normal interpreter exit, which runs atexit hooks). 0 writes every
request at once, as before.

No count is lost by a flush: the buffer is swapped out under a lock, and a write that fails
puts its counts back for the next flush. What a flush has not written yet (at most
API_KEY_USAGE_FLUSH_SECONDS of one process's requests) is lost only if the process is
killed outright; the admin's request_count lags by as much.
"""

import atexit
import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: dict[str, list] = {}  # key pk → [requests not written yet, last use]
_last_flush = time.monotonic()


def api_key_usage_count(*, key_id: str, now: datetime | None = None) -> None:
    """Count one request of the key; write the buffer when it is due."""
    now = now or timezone.now()
    with _lock:
        entry = _pending.get(key_id)
        if entry is None:
            _pending[key_id] = [1, now]
        else:
            entry[0] += 1
            if now > entry[1]:
                entry[1] = now
        due = time.monotonic() - _last_flush >= settings.API_KEY_USAGE_FLUSH_SECONDS
    if due:
        api_key_usage_flush()


def api_key_usage_pending() -> dict[str, int]:
    """The counts this process has not written yet (for tests and the admin's honesty)."""
    with _lock:
        return {key_id: entry[0] for key_id, entry in _pending.items()}


def api_key_usage_flush() -> int:
    """Write this process's counts: one UPDATE per key; return the requests written.

    The counts are taken out under the lock, so requests counted meanwhile wait for the next
    flush; a key whose write fails gets its counts back in the buffer, so none is lost or
    counted twice.
    """
    global _last_flush
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    if not batch:
        return 0
    written = 0
    for key_id, (count, last_used) in sorted(batch.items()):
        try:
            _write(key_id, count, last_used)
        except DatabaseError:
            logger.exception("Could not write API-key usage; keeping it for the next flush")
            with _lock:
                entry = _pending.setdefault(key_id, [0, last_used])
                entry[0] += count
                entry[1] = max(entry[1], last_used)
            continue
        written += count
    return written


def _write(key_id: str, count: int, last_used: datetime) -> None:
    """Add `count` requests to the key's row; last_used_at only moves forward."""
    from accounts.models import OrganizationAPIKey

    OrganizationAPIKey.objects.filter(pk=key_id).update(
        request_count=F("request_count") + count,
        last_used_at=Case(
            When(last_used_at__isnull=True, then=Value(last_used)),
            default=Greatest(F("last_used_at"), Value(last_used)),
        ),
    )


def _flush_at_exit() -> None:
    try:
        api_key_usage_flush()
    except Exception:  # noqa: BLE001 - the interpreter is going away; say so and let it
        logger.exception("Could not write API-key usage at exit")


atexit.register(_flush_at_exit)
