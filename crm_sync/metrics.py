"""GET /metrics: the sync engine for Prometheus.

Figures about the queue and the run history are computed from the database at scrape time
(a few aggregate queries), so they are right however many workers on however many machines
do the work: queue depth and oldest queued age per connection, failed contacts per CRM and
category (gauges), and pushed / pulled contacts per CRM and outcome (counters: sums over the
SyncRun rows, which only grow; deleting old runs reads as a counter reset). The CRM HTTP
latency histogram and 429 counter are per call in the process making it (integrations/metrics.py),
summed across a machine's processes in prometheus-client's multiprocess mode.

Access: a staff user's session, or `Authorization: Bearer <METRICS_TOKEN>` when that setting
is set (a scraper has no session). Anything else is a 403.
"""

import hmac
import os

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from integrations.models import CrmConnection

PUSH_OUTCOMES = ["succeeded", "failed", "retried", "skipped", "unchanged", "rate_limited"]
PULL_OUTCOMES = ["fetched", "created", "updated", "archived", "conflicts", "error_count"]


class SyncCollector:
    """Prometheus collector that reads the sync tables when scraped."""

    def collect(self):
        now = timezone.now()
        labels = {
            row["pk"]: (str(row["pk"]), row["kind"], row["organization__slug"])
            for row in CrmConnection.objects.values("pk", "kind", "organization__slug")
        }
        depth = GaugeMetricFamily(
            "crm_sync_queue_depth",
            "Contacts waiting (queued) or being pushed (processing), per connection.",
            labels=["connection", "crm", "organization", "state"],
        )
        oldest = GaugeMetricFamily(
            "crm_sync_oldest_queued_age_seconds",
            "Age of the oldest contact queued for push, per connection (0 when none is).",
            labels=["connection", "crm", "organization"],
        )
        active = (
            ContactSyncState.objects.filter(
                processing_status__in=[ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING]
            )
            .order_by()
            .values("connection_id", "processing_status")
            .annotate(n=Count("*"), first=Min("queued_at"))
        )
        seen = {}
        for row in active:
            if row["connection_id"] not in labels:
                continue
            depth.add_metric([*labels[row["connection_id"]], row["processing_status"].lower()], row["n"])
            if row["processing_status"] == ProcessingStatus.QUEUED and row["first"] is not None:
                seen[row["connection_id"]] = max((now - row["first"]).total_seconds(), 0.0)
        for pk, names in labels.items():
            oldest.add_metric(list(names), seen.get(pk, 0.0))
        yield depth
        yield oldest

        failed = GaugeMetricFamily(
            "crm_sync_failed_contacts",
            "Contacts whose last push failed (sync status Error), per CRM and error category.",
            labels=["crm", "category"],
        )
        rows = (
            ContactSyncState.objects.filter(sync_status=SyncStatus.ERROR)
            .order_by()
            .values("connection__kind", "error_category")
            .annotate(n=Count("*"))
        )
        for row in rows:
            failed.add_metric([row["connection__kind"], row["error_category"] or "unknown"], row["n"])
        yield failed

        pushed = CounterMetricFamily(
            "crm_sync_pushed_contacts",
            "Contacts handled by push runs, per CRM and outcome (from the SyncRun history).",
            labels=["crm", "outcome"],
        )
        pulled = CounterMetricFamily(
            "crm_sync_pulled_records",
            "Records handled by pull runs, per CRM and outcome (from the SyncRun history).",
            labels=["crm", "outcome"],
        )
        runs = CounterMetricFamily(
            "crm_sync_runs",
            "Push batches and pull runs, per CRM, direction and outcome.",
            labels=["crm", "direction", "outcome"],
        )
        sums = {name: Sum(name) for name in {*PUSH_OUTCOMES, *PULL_OUTCOMES}}
        totals = (
            SyncRun.objects.order_by()
            .values("connection__kind", "direction", "outcome")
            .annotate(n=Count("*"), **sums)
        )
        for row in totals:
            kind, direction = row["connection__kind"], row["direction"]
            runs.add_metric([kind, direction, row["outcome"]], row["n"])
            family, outcomes = (
                (pushed, PUSH_OUTCOMES) if direction == SyncRun.Direction.PUSH else (pulled, PULL_OUTCOMES)
            )
            for outcome in outcomes:
                name = "errors" if outcome == "error_count" else outcome
                family.add_metric([kind, name], row[outcome] or 0)
        yield pushed
        yield pulled
        yield runs


def _process_metrics() -> bytes:
    """This process's metrics, or every process's of the machine in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _allowed(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


@require_GET
def metrics_view(request):
    if not _allowed(request):
        return HttpResponse(
            "Forbidden: sign in as staff, or send Authorization: Bearer <METRICS_TOKEN>.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    body = _process_metrics() + generate_latest(registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
