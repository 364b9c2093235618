"""The daily reset (midnight in the account's time zone) and when a paused limiter resumes."""

import uuid
from datetime import UTC, datetime

import pytest

from integrations.errors import CrmRateLimited
from integrations.ratelimit import DailyQuota, LocalBackend, RedisBackend, next_daily_reset, zone_or_utc
from tests.integrations.core.test_ratelimit import REDIS_URL


@pytest.mark.parametrize(
    ("now", "time_zone", "reset"),
    [
        (datetime(2026, 12, 7, 13, 30, tzinfo=UTC), None, datetime(2026, 12, 8, tzinfo=UTC)),
        (datetime(2026, 12, 7, 13, 30, tzinfo=UTC), "Etc/UTC", datetime(2026, 12, 8, tzinfo=UTC)),
        (datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC), "", datetime(2026, 12, 8, tzinfo=UTC)),
        # 13:30 UTC is 08:30 in New York (EST, UTC-5): its midnight is 05:00 UTC.
        (datetime(2026, 12, 7, 13, 30, tzinfo=UTC), "America/New_York", datetime(2026, 12, 8, 5, tzinfo=UTC)),
        # 03:00 UTC is still the 6th in New York: the reset is that evening's midnight.
        (datetime(2026, 12, 7, 3, 0, tzinfo=UTC), "America/New_York", datetime(2026, 12, 7, 5, tzinfo=UTC)),
        # Tokyo (UTC+9): 16:00 UTC is already the 8th there; its midnight is 15:00 UTC on the 8th.
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), "Asia/Tokyo", datetime(2026, 12, 8, 15, tzinfo=UTC)),
        # Summer time: Berlin is UTC+2 in July.
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "Europe/Berlin", datetime(2026, 7, 1, 22, tzinfo=UTC)),
        (datetime(2026, 12, 7, 13, 30, tzinfo=UTC), "Not/AZone", datetime(2026, 12, 8, tzinfo=UTC)),
    ],
)
def test_next_daily_reset_is_midnight_in_the_time_zone(now, time_zone, reset):
    assert next_daily_reset(now=now, time_zone=time_zone) == reset


def test_an_unknown_or_empty_time_zone_is_utc():
    assert zone_or_utc("") is UTC and zone_or_utc(None) is UTC and zone_or_utc("../etc/passwd") is UTC


def test_the_daily_quota_counts_the_accounts_day_and_names_its_reset():
    quota = DailyQuota(key=f"q-{uuid.uuid4().hex}", limit=1, backend=LocalBackend(), time_zone="Asia/Tokyo")
    quota.consume()
    with pytest.raises(CrmRateLimited) as raised:
        quota.consume()
    assert raised.value.policy == "DAILY"
    assert raised.value.resets_at == next_daily_reset(time_zone="Asia/Tokyo")
    assert quota.status()["resets_at"] == raised.value.resets_at.isoformat()


def test_a_local_pause_reports_when_it_ends_and_nothing_when_over():
    backend = LocalBackend()
    assert backend.blocked_until("k") is None
    backend.block("k", 30)
    assert backend.blocked_until("k") is not None
    backend.block("gone", 0.0)
    assert backend.blocked_until("gone") is None


@pytest.mark.requires_redis
def test_a_redis_pause_is_seen_by_every_process():
    key = f"test-{uuid.uuid4().hex}"
    writer, reader = RedisBackend.from_url(REDIS_URL), RedisBackend.from_url(REDIS_URL)
    assert reader.blocked_until(key) is None
    writer.block(key, 30)
    assert reader.blocked_until(key) is not None
