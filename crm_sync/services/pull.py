"""Pull one object type from one connection: page by page from its cursor, each page durable.

    run = pull_run(connection_id=7, object_type="contacts")            # incremental
    run = pull_run(connection_id=7, object_type="contacts", backfill=True)  # from nothing

A run is a SyncRun created `running` (one per connection and object type: a database
constraint refuses a second) and finished with its counts. Each page is applied and the
cursor after it saved in ONE transaction, with the run's counts: a worker killed between
pages leaves the cursor at the last page applied, and the next run resumes right after it.
A backfill only starts from an empty cursor; the code path is the same.

A pass ends when the connector says nothing more is there; the watermark the next pass
starts from is the earlier of when this pass started and the newest modified time it read,
so a record changed while a pass walks is read again by the next, never missed.

A backfill pass that reads every page without leaving a record out (in one run, or in the
runs the pull task splits it into) then marks what the CRM did not return (deleted there; most
CRMs have no deletion feed) as archived, in the same transaction as the finish of the run that
ends the pass (pull_unseen.py). An incremental pull only sees changes and never does.

The connector's HTTP client is the push side's: one rate limiter, daily quota and circuit
per CRM account. A retriable failure (429, timeout, outage) is retried a few times from the
saved cursor; past that the run ends `rate_limited` or `failed` and the next one resumes.
"""

import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connections as db_connections
from django.utils import timezone

from accounts.actors import Actor
from core.errors import Conflict, InvalidInput, NotFound
from crm_sync import connections
from crm_sync.models import PullCursor, SyncRun
from crm_sync.services.pull_apply import (
    MAX_ISSUES_PER_RUN,
    PageTally,
    PullContext,
    contacts_announce,
    page_apply_contacts,
    page_apply_records,
)
from crm_sync.services.pull_unseen import pull_not_returned_mark
from integrations import registry
from integrations.connectors.base import Page
from integrations.errors import CrmAuthError, CrmError, CrmRateLimited, CrmTimeout, CrmUnavailable
from integrations.http import call_metering
from integrations.models import CrmConnection

logger = logging.getLogger(__name__)

RETRIABLE = (CrmRateLimited, CrmTimeout, CrmUnavailable)
RUN_COUNTS = ("fetched", "created", "updated", "unchanged", "archived", "conflicts", "error_count", "pages")


class PullAlreadyRunning(Conflict):
    pass


def connection_pull_types(*, connection: CrmConnection) -> tuple[str, ...]:
    """The object types a pull reads from `connection` (empty: its connector cannot pull)."""
    try:
        return registry.connector_for(connection).pull_object_types()
    except CrmError:
        return ()


def connection_pulls(connection: CrmConnection) -> bool:
    """Whether the connection's direction lets it pull (push-only ones never do)."""
    return getattr(connection, "sync_direction", "both") in ("pull", "both")


def _pull_refusal(connection: CrmConnection) -> tuple[str, str] | None:
    """Why this connection may not be pulled from now: (code, message), or None."""
    if not connection.enabled:
        return "crm_not_enabled", f"{connection} is disabled."
    if connection.is_circuit_open:
        return "crm_paused", f"{connection} is paused (circuit open): {connection.circuit_reason}"
    if not connection_pulls(connection):
        return "crm_push_only", f"{connection} is push-only (sync_direction=push)."
    return None


def _cursor_text(row: PullCursor) -> str:
    if row.cursor:
        return row.cursor
    return f"since={row.since.isoformat()}" if row.since else ""


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.SYNC_PULL_STALE_SECONDS)


def runs_stale_close(*, connection: CrmConnection, object_types, now: datetime) -> int:
    """Close the `running` runs of these object types whose worker stopped (no heartbeat for a while)."""
    return SyncRun.objects.filter(
        connection=connection,
        object_type__in=list(object_types),
        outcome=SyncRun.Outcome.RUNNING,
        heartbeat_at__lt=_stale_before(now),
    ).update(
        outcome=SyncRun.Outcome.ABANDONED,
        finished_at=now,
        errors=[{"code": "abandoned", "message": "No progress for a while: its worker stopped."}],
    )


