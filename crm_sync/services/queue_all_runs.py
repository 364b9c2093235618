"""Queue-alls too big to write inside their request: decided and counted at once, written in chunks.

A queue-all that would queue more than SYNC_QUEUE_ALL_INLINE_MAX_ROWS contacts does not rewrite
their state rows in the request (a million rows and their index entries: 6 s to insert, 15 s to
re-queue, docs/benchmarks.md "bench/queue_all.py"). In the request's transaction it stores which
contacts it queues, in contact order, as QueueAllChunks of SYNC_QUEUE_ALL_CHUNK_ROWS ids (one
INSERT … SELECT of the same join the count reads), and answers their exact number. The task
crm_sync.queue_all_write then writes one chunk a transaction: the rows the push claims appear
chunk by chunk, and a chunk is deleted in the transaction that writes it, so a chunk is written
once whatever retries or second workers do. What a chunk skips is counted, never re-decided:
`not_written` is a contact queued by someone else after the request (it is in the queue anyway),
deleted, or left without an email meanwhile.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import F, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from contacts.models import Contact
from core.errors import Conflict
from crm_sync.models import ContactSyncState, Priority, QueueAllChunk, QueueAllRun
from crm_sync.services.statements import (
    _matched_sql,
    state_taken_conditions,
    states_insert_queued,
    states_requeue_matched,
)

# A run that no chunk write has moved for this long is taken for abandoned (its worker died or
# its message was lost) and started again by the push dispatcher.
STALLED_AFTER = timedelta(seconds=60)


def queue_all_unfinished_check(*, connection) -> None:
    """409 while a queue-all of this connection is still being written: its contacts are counted as
    queued already, and a second count would claim them again."""
    run = QueueAllRun.objects.filter(connection=connection, finished_at__isnull=True).first()
    if run is not None:
        raise _unfinished(run)


def _unfinished(run: QueueAllRun) -> Conflict:
    return Conflict(
        f"A queue-all of this CRM is still being written to the queue ({run.written + run.not_written:,} "
        f"of {run.total:,} contacts); queue again when it has finished.",
        code="queue_all_in_progress",
        details={"run": queue_all_run_summary(run)},
    )


def queue_all_run_summary(run: QueueAllRun) -> dict:
    return {
        "id": run.pk,
        "status": "written" if run.finished_at else "writing",
        "queued_count": run.total,
        "written_count": run.written,
        "not_written_count": run.not_written,
        "pending_count": run.pending,
        "requested_at": run.requested_at,
        "finished_at": run.finished_at,
    }


def queue_all_run_start(
    *, contacts, connection, now: datetime, priority: int, force: bool, not_synced: bool
) -> QueueAllRun:
    """Store the contacts a queue-all takes as chunks of a new run; its `total` is their number.

    Runs inside the caller's transaction, after its count: the run's total is the chunks' own
    count, never the estimate. Another unfinished run of the connection is refused with 409 (the
    database's partial unique constraint settles two requests at once).
    """
    try:
        with transaction.atomic():
            run = QueueAllRun.objects.create(
                connection=connection, requested_at=now, priority=priority, force=force, total=0
            )
    except IntegrityError:
        run = QueueAllRun.objects.filter(connection=connection, finished_at__isnull=True).first()
        raise _unfinished(run) if run else Conflict("Another queue-all started at the same time.")
    _chunks_insert(
        run_id=run.pk, contacts=contacts, connection_id=connection.pk, force=force, not_synced=not_synced
    )
    run.total = QueueAllChunk.objects.filter(run_id=run.pk).aggregate(n=Sum("size"))["n"] or 0
    # Nothing to write (all taken between the count and here): the run is finished at once.
    run.finished_at = None if run.total else now
    QueueAllRun.objects.filter(pk=run.pk).update(total=run.total, finished_at=run.finished_at)
    return run


def _chunks_insert(*, run_id: int, contacts, connection_id: int, force: bool, not_synced: bool) -> None:
    """One INSERT … SELECT: the matched contacts LEFT JOINed to their state row (as
    queue_candidates_count counts them), kept when queueing takes them (the conditions of
    states_requeue_matched, or no row yet), numbered in contact order separately for contacts
    with and without a row, and grouped by SYNC_QUEUE_ALL_CHUNK_ROWS into one array each."""
    matched_sql, matched_params = _matched_sql(contacts)
    ops = db_connection.ops
    states = ops.quote_name(ContactSyncState._meta.db_table)
    chunks = ops.quote_name(QueueAllChunk._meta.db_table)
    taken, taken_params = state_taken_conditions(state="s", force=force, not_synced=not_synced)
    if db_connection.vendor == "postgresql":
        ids = "array_agg(p.contact_id)"
    else:
        ids = "json_group_array(p.contact_id)"
    # Only quoted identifiers and the ORM's compiled SQL are interpolated; values are parameters.
    sql = (
        f"INSERT INTO {chunks} (run_id, has_state, size, contact_ids) "  # noqa: S608 - quoted identifiers and ORM-compiled SQL, values are parameters  # nosec B608
        f"SELECT %s, p.has_state, COUNT(*), {ids} FROM ("
        "SELECT c.c_id AS contact_id, s.id IS NOT NULL AS has_state, "
        "(ROW_NUMBER() OVER (PARTITION BY s.id IS NOT NULL ORDER BY c.c_id) - 1) / %s AS part "
        f"FROM ({matched_sql}) AS c LEFT JOIN {states} AS s "
        "ON s.contact_id = c.c_id AND s.connection_id = %s "
        f"WHERE c.c_email <> '' AND (s.id IS NULL OR ({' AND '.join(taken)}))"
        ") AS p GROUP BY p.has_state, p.part ORDER BY p.has_state, p.part"
    )
    params = (
        run_id,
        settings.SYNC_QUEUE_ALL_CHUNK_ROWS,
        *matched_params,
        connection_id,
        *taken_params,
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)


def _chunk_ids_sql(chunk_id: int) -> RawSQL:
    """The contact ids of one chunk, as a subquery (they never travel through Python)."""
    table = db_connection.ops.quote_name(QueueAllChunk._meta.db_table)
    if db_connection.vendor == "postgresql":
        sql = f"SELECT unnest(contact_ids) FROM {table} WHERE id = %s"  # noqa: S608 - a quoted identifier  # nosec B608
    else:
        sql = f"SELECT j.value FROM {table}, json_each({table}.contact_ids) AS j WHERE {table}.id = %s"  # noqa: S608 - a quoted identifier  # nosec B608
    return RawSQL(sql, (chunk_id,))  # noqa: S611 - a quoted identifier, the id is a parameter  # nosec B611


def queue_all_chunk_write(*, run_id: int, now: datetime | None = None) -> int | None:
    """Write the run's next chunk to the queue in one transaction; None when none is left.

    Returns how many rows it queued. The chunk is locked (SKIP LOCKED: two workers never take
    one chunk) and deleted in the transaction that writes it. Rows with a state are re-queued
    only if nobody queued them since the request (queued_before); rows without are inserted
    (ON CONFLICT for a row someone else added meanwhile). The run's counts move in the same
    transaction, and the last chunk finishes the run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        run = QueueAllRun.objects.filter(pk=run_id, finished_at__isnull=True).first()
        if run is None:
            return None
        chunk = (
            QueueAllChunk.objects.select_for_update(skip_locked=True)
            .filter(run_id=run_id)
            .order_by("pk")
            .only("pk", "has_state", "size")
            .first()
        )
        if chunk is None:
            _finish_if_done(run_id=run_id, now=now)
            return None
        contacts = Contact.objects.filter(pk__in=_chunk_ids_sql(chunk.pk))
        if chunk.has_state:
            written = states_requeue_matched(
                contacts=contacts,
                connection_id=run.connection_id,
                now=now,
                priority=run.priority,
                force=run.force,
                queued_before=run.requested_at,
            )
        else:
            written = states_insert_queued(
                contact_ids=contacts.exclude(email="").values("pk"),
                connection_id=run.connection_id,
                now=now,
                priority=run.priority,
                mostly_new=True,
            )
        QueueAllChunk.objects.filter(pk=chunk.pk).delete()
        QueueAllRun.objects.filter(pk=run_id).update(
            written=F("written") + written,
            not_written=F("not_written") + max(chunk.size - written, 0),
            updated_at=now,
        )
        _finish_if_done(run_id=run_id, now=now)
        if run.priority == Priority.HIGH and written:
            from crm_sync.services.queueing import _push_now

            _push_now(run.connection_id)
    return written


def _finish_if_done(*, run_id: int, now: datetime) -> None:
    if not QueueAllChunk.objects.filter(run_id=run_id).exists():
        unfinished = QueueAllRun.objects.filter(pk=run_id, finished_at__isnull=True)
        unfinished.update(finished_at=now, updated_at=now)


def queue_all_run_write(*, run_id: int, max_seconds: float | None = None) -> tuple[int, bool]:
    """Write a run's chunks until none is left or `max_seconds` is spent: (rows queued, more left)."""
    started = time.monotonic()
    total = 0
    while True:
        written = queue_all_chunk_write(run_id=run_id)
        if written is None:
            return total, False
        total += written
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            return total, True


def queue_all_runs_to_resume(*, now: datetime | None = None) -> list[int]:
    """Unfinished runs nobody has moved for STALLED_AFTER (their task was lost or its worker died).

    Their updated_at moves to now, so each is started again at most once per STALLED_AFTER.
    """
    now = now or timezone.now()
    stalled = QueueAllRun.objects.filter(finished_at__isnull=True, updated_at__lt=now - STALLED_AFTER)
    run_ids = list(stalled.order_by("pk").values_list("pk", flat=True))
    if run_ids:
        QueueAllRun.objects.filter(pk__in=run_ids).update(updated_at=now)
    return run_ids
