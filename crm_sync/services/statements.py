"""Set-based statements on ContactSyncState: one SQL statement whatever the row count.

Queue and retry operations touch thousands to millions of rows; each function here is a
single INSERT … SELECT or UPDATE … WHERE, never a loop of saves (DESIGN "Sync").
"""

from datetime import datetime

from django.db import connection as db_connection
from django.db.models import QuerySet

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

    `contact_ids` is a queryset of Contact `pk` values; it is compiled into the statement, so
    the ids never travel through Python. Contacts that already have a row are skipped by ON
    CONFLICT DO NOTHING (one probe of the unique index each), which also makes concurrent
    queueing of one contact make one row; the SELECT need not read this table.

    How it is shaped for a million rows (docs/benchmarks.md "bench/queue_all.py"):
    - the ids are collected first (a MATERIALIZED CTE) and sorted, so the SELECT has finished
      before the first row is written: a plan that scans this table inside the SELECT can
      never rescan rows the INSERT is adding; and the unique (contact, connection) index is
      then filled in key order, page by page, instead of at random;
    - on PostgreSQL the contacts are locked FOR KEY SHARE as they are read (heap order),
      which is the lock the contact foreign-key check takes at COMMIT: taken here in one
      sequential pass, the million checks then find it already held and write nothing.
      Concurrent contact edits are not blocked (KEY SHARE conflicts only with DELETE and key
      changes); a contact deleted before the lock is simply not queued.
    """
    contact_ids = contact_ids.order_by()  # the ids are sorted below; and DISTINCT must not widen them
    select_sql, select_params = contact_ids.query.sql_with_params()
    table = ContactSyncState._meta.db_table
    ops = db_connection.ops
    postgres = db_connection.vendor == "postgresql"
    if postgres and _lockable(contact_ids):
        select_sql += f" FOR KEY SHARE OF {ops.quote_name(contact_ids.query.base_table)}"
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
    materialized = "MATERIALIZED " if postgres else ""
    # Only quoted identifiers and the ORM's compiled SQL are interpolated; values are parameters.
    # The WITH sits inside the INSERT (Python's sqlite3 gives a statement starting with WITH
    # no rowcount); "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON clause.
    sql = (
        f"INSERT INTO {ops.quote_name(table)} ({quoted}) "  # noqa: S608
        f"WITH picked (contact_id) AS {materialized}({select_sql}) "
        "SELECT p.contact_id, %s, %s, %s, %s, 0, %s, %s, %s, %s "
        "FROM (SELECT contact_id FROM picked ORDER BY contact_id) AS p "
        "WHERE true ON CONFLICT (contact_id, connection_id) DO NOTHING"
    )
    params = (
        *select_params,
        connection_id,
        SyncStatus.QUEUED.value,
        ProcessingStatus.QUEUED.value,
        int(priority),
        stamp,
        stamp,
        stamp,
        stamp,
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _lockable(queryset: QuerySet) -> bool:
    """True when FOR KEY SHARE may follow the queryset's SQL (PostgreSQL refuses it after
    DISTINCT, GROUP BY or a UNION)."""
    query = queryset.query
    return not (query.distinct or query.combinator or query.group_by is not None)
