"""Request budgets shared by every worker of every machine.

Two primitives, both keyed by a string (a connection and a bucket name):

- `RateLimiter`: at most `limit` requests in any rolling `window` seconds (a sliding log,
  which is how HubSpot counts its 10-second window). With Redis, one Lua script checks and
  records a request atomically on the server, against the server's clock, so workers on
  many machines share one exact budget. Without Redis (the embedded default, one worker)
  the log lives in this process.
- `DailyQuota`: requests per day (HubSpot's 250,000/day on Free/Starter), one counter key
  per day, the day running from midnight to midnight in the account's time zone (UTC when
  it is not known).

Both adapt to what the CRM says: `observe()` takes the limit, window and remaining count
parsed from response headers (`parse_rate_limit_headers`), `penalize()` pauses every worker
after a 429 for its Retry-After.

Backend choice (`default_backend()`): CRM_RATE_LIMIT_REDIS_URL when set, else the Django
cache when it is Redis (CACHE_URL=redis://...), else process-local.

A 429 that names its policy (`RatePolicy`, e.g. HubSpot's policyName) says how long to
stop: a rolling window's length, or, for a daily quota, until the next daily reset
(`next_daily_reset`); the daily case is held on the connection itself (integrations/holds.py).

Public API used by connectors:
    limiter_for(connection, name="default", default=(100, 10.0)) -> RateLimiter
    daily_quota_for(connection, default_limit=250_000) -> DailyQuota | None
    daily_quota_status(connection) -> dict | None        (crm-config shows it)
    limiter_blocked_until(connection, name) -> datetime | None   (crm-config shows it)
    parse_rate_limit_headers(headers) -> RateObservation | None
    next_daily_reset(now=..., time_zone=...) -> datetime
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from integrations.errors import CrmRateLimited, CrmUnavailable

KEY_PREFIX = "crmsync:rl:"
_MISSING = object()


class RateLimiterUnavailable(CrmUnavailable):
    """The shared limiter (Redis) did not answer: an infrastructure blip, retriable."""


@dataclass(frozen=True)
class RateObservation:
    """What a CRM's response headers say about its limits (any field may be unknown)."""

    limit: int | None = None
    window: float | None = None
    remaining: int | None = None
    reset_after: float | None = None
    daily_limit: int | None = None
    daily_remaining: int | None = None


@dataclass(frozen=True)
class RatePolicy:
    """The limit a 429 says was hit: a rolling window of `window` seconds, or a daily quota."""

    name: str
    window: float | None = None
    daily: bool = False


# ---------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------
class LocalBackend:
    """Process-local state behind a lock: exact within one process, nothing shared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, deque] = {}
        self._values: dict[str, tuple[float, float | None]] = {}  # key -> (value, expires_at)

    def _get(self, key: str, now: float):
        value, expires = self._values.get(key, (None, None))
        if expires is not None and expires <= now:
            self._values.pop(key, None)
            return None
        return value

    def acquire(self, key: str, limit: int, window: float) -> float:
        now = time.time()
        with self._lock:
            blocked = self._get(key + ":block", now)
            if blocked and blocked > now:
                return blocked - now
            override = self._get(key + ":cfg", now)
            if override:
                limit, window = override
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) < limit:
                log.append(now)
                return 0.0
            return max(0.001, log[0] + window - now)

    def block(self, key: str, seconds: float) -> None:
        now = time.time()
        with self._lock:
            current = self._get(key + ":block", now) or 0
            self._values[key + ":block"] = (max(current, now + seconds), now + seconds)

    def blocked_until(self, key: str) -> float | None:
        """The epoch second a pause (`block`) of `key` ends, or None when it is not paused."""
        now = time.time()
        with self._lock:
            blocked = self._get(key + ":block", now)
        return blocked if blocked and blocked > now else None

    def configure(self, key: str, limit: int, window: float, ttl: float) -> None:
        with self._lock:
            self._values[key + ":cfg"] = ((limit, window), time.time() + ttl)

    def consume(self, key: str, amount: int, limit: int, ttl: float) -> int:
        """Add `amount` unless that passes `limit`; return the count after, or -1 when refused."""
        now = time.time()
        with self._lock:
            used = self._get(key, now) or 0
            if used + amount > limit:
                return -1
            self._values[key] = (used + amount, now + ttl)
            return used + amount

    def set_count(self, key: str, value: int, ttl: float) -> None:
        with self._lock:
            self._values[key] = (value, time.time() + ttl)

    def get_count(self, key: str) -> int:
        with self._lock:
            return int(self._get(key, time.time()) or 0)

    def reset(self) -> None:
        with self._lock:
            self._logs.clear()
            self._values.clear()


_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cfg = redis.call('HMGET', KEYS[3], 'limit', 'window')
if cfg[1] then limit = tonumber(cfg[1]); window = tonumber(cfg[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

_BLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > current then redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 1000) end
return untl
"""

