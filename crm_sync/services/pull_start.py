"""Start pulls now (the CRM data API's sync-all and sync/{source}): reserve the runs, queue the tasks.

The runs are created `running` in the request (pull_runs_reserve), so the caller gets their
ids at once and a second start of the same source is a 409 naming them; the task that runs
each one adopts it by id once the transaction has committed.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import Conflict, InvalidInput
from crm_sync.models import SyncRun
from crm_sync.services.pull import PullAlreadyRunning, pull_runs_reserve
from crm_sync.sources import Source


@dataclass
class SourceStart:
    source: str
    status: str  # started | running | skipped
    runs: list[SyncRun] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    code: str = ""
    message: str = ""


def _enqueue(run: SyncRun) -> None:
    from crm_sync.tasks import pull_object_type

    pull_object_type.apply_async(
        kwargs={"connection_id": run.connection_id, "object_type": run.object_type, "run_id": run.pk},
        expires=settings.SYNC_PULL_TASK_MAX_SECONDS,
    )


@transaction.atomic
def source_pull_start(*, organization, source: Source, actor: Actor) -> list[SyncRun]:
    """Start a pull of every object type of one source: its runs, or 409 (running, disabled, ...)."""
    if source.is_local:
        raise InvalidInput(
            "Local contacts are not pulled from anywhere; name a connection.",
            code="source_not_pullable",
            details={"source": source.key},
        )
    runs = pull_runs_reserve(connection=source.connection, object_types=source.object_types, worker="api")
    audit_record(
        organization=organization,
        actor=actor,
        action="crm_data.sync_started",
        object_type="crm_connection",
        object_id=source.connection.pk,
        changes={"source": source.key, "runs": [run.pk for run in runs]},
    )
    for run in runs:
        transaction.on_commit(lambda run=run: _enqueue(run))
    return runs


def sources_pull_start(*, organization, sources: list[Source], actor: Actor) -> list[SourceStart]:
    """Start every pulling source that can start; say per source what happened (never all or none)."""
    outcomes = []
    for source in sources:
        if source.is_local:
            continue
        try:
            runs = source_pull_start(organization=organization, source=source, actor=actor)
        except PullAlreadyRunning as exc:
            outcomes.append(
                SourceStart(
                    source=source.key, status="running", running=exc.details.get("runs", []), code=exc.code,
                    message=exc.message,
                )
            )  # fmt: skip
        except Conflict as exc:
            outcomes.append(
                SourceStart(source=source.key, status="skipped", code=exc.code, message=exc.message)
            )
        else:
            outcomes.append(SourceStart(source=source.key, status="started", runs=runs))
    return outcomes
