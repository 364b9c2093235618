"""Celery tasks of the webhooks app: thin wrappers (routed to the maintenance queue)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="webhooks.deliver_due",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=3,
)
def deliver_due() -> dict:
    """Send due deliveries (nudged by every event; beat runs it for retries and resumes)."""
    from webhooks.delivery import deliveries_send_due

    return deliveries_send_due()
