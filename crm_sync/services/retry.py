"""Backoff arithmetic for failed pushes. Pure functions: no database, no clock reads."""

import random
from datetime import datetime, timedelta


def backoff_seconds(
    *,
    retry_count: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt number `retry_count + 1`.

    `base * 2**retry_count`, capped at `cap`, with jitter in [50%, 100%] so a burst of
    failures does not come back as a burst. A CRM's Retry-After is a floor: never come
    back earlier than the CRM asked, even when that exceeds the cap.
    """
    exponent = min(max(retry_count, 0), 62)  # 2**62 s is already far past any cap
    ceiling = min(float(cap), float(base) * (2**exponent))
    jitter = (rng or random).uniform(0.5, 1.0)
    delay = ceiling * jitter
    if retry_after is not None and retry_after > delay:
        delay = float(retry_after)
    return delay


def next_retry_time(
    *,
    now: datetime,
    retry_count: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    return now + timedelta(
        seconds=backoff_seconds(retry_count=retry_count, base=base, cap=cap, retry_after=retry_after, rng=rng)
    )


def rate_limit_wait_seconds(*, retry_after: float | None, default: float) -> float:
    """How long a rate-limited batch waits: the CRM's Retry-After, else the window default."""
    if retry_after is not None and retry_after > 0:
        return float(retry_after)
    return float(default)