_CONSUME_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
used = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return used
"""


class RedisBackend:
    """Shared state in Redis; every operation is one atomic script or command."""

    def __init__(self, client) -> None:
        self.client = client
        self._acquire = client.register_script(_ACQUIRE_LUA)
        self._block = client.register_script(_BLOCK_LUA)
        self._consume = client.register_script(_CONSUME_LUA)

    @classmethod
    def from_url(cls, url: str) -> RedisBackend:
        import redis

        return cls(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2))

    def _call(self, fn, *args, **kwargs):
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(f"rate limiter unavailable: {exc.__class__.__name__}") from exc

    def acquire(self, key: str, limit: int, window: float) -> float:
        waited_ms = self._call(
            self._acquire,
            keys=[KEY_PREFIX + key, KEY_PREFIX + key + ":block", KEY_PREFIX + key + ":cfg"],
            args=[limit, int(window * 1000), uuid.uuid4().hex],
        )
        return int(waited_ms) / 1000.0

    def block(self, key: str, seconds: float) -> None:
        self._call(self._block, keys=[KEY_PREFIX + key + ":block"], args=[max(1, int(seconds * 1000))])

    def blocked_until(self, key: str) -> float | None:
        # The stored value is the server's clock in ms; the caller compares with its own clock,
        # which is close enough for showing an operator when a pause of seconds ends.
        value = self._call(self.client.get, KEY_PREFIX + key + ":block")
        until = int(value) / 1000.0 if value else None
        return until if until and until > time.time() else None

    def configure(self, key: str, limit: int, window: float, ttl: float) -> None:
        name = KEY_PREFIX + key + ":cfg"
        pipe = self.client.pipeline()
        pipe.hset(name, mapping={"limit": int(limit), "window": int(window * 1000)})
        pipe.expire(name, int(ttl))
        self._call(pipe.execute)

    def consume(self, key: str, amount: int, limit: int, ttl: float) -> int:
        return int(self._call(self._consume, keys=[KEY_PREFIX + key], args=[amount, limit, int(ttl)]))

    def set_count(self, key: str, value: int, ttl: float) -> None:
        self._call(self.client.set, KEY_PREFIX + key, int(value), ex=int(ttl))

    def get_count(self, key: str) -> int:
        return int(self._call(self.client.get, KEY_PREFIX + key) or 0)


_local_backend = LocalBackend()


@lru_cache(maxsize=4)
def _redis_backend_for(url: str) -> RedisBackend:
    return RedisBackend.from_url(url)


def default_backend():
    """Redis when configured (shared by every worker), else this process's LocalBackend."""
    url = getattr(settings, "CRM_RATE_LIMIT_REDIS_URL", "")
    if url:
        return _redis_backend_for(url)
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    # `caches[...]`, not `cache`: the latter is a proxy, never an instance of the backend class.
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return _redis_backend_for(cache._servers[0])
    return _local_backend


