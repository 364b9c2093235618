"""Backoff arithmetic: base * 2**n, jitter in [50%, 100%], capped, Retry-After as a floor."""

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crm_sync.services.retry import backoff_seconds, next_retry_time, rate_limit_wait_seconds


class FixedRandom(random.Random):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def uniform(self, a, b):
        return a + (b - a) * self.value


def test_backoff_doubles_per_attempt_without_jitter():
    full = FixedRandom(1.0)
    assert [backoff_seconds(retry_count=n, base=30, cap=10_000, rng=full) for n in range(4)] == [
        30,
        60,
        120,
        240,
    ]


def test_backoff_jitter_halves_at_most():
    assert backoff_seconds(retry_count=2, base=30, cap=10_000, rng=FixedRandom(0.0)) == 60


def test_backoff_is_capped():
    assert backoff_seconds(retry_count=20, base=30, cap=3600, rng=FixedRandom(1.0)) == 3600


def test_retry_after_is_a_floor_even_past_the_cap():
    assert backoff_seconds(retry_count=0, base=30, cap=60, retry_after=900, rng=FixedRandom(1.0)) == 900


def test_retry_after_below_the_backoff_does_not_shorten_it():
    assert backoff_seconds(retry_count=3, base=30, cap=10_000, retry_after=5, rng=FixedRandom(1.0)) == 240


def test_next_retry_time_adds_the_delay():
    now = datetime(2025, 11, 18, 10, 0, tzinfo=UTC)
    assert next_retry_time(now=now, retry_count=1, base=10, cap=100, rng=FixedRandom(1.0)) == now + timedelta(
        seconds=20
    )


def test_rate_limit_wait_uses_retry_after_or_the_default():
    assert rate_limit_wait_seconds(retry_after=3, default=10) == 3
    assert rate_limit_wait_seconds(retry_after=None, default=10) == 10
    assert rate_limit_wait_seconds(retry_after=0, default=10) == 10


@given(
    retry_count=st.integers(min_value=0, max_value=500),
    base=st.floats(min_value=0.1, max_value=600),
    cap=st.floats(min_value=1, max_value=86_400),
)
def test_backoff_always_within_bounds(retry_count, base, cap):
    delay = backoff_seconds(retry_count=retry_count, base=base, cap=cap)
    ceiling = min(cap, base * 2 ** min(retry_count, 62))
    assert ceiling * 0.5 <= delay <= ceiling
