import socket

from django.utils import timezone

from core.models import WorkerHeartbeat


def heartbeat_record(*, token: str) -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        token=token, defaults={"seen_at": timezone.now(), "hostname": socket.gethostname()[:255]}
    )
    return beat