# ---------------------------------------------------------------------------------------
# Limiter and quota
# ---------------------------------------------------------------------------------------
class RateLimiter:
    """At most `limit` calls per rolling `window` seconds, for everyone sharing `key`.

    `acquire()` waits for a slot (sleeping, up to `max_wait` seconds in all) and raises
    CrmRateLimited(retry_after) instead of waiting longer. `limit=None` means unlimited.
    """

    def __init__(
        self,
        *,
        key: str,
        limit: int | None,
        window: float = 1.0,
        backend=None,
        max_wait: float | None = None,
        sleep=time.sleep,
    ) -> None:
        self.key = key
        self.limit = limit
        self.window = float(window)
        self.backend = backend if backend is not None else default_backend()
        self.max_wait = settings.CRM_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
        self._sleep = sleep

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    def try_acquire(self) -> float:
        """Take a slot if one is free: 0.0, else the seconds until one may be."""
        if self.unlimited:
            return 0.0
        return self.backend.acquire(self.key, self.limit, self.window + self.margin)

    @property
    def margin(self) -> float:
        """Extra seconds on the window: the CRM starts its clock when a call arrives, which can be
        a little after this limiter granted the slot, so an exact window would earn stray 429s."""
        return self.window * 0.01 + 0.02

    def acquire(self, *, max_wait: float | None = None) -> float:
        """Block until a slot is taken; return the seconds waited."""
        budget = self.max_wait if max_wait is None else max_wait
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return waited
            if waited + wait > budget:
                raise CrmRateLimited(
                    f"local rate limit for {self.key} reached ({self.limit} per {self.window:g}s)",
                    retry_after=round(wait, 3),
                )
            self._sleep(wait)
            waited += wait

    def penalize(self, seconds: float) -> None:
        """Pause every worker sharing this limiter for `seconds` (after a 429)."""
        if seconds and seconds > 0:
            self.backend.block(self.key, seconds)

    def observe(self, observation: RateObservation) -> None:
        """Adapt to the CRM's headers: adopt its limit/window; stop when it says none remain."""
        if self.unlimited:
            return
        limit, window = observation.limit, observation.window
        if limit and window and (limit != self.limit or abs(window - self.window) > 0.001):
            # An hour's TTL: a changed tier is re-learned from the next responses anyway.
            self.backend.configure(self.key, limit, window, ttl=3600)
            self.limit, self.window = limit, window
        if observation.remaining is not None and observation.remaining <= 0:
            if observation.reset_after:
                self.penalize(observation.reset_after)
            else:
                # A rolling window with no reset time (HubSpot): a slot frees as soon as the oldest
                # call ages out, which this limiter's own log already waits for. Pausing a whole
                # window here would idle every worker for up to `window` seconds too long; a 429
                # caused by traffic outside this service still pauses for its Retry-After.
                self.penalize(self.window / max(self.limit or 1, 1))


