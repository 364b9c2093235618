"""Set-based statements on ContactSyncState: one SQL statement whatever the row count.

Queue and retry operations touch thousands to millions of rows; each function here is a
single INSERT … SELECT or UPDATE … WHERE, never a loop of saves (DESIGN "Sync").
"""

from datetime import datetime

from django.db import connection as db_connection
from django.db.models import QuerySet

from contacts.models import Contact
from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus


def queued_values(*, now: datetime, priority: int, force: bool) -> dict:
    """The columns a (re)queued row gets: Queued, due now, retry fields reset (the seed's rule)."""
    values = {
        "sync_status": SyncStatus.QUEUED,
        "processing_status": ProcessingStatus.QUEUED,
        "priority": priority,
        "retry_count": 0,
        "next_retry_at": None,
        "error": "",
        "error_category": "",
        "skip_reason": "",
        "queued_at": now,
        "due_at": now,
        "updated_at": now,
    }
    if force:
        values["pushed_hash"] = ""
    return values


def states_requeue(
    *, states: QuerySet, now: datetime, priority: int = Priority.NORMAL, force: bool = False
) -> int:
    """Queue existing rows again; rows a worker holds are flagged to re-queue after its push.

    Taking a row from under a worker would let two workers push one contact at once, so a
    Processing row only gets `requeue_requested` and the worker re-queues it on write-back.
    """
    idle = states.exclude(processing_status=ProcessingStatus.PROCESSING)
    count = idle.update(**queued_values(now=now, priority=priority, force=force))
    flagged_values = {"requeue_requested": True}
    if force:
        flagged_values["pushed_hash"] = ""
    count += states.filter(processing_status=ProcessingStatus.PROCESSING).update(**flagged_values)
    return count


def states_insert_queued(
    *, contact_ids: QuerySet, connection_id: int, now: datetime, priority: int = Priority.NORMAL
) -> int:
    """INSERT … SELECT a Queued row for every contact in `contact_ids` that has none yet.

    `contact_ids` is a queryset of Contact `pk` values; it is compiled into the SELECT, so
    the ids never travel through Python. Existing rows are left alone (ON CONFLICT DO
    NOTHING), so concurrent queueing of one contact makes one row.
    """
    select_sql, select_params = contact_ids.query.sql_with_params()
    table = ContactSyncState._meta.db_table
    ops = db_connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    columns = [
        "contact_id",
        "connection_id",
        "sync_status",
        "processing_status",
        "priority",
        "retry_count",
        "queued_at",
        "due_at",
        "created_at",
        "updated_at",
    ]
    quoted = ", ".join(ops.quote_name(c) for c in columns)
    contact_table = ops.quote_name(Contact._meta.db_table)
    # Only quoted identifiers and the ORM's compiled SQL are interpolated; values are parameters.
    insert = f"INSERT INTO {ops.quote_name(table)} ({quoted}) "
    select = f"SELECT c.id, %s, %s, %s, %s, 0, %s, %s, %s, %s FROM {contact_table} AS c "  # noqa: S608
    sql = insert + select + f"WHERE c.id IN ({select_sql}) ON CONFLICT (contact_id, connection_id) DO NOTHING"
    params = (
        connection_id,
        SyncStatus.QUEUED.value,
        ProcessingStatus.QUEUED.value,
        int(priority),
        stamp,
        stamp,
        stamp,
        stamp,
        *select_params,
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
