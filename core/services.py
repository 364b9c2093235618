import socket

from django.utils import timezone

from core.models import WorkerHeartbeat


def heartbeat_record(*, token: str = "", queue: str = "", hostname: str = "") -> WorkerHeartbeat:
    """Record a heartbeat; without a token it is the (queue, worker) pair's row."""
    hostname = (hostname or socket.gethostname())[:255]
    token = token or f"{queue}@{hostname}"
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        token=token[:255], defaults={"seen_at": timezone.now(), "hostname": hostname, "queue": queue[:64]}
    )
    return beat
