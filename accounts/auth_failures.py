"""Failed API-key authentications, counted per client address in the cache.

Guessing keys is slow already (the secret half is long and random), but an address that keeps
failing is refused outright: every API-key request from it is 429 until its window ends,
including ones carrying a valid key, or a guesser could tell a hit from the throttle.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions

from core.client_ip import client_ip

_PREFIX = "api_key_failures"


def _keys(request) -> tuple[str, str]:
    address = client_ip(request) or "unknown"
    return f"{_PREFIX}:count:{address}", f"{_PREFIX}:start:{address}"


def api_key_failures_check(request) -> None:
    """Raise Throttled (429, Retry-After) when this address has failed too often lately."""
    count_key, start_key = _keys(request)
    if (cache.get(count_key) or 0) < settings.API_KEY_FAILURE_LIMIT:
        return
    started = cache.get(start_key) or time.time()
    wait = max(1, int(started + settings.API_KEY_FAILURE_WINDOW_SECONDS - time.time() + 0.999))
    raise exceptions.Throttled(
        wait=wait, detail="Too many failed API-key authentications from this address; retry later."
    )


def api_key_failure_record(request) -> None:
    """Count one failure in the address's current window (the first failure opens it)."""
    count_key, start_key = _keys(request)
    window = settings.API_KEY_FAILURE_WINDOW_SECONDS
    cache.add(start_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr: this failure opens a new window
        cache.set(count_key, 1, timeout=window)
