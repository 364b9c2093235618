"""Maintenance tasks that belong to no app."""

from celery import shared_task


@shared_task(name="core.heartbeat", bind=True, ignore_result=True)
def heartbeat(self, token: str = "", queue: str = "") -> str:
    """Record that a worker took a message off the broker; /healthz and the admin read it.

    Beat sends it to each queue with `queue` set (crm_sync/schedules.py): the row then says
    which worker serves that queue, and that beat is alive.
    """
    from core.services import heartbeat_record

    return heartbeat_record(token=token, queue=queue, hostname=self.request.hostname or "").token
