"""Clear a source's pulled records (the seed's cache/clear): its RemoteRecords and pull cursors.

Local contacts are never touched, nor their sync states: the next pull of the source starts
from scratch (no cursor) and matches the CRM's contacts to them again by remote id and email.

A pull running while a clear asks: the clear is refused (409 `pull_running`, naming the run),
because the pull would keep writing records and save its cursor over the reset one. To
make the check race-free, the clear holds the pull slots itself: inside its transaction it
inserts a `running` pull run for each object type of the source (the constraint that allows
one running pull per source refuses it when a pull runs) and deletes them before committing.
A pull that starts meanwhile waits on that constraint until the clear commits, then starts
from the reset cursor; nothing of the clear is visible to anyone else before that.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import InvalidInput
from crm_sync.models import PullCursor, RemoteRecord, SyncRun
from crm_sync.services.pull import PullAlreadyRunning, runs_stale_close
from crm_sync.sources import Source


def _object_types(source: Source) -> list[str]:
    types = set(source.object_types)
    types |= set(
        PullCursor.objects.filter(connection=source.connection).values_list("object_type", flat=True)
    )
    return sorted(types)


@transaction.atomic
def records_clear(*, organization, sources: list[Source], actor: Actor) -> dict[str, dict]:
    """Clear every source in `sources` (all or none); {source key: {"records", "cursors"}}.

    `local` is refused (400): local contacts are the organization's own data, not a cache.
    """
    if any(s.is_local for s in sources) and len(sources) == 1:
        raise InvalidInput(
            "Local contacts are not a cache and are never cleared.",
            code="local_not_clearable",
            details={"source": "local"},
        )
    now = timezone.now()
    cleared = {}
    for source in sources:
        if source.is_local:
            continue
        connection = source.connection
        types = _object_types(source)
        runs_stale_close(connection=connection, object_types=types, now=now)
        try:
            with transaction.atomic():
                holds = [
                    SyncRun.objects.create(
                        connection=connection,
                        direction=SyncRun.Direction.PULL,
                        object_type=object_type,
                        outcome=SyncRun.Outcome.RUNNING,
                        worker="cache-clear",
                        started_at=now,
                        heartbeat_at=now,
                    )
                    for object_type in types
                ]
        except IntegrityError:
            running = list(
                SyncRun.objects.filter(
                    connection=connection, object_type__in=types, outcome=SyncRun.Outcome.RUNNING
                )
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            raise PullAlreadyRunning(
                f"A pull from {source.key} is running; clear it once the pull has finished.",
                code="pull_running",
                details={"source": source.key, "run": running[0] if running else None, "runs": running},
            ) from None
        records, _ = RemoteRecord.objects.filter(connection=connection).delete()
        cursors, _ = PullCursor.objects.filter(connection=connection).delete()
        SyncRun.objects.filter(pk__in=[h.pk for h in holds]).delete()
        cleared[source.key] = {"records": records, "cursors": cursors}
        audit_record(
            organization=organization,
            actor=actor,
            action="crm_data.cache_cleared",
            object_type="crm_connection",
            object_id=connection.pk,
            changes={"source": source.key, "records_deleted": records, "cursors_reset": cursors},
        )
    return cleared
