from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a worker ran the heartbeat task, by token (the beat schedule uses "beat")."""

    token = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.token} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
