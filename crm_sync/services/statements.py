"""Set-based statements on ContactSyncState: one SQL statement whatever the row count.

Queue and retry operations touch thousands to millions of rows; each function here is a
single INSERT … SELECT or UPDATE … WHERE, never a loop of saves (DESIGN "Sync").
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import Exists, F, OuterRef, QuerySet

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
    *,
    contact_ids: QuerySet,
    connection_id: int,
    now: datetime,
    priority: int = Priority.NORMAL,
    mostly_new: bool = False,
) -> int:
    """INSERT … SELECT a Queued row for every contact in `contact_ids` that has none yet.

    `contact_ids` is a queryset of Contact `pk` values; it is compiled into the statement, so
    the ids never travel through Python. Contacts that already have a row are skipped by ON
    CONFLICT DO NOTHING (one probe of the unique index each), which also makes concurrent
    queueing of one contact make one row; the SELECT need not read this table.

    `mostly_new` (a queue-all whose count found many contacts without a row) first tries a plain
    INSERT of the contacts that have no row (a NOT EXISTS inside the SELECT), in a savepoint:
    PostgreSQL's speculative insertion for ON CONFLICT costs ≈ 20 % of the backend's CPU per row
    (docs/benchmarks.md "bench/queue_all.py"). A row added meanwhile by another transaction makes
    it fail on the unique constraint; the savepoint is rolled back and the ON CONFLICT statement
    runs instead, so the outcome is the same either way: one row per contact, the count exact.

    How it is shaped for a million rows: the ids are collected first (a MATERIALIZED CTE) and
    sorted, so the SELECT has finished before the first row is written (a plan that scans this
    table inside the SELECT can never rescan rows the INSERT is adding), and the unique
    (contact, connection) index is filled in key order, page by page, instead of at random. The
    contact reference is not a database constraint (see ContactSyncState.contact), so no per-row
    check runs at COMMIT; a contact deleted while this runs leaves an orphan row that the push
    and the hourly sweep remove. The connection reference is checked once per statement
    (migration crm_sync 0013).
    """
    if mostly_new:
        try:
            with transaction.atomic():
                return _insert_queued(
                    contact_ids=contact_ids,
                    connection_id=connection_id,
                    now=now,
                    priority=priority,
                    on_conflict=False,
                )
        except IntegrityError:  # a row added meanwhile (or a duplicate id): the careful statement
            pass
    return _insert_queued(
        contact_ids=contact_ids, connection_id=connection_id, now=now, priority=priority, on_conflict=True
    )


def _insert_queued(
    *, contact_ids: QuerySet, connection_id: int, now: datetime, priority: int, on_conflict: bool
) -> int:
    contact_ids = contact_ids.order_by()  # sorted below; an ORDER BY here would only widen a DISTINCT
    select_sql, select_params = contact_ids.query.sql_with_params()
    table = ContactSyncState._meta.db_table
    ops = db_connection.ops
    postgres = db_connection.vendor == "postgresql"
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
    if on_conflict:
        picked = f"picked (contact_id) AS {materialized}({select_sql}) "
        tail = "WHERE true ON CONFLICT (contact_id, connection_id) DO NOTHING"
        picked_params = tuple(select_params)
    else:
        picked = (
            f"candidates (contact_id) AS ({select_sql}), "  # noqa: S608 - as below  # nosec B608
            f"picked (contact_id) AS {materialized}(SELECT c.contact_id FROM candidates AS c "
            f"WHERE NOT EXISTS (SELECT 1 FROM {ops.quote_name(table)} AS s "
            "WHERE s.contact_id = c.contact_id AND s.connection_id = %s)) "
        )
        tail = ""
        picked_params = (*select_params, connection_id)
    sql = (
        f"INSERT INTO {ops.quote_name(table)} ({quoted}) "  # noqa: S608 - quoted identifiers and ORM-compiled SQL, values are parameters  # nosec B608
        f"WITH {picked}"
        "SELECT p.contact_id, %s, %s, %s, %s, 0, %s, %s, %s, %s "
        f"FROM (SELECT contact_id FROM picked ORDER BY contact_id) AS p {tail}"
    )
    params = (
        *picked_params,
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


def states_orphaned_delete(*, state_ids=None) -> int:
    """Delete sync states whose contact no longer exists (all, or only among `state_ids`).

    The contact reference is not a database constraint (ContactSyncState.contact), so a
    contact removed outside Django's cascade leaves its states behind: one anti-join DELETE.
    """
    orphans = ContactSyncState.objects.filter(~Exists(Contact.objects.filter(pk=OuterRef("contact_id"))))
    if state_ids is not None:
        orphans = orphans.filter(pk__in=list(state_ids))
    deleted, _ = orphans.delete()
    return deleted


def _matched_sql(contacts: QuerySet) -> tuple[str, tuple]:
    """`contacts` compiled as a derived table c(c_id, c_email, c_updated_at), never matched back by id.

    Joining the states to this derived table reads the contacts once; `id IN (…)` would read them a
    second time to match the ids back (a hash semi-join of a million ids spilling to disk).
    """
    # Explicit aliases: SQLite names a subquery's "table"."column" columns by their text.
    sql, params = (
        contacts.order_by()
        .values(c_id=F("pk"), c_email=F("email"), c_updated_at=F("updated_at"))
        .query.sql_with_params()
    )
    return sql, tuple(params)


def queue_candidates_count(*, contacts: QuerySet, connection_id: int, not_synced: bool = False) -> dict:
    """What queueing `contacts` for the connection would do, in one pass: each contact LEFT JOINed
    to its state row (at most one: the unique (contact, connection) constraint).

    Returns matched (not_synced leaves out contacts whose state is Complete), no_email,
    already_queued (Queued or Processing), unchanged (Complete and not edited since the last push,
    with a pushed hash) and missing (an email and no state row yet: what the INSERT would add).
    One hash join instead of an EXISTS probe of the state table per contact and per count
    (docs/benchmarks.md "bench/queue_all.py": 4.7 s of a million-row re-queue).
    """
    matched_sql, matched_params = _matched_sql(contacts)
    ops = db_connection.ops
    table = ops.quote_name(ContactSyncState._meta.db_table)
    where = "WHERE (s.sync_status IS NULL OR s.sync_status <> %s) " if not_synced else ""
    # Only quoted identifiers and the ORM's compiled SQL are interpolated; values are parameters.
    sql = (
        "SELECT COUNT(*), "  # noqa: S608 - quoted identifiers and ORM-compiled SQL, values are parameters  # nosec B608
        "COUNT(CASE WHEN c.c_email = '' THEN 1 END), "
        "COUNT(CASE WHEN c.c_email <> '' AND s.sync_status IN (%s, %s) THEN 1 END), "
        "COUNT(CASE WHEN c.c_email <> '' AND s.sync_status = %s AND s.pushed_hash <> '' "
        "AND s.last_synced_at >= c.c_updated_at THEN 1 END), "
        "COUNT(CASE WHEN c.c_email <> '' AND s.id IS NULL THEN 1 END) "
        f"FROM ({matched_sql}) AS c LEFT JOIN {table} AS s "
        f"ON s.contact_id = c.c_id AND s.connection_id = %s {where}"
    )
    params = (
        SyncStatus.QUEUED.value,
        SyncStatus.PROCESSING.value,
        SyncStatus.COMPLETE.value,
        *matched_params,
        connection_id,
    )
    if not_synced:
        params += (SyncStatus.COMPLETE.value,)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        matched, no_email, already_queued, unchanged, missing = cursor.fetchone()
    return {
        "matched": matched,
        "no_email": no_email,
        "already_queued": already_queued,
        "unchanged": unchanged,
        "missing": missing,
    }


def state_taken_conditions(*, state: str, force: bool, not_synced: bool) -> tuple[list[str], list]:
    """SQL conditions on an existing state row (`state`: its table or alias, joined to the contacts
    as `c`) that queueing takes it: neither Queued nor Processing; `not_synced` leaves Complete
    rows alone; unless `force`, not Complete and unchanged since its last push. (conditions, params)
    """
    conditions = [f"{state}.sync_status NOT IN (%s, %s)"]
    params = [SyncStatus.QUEUED.value, SyncStatus.PROCESSING.value]
    if not_synced:
        conditions.append(f"{state}.sync_status <> %s")
        params.append(SyncStatus.COMPLETE.value)
    if not force:
        conditions.append(
            f"NOT ({state}.sync_status = %s AND {state}.pushed_hash <> '' "
            f"AND {state}.last_synced_at IS NOT NULL AND {state}.last_synced_at >= c.c_updated_at)"
        )
        params.append(SyncStatus.COMPLETE.value)
    return conditions, params


def states_requeue_matched(
    *,
    contacts: QuerySet,
    connection_id: int,
    now: datetime,
    priority: int,
    force: bool,
    not_synced: bool = False,
    queued_before: datetime | None = None,
) -> int:
    """Queue again the existing rows of `contacts` in the connection that queueing takes.

    Taken: the contact has an email, its row is neither Queued nor Processing, and (unless
    `force`) it is not Complete and unchanged since its last push; `not_synced` leaves Complete
    rows alone; `queued_before` leaves alone rows queued since then (a chunk of a queue-all written
    after its request: someone else has queued them meanwhile). Two UPDATE … FROM statements
    joined to the contacts once (no EXISTS probe of this table per row): idle rows get the queued
    values (queued_values), rows a worker holds only `requeue_requested` (states_requeue says why).
    The returned count is the two row counts.
    """
    matched_sql, matched_params = _matched_sql(contacts)
    ops = db_connection.ops
    table = ops.quote_name(ContactSyncState._meta.db_table)
    taken, taken_params = state_taken_conditions(state=table, force=force, not_synced=not_synced)
    conditions = [f"{table}.contact_id = c.c_id", f"{table}.connection_id = %s", "c.c_email <> ''", *taken]
    condition_params = [connection_id, *taken_params]
    if queued_before is not None:
        conditions.append(f"({table}.queued_at IS NULL OR {table}.queued_at < %s)")
        queued_at = ContactSyncState._meta.get_field("queued_at")
        condition_params.append(queued_at.get_db_prep_save(queued_before, db_connection))
    count = 0
    queued = queued_values(now=now, priority=priority, force=force)
    flagged = {"requeue_requested": True, **({"pushed_hash": ""} if force else {})}
    for values, held in ((queued, False), (flagged, True)):
        fields = [ContactSyncState._meta.get_field(name) for name in values]
        assignments = ", ".join(f"{ops.quote_name(f.column)} = %s" for f in fields)
        assignment_params = [f.get_db_prep_save(values[f.name], db_connection) for f in fields]
        processing = (
            f"{table}.processing_status = %s"
            if held
            else f"({table}.processing_status IS NULL OR {table}.processing_status <> %s)"
        )
        # Only quoted identifiers and the ORM's compiled SQL are interpolated; values are parameters.
        sql = (
            f"UPDATE {table} SET {assignments} FROM ({matched_sql}) AS c "  # noqa: S608 - quoted identifiers and ORM-compiled SQL, values are parameters  # nosec B608
            f"WHERE {' AND '.join(conditions)} AND {processing}"
        )
        params = (
            *assignment_params,
            *matched_params,
            *condition_params,
            ProcessingStatus.PROCESSING.value,
        )
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params)
            count += max(cursor.rowcount, 0)
    return count
