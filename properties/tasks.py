"""Celery tasks of the properties app: thin, ids in, one service call."""

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="properties.sync_definitions",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def sync_definitions(self, run_ids: list[int] | None = None) -> dict:
    """Run the queued runs `run_ids` (admin action); from beat, without ids, the daily sync of all."""
    from properties.sync_requests import property_sync_run_pending, property_sync_scheduled

    if run_ids:
        outcomes = property_sync_run_pending(run_ids=run_ids)
        return {"runs": len(outcomes)}
    return property_sync_scheduled()
