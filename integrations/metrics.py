"""Prometheus metrics of the CRM HTTP client: one observation per HTTP call, never per contact.

Recorded in the process that makes the call (a worker, or the web for a credentials test).
Across processes they add up when PROMETHEUS_MULTIPROC_DIR is set for every process of the
machine (prometheus-client's multiprocess mode); /metrics then reads that directory.
"""

from prometheus_client import Counter, Histogram

HTTP_DURATION = Histogram(
    "crm_http_request_duration_seconds",
    "Time of one HTTP call to a CRM, until its response (or the failure).",
    ["crm", "method", "status"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_429 = Counter("crm_http_429", "HTTP 429 (rate limited) answers from a CRM.", ["crm"])


def http_call_observe(*, crm: str, method: str, status: int | None, seconds: float) -> None:
    label = str(status) if status is not None else "none"
    HTTP_DURATION.labels(crm, method, label).observe(seconds)
    if status == 429:
        HTTP_429.labels(crm).inc()
