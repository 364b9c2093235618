"""When the push dispatcher last started each connection's pushes: one cache key a connection.

The dispatcher (services/dispatch.py) starts a connection at most once per its
push_interval_seconds by adding this key with that timeout; estimates (selectors.py) read it to
know how long queued rows wait for the next start. Kept apart from both, so reading it pulls in
neither the dispatcher nor the tasks it sends.
"""

from datetime import datetime, timedelta

from django.core.cache import cache


def dispatch_key(connection_id: int) -> str:
    return f"crm_sync:dispatched:{connection_id}"


def dispatch_mark(*, connection, now: datetime) -> bool:
    """Mark a start of the connection's pushes now; False if one was started within its interval."""
    interval = max(connection.push_interval_seconds, 1)
    return cache.add(dispatch_key(connection.pk), now.isoformat(), timeout=interval)


def dispatch_wait(*, connection, now: datetime) -> float:
    """Seconds before the dispatcher may start this connection's pushes again (0: at its next beat).

    Rows queued after a start's tasks have drained the queue wait for the next start, so
    estimates add this wait rather than promise the measured rate from now.
    """
    started = cache.get(dispatch_key(connection.pk))
    if not started:
        return 0.0
    next_start = datetime.fromisoformat(started) + timedelta(seconds=max(connection.push_interval_seconds, 1))
    return max((next_start - now).total_seconds(), 0.0)