def _running_ids(connection: CrmConnection, object_types) -> list[int]:
    return list(
        SyncRun.objects.filter(
            connection=connection, object_type__in=list(object_types), outcome=SyncRun.Outcome.RUNNING
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def pull_runs_reserve(*, connection: CrmConnection, object_types, worker: str = "") -> list[SyncRun]:
    """Create a `running` run for each object type now, for a task to adopt (pull_run's run_id).

    All or none: when a live pull of any of them runs, PullAlreadyRunning names the running
    runs and nothing is reserved. A reserved run nobody adopts (its task lost) goes stale like
    a run whose worker died, and the next start closes it.
    """
    refusal = _pull_refusal(connection)
    if refusal:
        raise Conflict(refusal[1], code=refusal[0], details={"connection": connection.pk})
    now = timezone.now()
    runs_stale_close(connection=connection, object_types=object_types, now=now)
    try:
        with transaction.atomic():
            runs = [
                SyncRun.objects.create(
                    connection=connection,
                    direction=SyncRun.Direction.PULL,
                    object_type=object_type,
                    outcome=SyncRun.Outcome.RUNNING,
                    worker=worker[:255],
                    started_at=now,
                    heartbeat_at=now,
                )
                for object_type in object_types
            ]
    except IntegrityError:
        running = _running_ids(connection, object_types)
        raise PullAlreadyRunning(
            "A pull from this connection is already running.",
            code="pull_running",
            details={"connection": connection.pk, "run": running[0] if running else None, "runs": running},
        ) from None
    return runs


def _run_adopt(
    *, connection: CrmConnection, object_type: str, run_id: int, worker: str, backfill: bool
) -> SyncRun:
    run = (
        SyncRun.objects.select_for_update()
        .filter(pk=run_id, connection=connection, object_type=object_type, direction=SyncRun.Direction.PULL)
        .first()
    )
    if run is None or run.outcome != SyncRun.Outcome.RUNNING:
        raise NotFound(f"Pull run {run_id} is gone or no longer running.", code="sync_run_not_found")
    run.worker = worker[:255] or run.worker
    run.backfill = run.backfill or backfill
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["worker", "backfill", "heartbeat_at"])
    return run


@transaction.atomic
def _run_start(
    *, connection: CrmConnection, object_type: str, backfill: bool, worker: str, run_id: int | None = None
) -> SyncRun:
    """Create the run `running` (or adopt the reserved `run_id`); a live one of the same source
    refuses, a dead one is closed first."""
    now = timezone.now()
    if run_id is not None:
        run = _run_adopt(
            connection=connection, object_type=object_type, run_id=run_id, worker=worker, backfill=backfill
        )
        return _cursor_prepare(run=run, connection=connection, object_type=object_type, backfill=backfill)
    runs_stale_close(connection=connection, object_types=[object_type], now=now)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connection=connection,
                direction=SyncRun.Direction.PULL,
                object_type=object_type,
                outcome=SyncRun.Outcome.RUNNING,
                backfill=backfill,
                worker=worker[:255],
                started_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        running = (
            SyncRun.objects.filter(
                connection=connection, object_type=object_type, outcome=SyncRun.Outcome.RUNNING
            )
            .values_list("pk", flat=True)
            .first()
        )
        raise PullAlreadyRunning(
            f"A pull of {object_type} from this connection is already running.",
            code="pull_running",
            details={"connection": connection.pk, "object_type": object_type, "run": running},
        ) from None
    return _cursor_prepare(run=run, connection=connection, object_type=object_type, backfill=backfill)


def _cursor_prepare(*, run: SyncRun, connection: CrmConnection, object_type: str, backfill: bool) -> SyncRun:
    cursor, _ = PullCursor.objects.select_for_update().get_or_create(
        connection=connection, object_type=object_type
    )
    if backfill:
        cursor.cursor, cursor.since = "", None
        _pass_forget(cursor)
        cursor.save()
    run.cursor_before = _cursor_text(cursor)
    run.save(update_fields=["cursor_before"])
    return run


def _page_commit(
    *, run: SyncRun, cursor: PullCursor, page: Page, ctx: PullContext, meter, pass_started: datetime
) -> PageTally:
    """Apply a page, move the cursor past it and add to the run's counts: all or nothing."""
    with transaction.atomic():
        ctx.now = timezone.now()
        if ctx.object_type == "contacts":
            tally = page_apply_contacts(records=page.records, ctx=ctx)
            contacts_announce(ctx=ctx)
        else:
            tally = page_apply_records(records=page.records, ctx=ctx)
        if not cursor.cursor:
            _pass_forget(cursor)
            cursor.pass_started_at, cursor.pass_backfill = pass_started, run.backfill
        if tally.newest and (cursor.pass_high_water is None or tally.newest > cursor.pass_high_water):
            cursor.pass_high_water = tally.newest
        cursor.pass_fetched += tally.fetched
        cursor.pass_issues += len(tally.issues)
        if page.next_cursor:
            cursor.cursor = page.next_cursor
        else:
            started = cursor.pass_started_at or pass_started
            high = cursor.pass_high_water
            if high is not None:
                cursor.since = min(started, high)
            if cursor.pass_backfill and cursor.pass_fetched and not cursor.pass_issues:
                ctx.complete_backfill_started_at = started
            cursor.cursor = ""
            _pass_forget(cursor)
            cursor.last_completed_at = ctx.now
        cursor.save()
        _tally_add(run, tally)
        run.calls, run.http_429s = meter.calls, meter.rate_limited
        run.cursor_after = _cursor_text(cursor)
        run.heartbeat_at = ctx.now
        run.save(update_fields=[*RUN_COUNTS, "errors", "calls", "http_429s", "cursor_after", "heartbeat_at"])
    return tally


def _pass_forget(cursor: PullCursor) -> None:
    cursor.pass_high_water, cursor.pass_started_at = None, None
    cursor.pass_backfill, cursor.pass_fetched, cursor.pass_issues = False, 0, 0


def _tally_add(run: SyncRun, tally: PageTally) -> None:
    run.pages += 1
    run.fetched += tally.fetched
    run.created += tally.created
    run.updated += tally.updated
    run.unchanged += tally.unchanged
    run.archived += tally.archived
    run.conflicts += tally.conflicts
    run.error_count += len(tally.issues)
    room = MAX_ISSUES_PER_RUN - len(run.errors)
    if room > 0:
        run.errors = [*run.errors, *(issue.as_dict() for issue in tally.issues[:room])]


def _run_error(run: SyncRun, error: BaseException) -> None:
    message = error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
    category = error.category if isinstance(error, CrmError) else "internal"
    run.error_count += 1
    if len(run.errors) < MAX_ISSUES_PER_RUN:
        run.errors = [*run.errors, {"code": str(category), "message": str(message)[:1000]}]


def _run_finish(run: SyncRun, *, outcome: str, meter=None) -> SyncRun:
    now = timezone.now()
    run.outcome = outcome
    run.finished_at = now
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    if meter is not None:
        run.calls, run.http_429s = meter.calls, meter.rate_limited
    run.save()
    return run


def _definitions(connection: CrmConnection) -> dict[str, dict]:
    from properties.models import ObjectType, PropertyDefinition

    return {
        row["name"]: row
        for row in PropertyDefinition.objects.filter(
            organization_id=connection.organization_id, object_type=ObjectType.CONTACTS
        ).values("name", "type", "field_type", "options")
    }


def _retry_wait(error: CrmError, attempt: int) -> float:
    wait = error.retry_after if error.retry_after else min(2**attempt, 30) * (0.5 + random.random() / 2)  # noqa: S311
    return min(wait, settings.SYNC_PULL_RETRY_MAX_WAIT_SECONDS)


def pull_run(
    *,
    connection_id: int,
    object_type: str,
    backfill: bool = False,
    worker: str = "",
    progress: Callable[[SyncRun, PageTally], None] | None = None,
    max_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    run_id: int | None = None,
) -> SyncRun:
    """Pull `object_type` from the connection; return the finished run.

    Raises NotFound for an unknown connection, Conflict for one disabled, paused or push-only,
    InvalidInput for an object type it cannot pull, PullAlreadyRunning when a live pull of the
    same source runs. CRM failures never
    raise: they end the run with the error recorded. Anything else (a bug, the worker's time
    limit) is recorded on the run, which is closed `failed`, and raised.
    `max_seconds`: stop after the page that passes it (outcome partial; the next run resumes).
    `run_id`: a run reserved by pull_runs_reserve (the sync API) to carry on; when the pull
    is refused, the reserved run is closed `failed` with the reason.
    """
    connection = CrmConnection.objects.select_related("organization").filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(f"There is no connection {connection_id}.", code="not_found")
    try:
        connector = _pull_check(connection, object_type)
    except (Conflict, InvalidInput) as exc:
        if run_id is not None:
            _reserved_refuse(run_id=run_id, error=exc)
        raise
    run = _run_start(
        connection=connection, object_type=object_type, backfill=backfill, worker=worker, run_id=run_id
    )
    label = f"pull:{connection.kind}:{connection.pk}"
    connector.field_mapping  # noqa: B018 - read here (a query), not in the read-ahead thread
    ctx = PullContext(
        connection=connection,
        object_type=object_type,
        field_mapping=dict(connector.field_mapping) if object_type == "contacts" else {},
        definitions=_definitions(connection) if object_type == "contacts" else {},
        now=timezone.now(),
        actor=Actor.system(label),
        linked_types=tuple(t for t in connection_pull_types(connection=connection) if t != "contacts")
        if object_type == "contacts"
        else (),
    )
    deadline = time.monotonic() + max_seconds if max_seconds else None
    with call_metering() as meter:
        try:
            outcome = _pull_pages(
                run=run,
                connector=connector,
                ctx=ctx,
                meter=meter,
                progress=progress,
                deadline=deadline,
                sleep=sleep,
            )
        except BaseException as exc:
            _run_error(run, exc)
            _run_finish(run, outcome=SyncRun.Outcome.FAILED, meter=meter)
            raise
    try:
        run = _run_close(
            run,
            outcome=outcome,
            meter=meter,
            actor=ctx.actor,
            backfill_started=ctx.complete_backfill_started_at,
        )
    except BaseException as exc:
        _run_error(run, exc)
        _run_finish(run, outcome=SyncRun.Outcome.FAILED, meter=meter)
        raise
    logger.info(
        "Pulled %s from connection %s: %s fetched, %s created, %s updated, %s errors (%s)",
        object_type, connection.pk, run.fetched, run.created, run.updated, run.error_count, run.outcome,
    )  # fmt: skip
    return run


@transaction.atomic
def _run_close(
    run: SyncRun, *, outcome: str, meter, actor: Actor, backfill_started: datetime | None
) -> SyncRun:
    """Finish the run; when it ended a backfill pass that read every page cleanly (begun by it or
    by the runs before it: `backfill_started` is that pass's start), first mark what the CRM did
    not return (pull_unseen.py), in the same transaction as the run's count of them."""
    run.outcome = outcome
    if backfill_started is not None:
        marked = pull_not_returned_mark(
            run=run, pass_started=backfill_started, actor=actor, now=timezone.now()
        )
        run.archived += marked
    return _run_finish(run, outcome=outcome, meter=meter)


def _prefetched(pages: Iterator[Page]) -> Iterator[Page]:
    """Yield `pages` while the next one is read in a background thread.

    The CRM call (and the wait for the rate limiter) overlaps the database work of the page
    before, so a pull goes as fast as the slower of the two, not their sum. Nothing changes
    for durability: a page is only applied, and its cursor saved, by the caller; a page read
    ahead and never applied is read again by the next run. A CRM error of the read-ahead
    surfaces when its page is asked for, after the page before it was committed.
    """
    context = contextvars.copy_context()  # the call meter travels to the reading thread

    def read() -> Page | None:
        return context.copy().run(next, pages, None)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull-read") as pool:
        try:
            future = pool.submit(read)
            while True:
                page = future.result()
                if page is None:
                    return
                if page.next_cursor:
                    future = pool.submit(read)
                yield page
                if not page.next_cursor:
                    return
        finally:
            with contextlib.suppress(RuntimeError):  # an interpreter shutting down refuses new work
                pool.submit(db_connections.close_all)  # the reading thread's own connection, if any


def _apply_pages(pages, *, run, cursor, ctx, meter, progress, deadline, pass_started) -> str:
    for page in pages:
        tally = _page_commit(
            run=run, cursor=cursor, page=page, ctx=ctx, meter=meter, pass_started=pass_started
        )
        if progress is not None:
            progress(run, tally)
        if not page.next_cursor:
            break
        if deadline is not None and time.monotonic() > deadline:
            return SyncRun.Outcome.PARTIAL
    return SyncRun.Outcome.PARTIAL if run.error_count else SyncRun.Outcome.SUCCESS


def _pull_check(connection: CrmConnection, object_type: str):
    """The connection's connector, when it may pull `object_type` now; Conflict or InvalidInput if not."""
    refusal = _pull_refusal(connection)
    if refusal:
        raise Conflict(refusal[1], code=refusal[0], details={"connection": connection.pk})
    connector = registry.connector_for(connection)
    types = connection_pull_types(connection=connection)
    if object_type not in types:
        raise InvalidInput(
            f"{connection} cannot pull {object_type!r}; it pulls {list(types) or 'nothing'}.",
            code="validation_error",
            details={"object_type": object_type, "valid": list(types)},
        )
    return connector


def _reserved_refuse(*, run_id: int, error: Conflict | InvalidInput) -> None:
    now = timezone.now()
    SyncRun.objects.filter(pk=run_id, outcome=SyncRun.Outcome.RUNNING).update(
        outcome=SyncRun.Outcome.FAILED,
        finished_at=now,
        error_count=1,
        errors=[{"code": error.code, "message": error.message[:1000]}],
    )


def _pull_pages(*, run, connector, ctx: PullContext, meter, progress, deadline, sleep) -> str:
    connection = ctx.connection
    attempts, pages_seen = 0, 0
    while True:
        cursor = PullCursor.objects.get(connection=connection, object_type=ctx.object_type)
        pass_started = timezone.now()
        try:
            pages = connector.pull(ctx.object_type, since=cursor.since, cursor=cursor.cursor or None)
            if settings.SYNC_PULL_PREFETCH:
                pages = _prefetched(pages)
            with contextlib.closing(pages):
                outcome = _apply_pages(
                    pages, run=run, cursor=cursor, ctx=ctx, meter=meter, progress=progress,
                    deadline=deadline, pass_started=pass_started,
                )  # fmt: skip
            return outcome
        except CrmAuthError as exc:
            _run_error(run, exc)
            connections.circuit_open(connection=connection, error=exc)
            return SyncRun.Outcome.FAILED
        except RETRIABLE as exc:
            if run.pages > pages_seen:  # progress since the last failure: a fresh budget
                attempts, pages_seen = 0, run.pages
            attempts += 1
            if attempts > settings.SYNC_PULL_PAGE_RETRIES:
                _run_error(run, exc)
                return (
                    SyncRun.Outcome.RATE_LIMITED
                    if isinstance(exc, CrmRateLimited)
                    else SyncRun.Outcome.FAILED
                )
            wait = _retry_wait(exc, attempts)
            logger.warning(
                "Pull of %s from %s: %s; retrying in %.1fs", ctx.object_type, connection.pk, exc, wait
            )
            sleep(wait)
        except CrmError as exc:
            _run_error(run, exc)
            return SyncRun.Outcome.FAILED


def pull_more_to_do(*, run: SyncRun) -> bool:
    """A run that stopped on its time budget mid-pass: the next task carries on from its cursor."""
    if run.outcome not in (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL):
        return False
    return (
        PullCursor.objects.filter(connection_id=run.connection_id, object_type=run.object_type)
        .exclude(cursor="")
        .exists()
    )


def pull_connection(
    *, connection_id: int, backfill: bool = False, worker: str = "", progress=None
) -> list[SyncRun]:
    """Pull every object type of a connection, contacts first (deals then link to them)."""
    connection = CrmConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(f"There is no connection {connection_id}.", code="not_found")
    return [
        pull_run(
            connection_id=connection_id, object_type=t, backfill=backfill, worker=worker, progress=progress
        )
        for t in connection_pull_types(connection=connection)
    ]
