from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a worker ran the heartbeat task, by token.

    Beat sends the heartbeat to every queue (crm_sync/schedules.py); the worker that takes it
    records one row per (queue, worker), token "<queue>@<worker>". A fresh row proves beat is
    sending and that queue has a live consumer. Other tokens come from tests and manual pings.
    """

    token = models.CharField(max_length=255, unique=True)
    queue = models.CharField(max_length=64, blank=True, default="", db_default="")
    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["queue", "hostname"]

    def __str__(self) -> str:
        return f"{self.token} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
