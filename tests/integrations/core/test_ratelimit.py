"""Rate limiter and daily quota: local exactness, header adaptation, 429 pause, Redis across processes."""

import multiprocessing
import os
import uuid

import pytest

from integrations.errors import CrmRateLimited
from integrations.ratelimit import (
    DailyQuota,
    LocalBackend,
    RateLimiter,
    RedisBackend,
    limiter_for,
    parse_rate_limit_headers,
)
from tests.integrations.core.redis_worker import hammer
from tests.integrations.factories import CrmConnectionFactory

REDIS_URL = os.environ.get("REDIS_URL") or os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/4"


def test_limiter_admits_exactly_limit_per_window():
    limiter = RateLimiter(key="t", limit=3, window=60, backend=LocalBackend())
    assert [limiter.try_acquire() == 0 for _ in range(5)] == [True, True, True, False, False]


def test_acquire_waits_then_gives_up_with_rate_limited():
    slept = []
    limiter = RateLimiter(key="t", limit=1, window=60, backend=LocalBackend(), max_wait=5, sleep=slept.append)
    assert limiter.acquire() == 0
    with pytest.raises(CrmRateLimited) as exc:
        limiter.acquire()
    assert 55 < exc.value.retry_after <= 60 + limiter.margin
    assert slept == []  # no point sleeping past max_wait


def test_unlimited_limiter_never_waits():
    limiter = RateLimiter(key="t", limit=None, backend=LocalBackend())
    assert all(limiter.try_acquire() == 0 for _ in range(1000))


def test_observe_adopts_crm_limits_and_stops_at_zero_remaining():
    backend = LocalBackend()
    limiter = RateLimiter(key="t", limit=100, window=10, backend=backend)
    observation = parse_rate_limit_headers(
        {
            "X-HubSpot-RateLimit-Max": "2",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Remaining": "1",
        }
    )
    limiter.observe(observation)
    other_worker = RateLimiter(key="t", limit=100, window=10, backend=backend)
    assert [other_worker.try_acquire() == 0 for _ in range(3)] == [True, True, False]
    # a CRM that says nothing remains pauses everyone
    fresh = RateLimiter(key="u", limit=100, window=10, backend=backend)
    fresh.observe(
        parse_rate_limit_headers(
            {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "1"}
        )
    )  # noqa: E501
    assert fresh.try_acquire() > 0


def test_penalize_pauses_every_worker_sharing_the_key():
    backend = LocalBackend()
    RateLimiter(key="t", limit=100, window=10, backend=backend).penalize(30)
    wait = RateLimiter(key="t", limit=100, window=10, backend=backend).try_acquire()
    assert 29 < wait <= 30


def test_daily_quota_counts_refuses_and_resyncs_from_headers():
    quota = DailyQuota(key="q", limit=3, backend=LocalBackend())
    assert [quota.consume() for _ in range(3)] == [2, 1, 0]
    with pytest.raises(CrmRateLimited) as exc:
        quota.consume()
    assert exc.value.retry_after >= 1
    quota.observe(
        parse_rate_limit_headers(
            {"X-HubSpot-RateLimit-Daily": "3", "X-HubSpot-RateLimit-Daily-Remaining": "2"}
        )
    )
    assert quota.status()["remaining"] == 2 and quota.status()["used"] == 1


@pytest.mark.django_db
def test_limiter_for_reads_connection_overrides(org):
    connection = CrmConnectionFactory(
        organization=org, settings={"rate_limits": {"default": {"limit": 7, "window": 2}, "search": None}}
    )
    default = limiter_for(connection, name="default", default=(100, 10.0))
    search = limiter_for(connection, name="search", default=(5, 1.0))
    other = limiter_for(connection, name="other", default=(3, 1.0))
    assert (default.limit, default.window) == (7, 2.0)
    assert search.unlimited
    assert (other.limit, other.window) == (3, 1.0)


@pytest.mark.django_db
def test_daily_quota_status_for_crm_config(org):
    from integrations.ratelimit import daily_quota_status

    status = daily_quota_status(CrmConnectionFactory(organization=org))
    assert status["limit"] == 250_000 and status["remaining"] == 250_000


@pytest.mark.requires_redis
def test_redis_limiter_holds_its_limit_across_two_processes():
    # given: two processes share one Redis key, each trying far more than the limit
    key = f"test-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=hammer, args=(REDIS_URL, key, 60, queue)) for _ in range(2)]
    # when
    for p in processes:
        p.start()
    admitted = [queue.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    # then: exactly the limit was admitted in total, whatever the interleaving
    assert sum(admitted) == 25


@pytest.mark.requires_redis
def test_redis_quota_and_penalty_are_shared():
    backend_a, backend_b = RedisBackend.from_url(REDIS_URL), RedisBackend.from_url(REDIS_URL)
    key = f"test-{uuid.uuid4().hex}"
    DailyQuota(key=key, limit=2, backend=backend_a).consume()
    assert DailyQuota(key=key, limit=2, backend=backend_b).remaining() == 1
    RateLimiter(key=key, limit=10, window=10, backend=backend_a).penalize(5)
    assert RateLimiter(key=key, limit=10, window=10, backend=backend_b).try_acquire() > 4


def test_hubspot_zero_remaining_pauses_one_slot_not_a_whole_window():
    """HubSpot's rolling window has no reset time: the limiter's own log decides when a slot frees."""
    limiter = RateLimiter(key="hs", limit=100, window=10, backend=LocalBackend())
    limiter.observe(
        parse_rate_limit_headers(
            {
                "X-HubSpot-RateLimit-Max": "100",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "0",
            }
        )
    )
    wait = limiter.try_acquire()
    assert 0 < wait <= 0.1


@pytest.mark.requires_redis
def test_a_redis_cache_makes_the_limiter_shared_without_extra_settings(settings):
    """Production sets CACHE_URL=redis://…: every worker must then share one limiter."""
    from integrations.ratelimit import default_backend

    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    assert isinstance(default_backend(), RedisBackend)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert isinstance(default_backend(), LocalBackend)