def zone_or_utc(time_zone: str | None):
    """The named IANA time zone, or UTC when it is empty or unknown here."""
    if not time_zone:
        return UTC
    try:
        return ZoneInfo(str(time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _day(now: datetime | None, time_zone: str | None) -> tuple[str, datetime]:
    """(the day's name, its end as a UTC instant) of the day `now` falls in, in `time_zone`."""
    zone = zone_or_utc(time_zone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    tomorrow = local.date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
    return local.strftime("%Y%m%d"), midnight.astimezone(UTC)


def next_daily_reset(*, now: datetime | None = None, time_zone: str | None = None) -> datetime:
    """The next midnight in `time_zone` (UTC when unknown), as a UTC instant: when a daily quota resets.

    HubSpot: the daily limit "resets at midnight based on your time zone setting".
    """
    return _day(now, time_zone)[1]


class DailyQuota:
    """A per-day request budget shared by every worker (HubSpot's daily API limit).

    The day runs midnight to midnight in the account's time zone (`time_zone`, UTC when not
    known), as HubSpot counts it; re-synchronising from X-HubSpot-RateLimit-Daily-Remaining
    (`observe`) corrects the count for calls this service did not make.
    """

    def __init__(self, *, key: str, limit: int, backend=None, time_zone: str | None = None) -> None:
        self.key = key
        self.limit = int(limit)
        self.backend = backend if backend is not None else default_backend()
        self.time_zone = time_zone

    def _day_key(self, now: datetime | None = None) -> tuple[str, datetime]:
        day, resets_at = _day(now, self.time_zone)
        return f"{self.key}:{day}", resets_at

    def consume(self, amount: int = 1) -> int:
        """Count `amount` calls; raise CrmRateLimited (until the day's end) once the day is spent."""
        key, resets_at = self._day_key()
        used = self.backend.consume(key, amount, self.limit, ttl=2 * 86400)
        if used < 0:
            retry_after = max(1.0, (resets_at - datetime.now(UTC)).total_seconds())
            raise CrmRateLimited(
                f"daily request quota of {self.limit} is spent; it resets at {resets_at.isoformat()}",
                retry_after=round(retry_after),
                policy="DAILY",
                resets_at=resets_at,
            )
        return self.limit - used

    def observe(self, observation: RateObservation) -> None:
        if observation.daily_remaining is None:
            return
        limit = observation.daily_limit or self.limit
        key, _ = self._day_key()
        self.backend.set_count(key, max(0, limit - observation.daily_remaining), ttl=2 * 86400)

    def status(self) -> dict:
        key, resets_at = self._day_key()
        used = self.backend.get_count(key)
        return {
            "limit": self.limit,
            "used": used,
            "remaining": max(0, self.limit - used),
            "resets_at": resets_at.isoformat(),
        }

    def remaining(self) -> int:
        return self.status()["remaining"]


# ---------------------------------------------------------------------------------------
# Per-connection construction
# ---------------------------------------------------------------------------------------
def _limiter_key(connection, name: str) -> str:
    return f"{connection.kind}:{connection.pk or 'unsaved'}:{name}"


def limiter_for(
    connection, *, name: str = "default", default: tuple[int, float] | None = None
) -> RateLimiter:
    """The limiter `name` of a connection.

    connection.settings["rate_limits"][name] overrides the connector's preset `default`:
    {"limit": 190, "window": 10} or null for unlimited.
    """
    configured = (connection.settings or {}).get("rate_limits", {}).get(name, _MISSING)
    if configured is _MISSING:
        limit, window = default if default else (None, 1.0)
    elif configured is None:
        limit, window = None, 1.0
    else:
        limit, window = int(configured["limit"]), float(configured.get("window", 1.0))
    return RateLimiter(key=_limiter_key(connection, name), limit=limit, window=window)


def daily_quota_for(connection, *, default_limit: int | None) -> DailyQuota | None:
    """The daily quota of a connection: connection.settings["daily_quota"] (int, or null = none).

    Its day is the CRM account's (connection.account_time_zone, learned by the credential test).
    """
    limit = (connection.settings or {}).get("daily_quota", default_limit)
    if not limit:
        return None
    return DailyQuota(
        key=_limiter_key(connection, "daily"),
        limit=int(limit),
        time_zone=getattr(connection, "account_time_zone", "") or None,
    )


def limiter_blocked_until(connection, name: str = "default") -> datetime | None:
    """When the pause of a connection's limiter `name` after a 429 ends, or None when not paused.

    Exact across workers with the Redis backend; with the process-local one, this process's view.
    """
    until = default_backend().blocked_until(_limiter_key(connection, name))
    return datetime.fromtimestamp(until, tz=UTC) if until else None


def daily_quota_status(connection) -> dict | None:
    """{limit, used, remaining, resets_at} for today, or None when the CRM has no daily quota."""
    from integrations.registry import get_connector_class

    connector_class = get_connector_class(connection.kind)
    quota = daily_quota_for(connection, default_limit=connector_class.daily_quota_default(connection))
    return quota.status() if quota else None


def _int(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_rate_limit_headers(headers) -> RateObservation | None:
    """Read HubSpot's X-HubSpot-RateLimit-*, Brevo's x-sib-ratelimit-* and generic X-RateLimit-*."""
    get = headers.get
    if get("X-HubSpot-RateLimit-Max") or get("X-HubSpot-RateLimit-Daily-Remaining"):
        interval_ms = _int(get("X-HubSpot-RateLimit-Interval-Milliseconds"))
        return RateObservation(
            limit=_int(get("X-HubSpot-RateLimit-Max")),
            window=interval_ms / 1000.0 if interval_ms else None,
            remaining=_int(get("X-HubSpot-RateLimit-Remaining")),
            daily_limit=_int(get("X-HubSpot-RateLimit-Daily")),
            daily_remaining=_int(get("X-HubSpot-RateLimit-Daily-Remaining")),
        )
    if get("x-sib-ratelimit-limit"):
        # Brevo: remaining in the current window, reset = seconds until the window resets.
        return RateObservation(
            remaining=_int(get("x-sib-ratelimit-remaining")),
            reset_after=_int(get("x-sib-ratelimit-reset")),
        )
    if get("X-RateLimit-Limit"):
        return RateObservation(
            remaining=_int(get("X-RateLimit-Remaining")),
            reset_after=_int(get("X-RateLimit-Reset-After")) or None,
        )
    return None
