"""The push limiter keeps HubSpot's rolling window full, and never over it, when enough lanes are in flight.

bench/push_throughput.py measures this over real HTTP, but its wall-clock figure depends on
what else the machine runs. Here the same RateLimiter (its process-local backend, the
algorithm the Redis script runs) drives simulated push lanes on a virtual clock: each lane
takes a slot, its request reaches an exact rolling-window CRM a few ms later, the answer
comes back after the CRM's latency with HubSpot's remaining-count header (which the limiter
observes, as the HTTP client does), and the lane spends its own work (write-back, next
claim) before it asks for the next slot. The ratio is bench/windows.py's: the first window's
burst left out, against the exact bound. No time is measured: the clock is simulated.
"""

import bisect
import heapq
import random
import types

import pytest

import integrations.ratelimit as ratelimit_module
from bench.windows import busiest_window, refill_seconds, window_ratio
from integrations.ratelimit import LocalBackend, RateLimiter, RateObservation

LIMIT, WINDOW, LATENCY = 100, 10.0, 0.3


def simulate(
    monkeypatch, *, lanes: int, work: tuple[float, float], seconds: float = 120.0, seed: int = 18
) -> list[float]:
    """Arrival times at the CRM of every request `lanes` lanes make in `seconds` of virtual time."""
    rng = random.Random(seed)
    clock = [1_000_000.0]
    monkeypatch.setattr(ratelimit_module, "time", types.SimpleNamespace(time=lambda: clock[0]))
    limiter = RateLimiter(key="sim", limit=LIMIT, window=WINDOW, backend=LocalBackend(), max_wait=60)
    end = clock[0] + seconds
    events = [(clock[0] + rng.uniform(0, 0.2), lane, "acquire", 0.0) for lane in range(lanes)]
    heapq.heapify(events)
    arrivals: list[float] = []
    while events:
        at, lane, kind, sent = heapq.heappop(events)
        if at > end:
            break
        clock[0] = at
        if kind == "acquire":
            wait = limiter.try_acquire()
            if wait > 0:  # what RateLimiter.acquire does: sleep that long, then ask again
                heapq.heappush(events, (at + wait, lane, "acquire", 0.0))
                continue
            arrival = at + rng.uniform(0.001, 0.02)  # the request's way to the CRM
            bisect.insort(arrivals, arrival)
            heapq.heappush(events, (arrival + LATENCY, lane, "answer", arrival))
        else:
            # HubSpot's X-HubSpot-RateLimit-Remaining: the window's room after this request.
            used = bisect.bisect_right(arrivals, sent) - bisect.bisect_right(arrivals, sent - WINDOW)
            limiter.observe(RateObservation(limit=LIMIT, window=WINDOW, remaining=LIMIT - used))
            heapq.heappush(events, (at + rng.uniform(*work), lane, "acquire", 0.0))
    return arrivals


@pytest.mark.parametrize("seed", [1, 18, 97])
def test_enough_lanes_keep_the_window_full_and_never_over_it(monkeypatch, seed):
    # 8 lanes, each 0.3 s of CRM latency plus 0.05-0.3 s of its own work: ~16 requests/s
    # possible against the 10/s the window allows.
    arrivals = simulate(monkeypatch, lanes=8, work=(0.05, 0.3), seed=seed)
    counted, windows, ratio = window_ratio(arrivals, limit=LIMIT, window=WINDOW)
    assert windows >= 10
    assert ratio >= 0.97, (counted, windows)
    # Each slot is taken again as soon as it frees: within the limiter's margin (1% + 20 ms)
    # and the request's way to the CRM, not a pause of its own.
    assert refill_seconds(arrivals, limit=LIMIT) <= WINDOW * 1.02
    assert busiest_window(arrivals, window=WINDOW) <= LIMIT  # an exact CRM would answer no 429


def test_too_few_lanes_are_the_bound_not_the_limiter(monkeypatch):
    # 3 lanes of ~0.475 s a request can make ~6.3 requests/s: the window cannot be kept full,
    # which is what the bench shows when the lanes in flight (workers x SYNC_PUSH_LANES) are
    # too few for the CRM's latency (docs/operations.md sizes them).
    arrivals = simulate(monkeypatch, lanes=3, work=(0.05, 0.3))
    _, _, ratio = window_ratio(arrivals, limit=LIMIT, window=WINDOW)
    capacity = 3 / (LATENCY + 0.0105 + 0.175) / (LIMIT / WINDOW)
    assert ratio == pytest.approx(capacity, rel=0.1)
    assert ratio < 0.8


def test_window_ratio_leaves_out_the_first_burst_and_counts_whole_windows():
    burst = [0.001 * i for i in range(100)]  # the first window: 100 at once
    paced = [10.0 + 0.1 * i for i in range(250)]  # then 10 a second for 25 s
    counted, windows, ratio = window_ratio(burst + paced, limit=100, window=10.0)
    # Whole windows after t0 + 10 s: [10, 20) and [20, 30); the last 4.9 s are not a whole one.
    assert (counted, windows, ratio) == (200, 2, 1.0)
    assert window_ratio(paced[::2], limit=100, window=10.0)[2] == pytest.approx(0.5)
    assert window_ratio(burst, limit=100, window=10.0) == (0, 0, 0.0)  # shorter than two windows
    assert window_ratio([], limit=100, window=10.0) == (0, 0, 0.0)


def test_refill_seconds_is_the_median_time_for_a_window_of_requests():
    assert refill_seconds([0.0, 1.0, 10.5, 12.0, 30.0], limit=2) == 11.0  # gaps 10.5, 11, 19.5
    assert refill_seconds([0.0, 1.0], limit=2) is None


def test_busiest_window_is_the_crms_count():
    assert busiest_window([0.0, 5.0, 9.999, 10.0], window=10.0) == 3  # [t, t + 10) is half-open
    assert busiest_window([], window=10.0) == 0
