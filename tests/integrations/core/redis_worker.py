"""Run in a spawned process by the Redis rate-limiter test (imports nothing that needs Django set up)."""

from integrations.ratelimit import RateLimiter, RedisBackend


def hammer(url: str, key: str, attempts: int, queue) -> None:
    backend = RedisBackend.from_url(url)
    limiter = RateLimiter(key=key, limit=25, window=60, backend=backend, max_wait=0)
    queue.put(sum(1 for _ in range(attempts) if limiter.try_acquire() == 0))
