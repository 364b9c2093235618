"""The exact bound of a rolling rate-limit window, for the benches that run under one.

A CRM that allows `limit` requests in any `window` seconds (HubSpot: 100 per 10 s) lets a
burst of `limit` through at once, so a short run's rate overstates what the limit allows
in the long run. This leaves the first window out: with t0 the first request's arrival and
k the number of whole windows between t0 + window and the last arrival, the k windows
[t0 + window, t0 + (k + 1) x window) can hold at most k x limit requests, whatever the
pacing, and the ratio is the requests that arrived in them over k x limit. 100% is a
window kept full; more than 100% is a client, or a server, counting loosely.
"""

import bisect


def window_ratio(arrivals: list[float], *, limit: int, window: float) -> tuple[int, int, float]:
    """(requests counted, windows counted, ratio) of `arrivals` (seconds) against the exact bound.

    (0, 0, 0.0) when the run did not last two whole windows after its first request.
    """
    if not arrivals:
        return 0, 0, 0.0
    arrivals = sorted(arrivals)
    start = arrivals[0] + window
    windows = int((arrivals[-1] - start) // window)
    if windows < 1:
        return 0, 0, 0.0
    end = start + windows * window
    counted = bisect.bisect_left(arrivals, end) - bisect.bisect_left(arrivals, start)
    return counted, windows, counted / (windows * limit)


def busiest_window(arrivals: list[float], *, window: float) -> int:
    """The most requests any half-open interval of `window` seconds holds (the CRM's count)."""
    arrivals = sorted(arrivals)
    return max(
        (bisect.bisect_left(arrivals, at + window) - index for index, at in enumerate(arrivals)), default=0
    )


def refill_seconds(arrivals: list[float], *, limit: int) -> float | None:
    """The median time between a request and the `limit`-th after it: the window's length when
    every slot is reused as soon as it frees (the pacing's own slack shows as more); None when
    there are not more than `limit` requests."""
    arrivals = sorted(arrivals)
    gaps = sorted(arrivals[index] - arrivals[index - limit] for index in range(limit, len(arrivals)))
    return gaps[len(gaps) // 2] if gaps else None
