"""Celery tasks of the sync engine: thin wrappers that take ids and call one service.

Task names are a wire contract (beat rows and queued messages refer to them): rename a
function freely, never its `name=`. CRM failures never reach Celery; they are recorded
on the rows. Autoretry covers only database blips around the claim.
"""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

INFRA_ERRORS = (OperationalError, InterfaceError)


@shared_task(name="crm_sync.dispatch_due_pushes", ignore_result=True)
def dispatch_due_pushes() -> dict:
    from django.utils import timezone

    from crm_sync.services.dispatch import pushes_dispatch_due
    from crm_sync.services.queue_all_runs import queue_all_runs_to_resume
    from crm_sync.services.record_push import record_states_due_connections

    # Record changes ride the same beat: one task per connection with due records.
    for connection_id in record_states_due_connections(now=timezone.now()):
        push_records.apply_async(kwargs={"connection_id": connection_id}, expires=60)
    # So does a big queue-all whose writing task was lost (queue_all_runs.py).
    for run_id in queue_all_runs_to_resume():
        queue_all_write.apply_async(kwargs={"run_id": run_id}, expires=60)
    return {str(k): v for k, v in pushes_dispatch_due().items()}


@shared_task(
    name="crm_sync.push_batch",
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=INFRA_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def push_batch(self, connection_id: int) -> int:
    """Push batches of one connection until nothing is due or the task's time budget is spent."""
    from django.conf import settings

    from crm_sync.services.push import push_connection_drain

    try:
        runs, budget_spent = push_connection_drain(
            connection_id=connection_id,
            max_seconds=settings.SYNC_PUSH_TASK_MAX_SECONDS,
            worker=self.request.hostname or "",
        )
    except SoftTimeLimitExceeded:
        return 0  # the claimed rows were released; the dispatcher starts a fresh task
    if budget_spent:
        push_batch.apply_async(kwargs={"connection_id": connection_id})
    return len(runs)


@shared_task(
    name="crm_sync.queue_all_write",
    acks_late=True,
    ignore_result=True,
    autoretry_for=INFRA_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def queue_all_write(run_id: int) -> int:
    """Write a big queue-all's chunks to the queue; hands the rest to a fresh task after a while."""
    from django.conf import settings

    from crm_sync.services.queue_all_runs import queue_all_run_write

    written, more = queue_all_run_write(run_id=run_id, max_seconds=settings.SYNC_PUSH_TASK_MAX_SECONDS)
    if more:
        queue_all_write.apply_async(kwargs={"run_id": run_id})
    return written


@shared_task(
    name="crm_sync.push_records",
    acks_late=True,
    ignore_result=True,
    autoretry_for=INFRA_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def push_records(connection_id: int) -> dict:
    """Push one batch of local record changes (projects, tasks...) of one connection."""
    from crm_sync.services.record_push import record_push_batch

    return record_push_batch(connection_id=connection_id)


@shared_task(
    name="crm_sync.reap_stale_processing", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=3
)
def reap_stale_processing() -> dict:
    from django.conf import settings

    from crm_sync.queue import reap_stale
    from crm_sync.services.record_push import record_states_reap

    reaped = reap_stale(lease_seconds=settings.SYNC_PROCESSING_LEASE_SECONDS)
    records = record_states_reap(lease_seconds=settings.SYNC_PROCESSING_LEASE_SECONDS)
    return {**reaped, "records_requeued": records["requeued"], "records_errored": records["errored"]}


@shared_task(
    name="crm_sync.sweep_orphan_states", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=3
)
def sweep_orphan_states() -> int:
    """Delete sync states whose contact is gone (the reference is not a database constraint)."""
    from crm_sync.services.statements import states_orphaned_delete

    return states_orphaned_delete()


@shared_task(
    name="crm_sync.dashboard_snapshot_refresh", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=1
)
def dashboard_snapshot_refresh() -> int:
    """Count every connection's contacts by status for the dashboard (seconds at a million rows)."""
    from crm_sync.dashboard import connection_snapshots_refresh
    from integrations.models import CrmConnection

    ids = list(CrmConnection.objects.values_list("pk", flat=True))
    return len(connection_snapshots_refresh(connection_ids=ids))


@shared_task(name="crm_sync.sweep_sync_events", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=3)
def sweep_sync_events() -> int:
    """Delete contact timeline rows past their retention (SYNC_EVENT_RETENTION_DAYS)."""
    from crm_sync.services.events import sync_events_sweep

    return sync_events_sweep()


@shared_task(name="crm_sync.pull_dispatch_due", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=3)
def pull_dispatch_due() -> dict:
    from crm_sync.services.pull_dispatch import pulls_dispatch_due

    return {str(k): v for k, v in pulls_dispatch_due().items()}


@shared_task(
    name="crm_sync.pull_object_type",
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=INFRA_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def pull_object_type(
    self, connection_id: int, object_type: str, backfill: bool = False, run_id: int | None = None
) -> int | None:
    """Pull one object type of one connection for up to SYNC_PULL_TASK_MAX_SECONDS; hand the rest on."""
    from django.conf import settings

    from core.errors import Conflict, InvalidInput, NotFound
    from crm_sync.services.pull import PullAlreadyRunning, pull_more_to_do, pull_run

    try:
        run = pull_run(
            connection_id=connection_id,
            object_type=object_type,
            backfill=backfill,
            worker=self.request.hostname or "",
            max_seconds=settings.SYNC_PULL_TASK_MAX_SECONDS,
            run_id=run_id,
        )
    except (PullAlreadyRunning, NotFound, InvalidInput, Conflict):
        return None  # another worker has it, the connection or its object type is gone, or it may not pull
    except SoftTimeLimitExceeded:
        return None  # the run was closed as failed; the cursor keeps the last page applied
    if pull_more_to_do(run=run):
        pull_object_type.apply_async(kwargs={"connection_id": connection_id, "object_type": object_type})
    return run.pk


@shared_task(name="crm_sync.evaluate_alerts", ignore_result=True, autoretry_for=INFRA_ERRORS, max_retries=3)
def evaluate_alerts() -> dict:
    from crm_sync.services.alerts import alerts_evaluate

    return alerts_evaluate()
