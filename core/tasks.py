"""Maintenance tasks that belong to no app."""

from celery import shared_task


@shared_task(name="core.heartbeat")
def heartbeat(token: str) -> str:
    """Record that a worker took a message off the broker; /healthz and tests read it."""
    from core.services import heartbeat_record

    heartbeat_record(token=token)
    return token
