"""The push queue: claim, release and reap rows of ContactSyncState.

This is the only module that locks queue rows. Invariants (STYLE §4.4): a contact is
held by at most one worker at a time; a claim is a short transaction; no HTTP call
happens while a lock is held; a dead worker's rows come back through the reaper.
"""

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact
from core.rows import RowLoader, native_timestamps
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus

logger = logging.getLogger(__name__)


def due_states(*, connection_id: int, now: datetime):
    """Queued rows of one connection whose time has come, in claim order."""
    return ContactSyncState.objects.filter(
        connection_id=connection_id, processing_status=ProcessingStatus.QUEUED, due_at__lte=now
    ).order_by("-priority", "due_at", "id")


def claim_batch(*, connection_id: int, limit: int, token: str, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` due rows of a connection for the worker holding `token`; return their ids."""
    claimed, orphans = claim_states(connection_id=connection_id, limit=limit, token=token, now=now)
    return [state.pk for state in claimed] + orphans


def claim_states(
    *,
    connection_id: int,
    limit: int,
    token: str,
    now: datetime | None = None,
    fields: Sequence[str] = (),
    contact_fields: Sequence[str] = (),
) -> tuple[list[ContactSyncState], list[int]]:
    """Claim up to `limit` due rows of a connection for the worker holding `token`.

    Return the claimed rows, in claim order, as instances holding `fields` (besides the
    primary key and contact_id) with their contact holding `contact_fields`, and the ids
    of claimed rows whose contact is gone (the reference is not a database constraint).

    The conditional UPDATE (still Queued) is what makes a claim exclusive on every
    backend: SQLite silently drops FOR UPDATE. On PostgreSQL, SKIP LOCKED also keeps
    concurrent workers from waiting on each other's candidate rows, and the pick, the
    update and the read of the rows and their contacts are one statement.
    """
    now = now or timezone.now()
    state_fields = ["pk", "contact_id", *(name for name in fields if name not in ("pk", "id", "contact_id"))]
    if db_connection.features.has_select_for_update_skip_locked:
        return _claim_states_returning(
            connection_id=connection_id,
            limit=limit,
            token=token,
            now=now,
            state_fields=state_fields,
            contact_fields=["pk", *(name for name in contact_fields if name not in ("pk", "id"))],
        )
    candidates = due_states(connection_id=connection_id, now=now)
    with transaction.atomic(durable=True):
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return [], []
        claimed = ContactSyncState.objects.filter(
            pk__in=ids, processing_status=ProcessingStatus.QUEUED
        ).update(**_claimed_values(token=token, now=now))
    if claimed < len(ids):
        # Another worker changed some candidates between the read and the update.
        held = ContactSyncState.objects.filter(
            pk__in=ids, claim_token=token, processing_status=ProcessingStatus.PROCESSING
        )
        held_ids = set(held.values_list("pk", flat=True))
        ids = [pk for pk in ids if pk in held_ids]
    rows = ContactSyncState.objects.filter(pk__in=ids).only(*state_fields)
    if contact_fields:
        # An inner join: a claimed row whose contact is gone does not come back.
        rows = rows.select_related("contact").only(*state_fields, *(f"contact__{n}" for n in contact_fields))
    loaded = {state.pk: state for state in rows}
    return [loaded[pk] for pk in ids if pk in loaded], [pk for pk in ids if pk not in loaded]


def _claimed_values(*, token: str, now: datetime) -> dict:
    return {
        "processing_status": ProcessingStatus.PROCESSING,
        "sync_status": SyncStatus.PROCESSING,
        "claim_token": token,
        "claimed_at": now,
        "requeue_requested": False,
    }


def _claim_states_returning(*, connection_id, limit, token, now, state_fields, contact_fields):
    states = RowLoader(ContactSyncState, state_fields, db=db_connection.alias, connection=db_connection)
    contacts = RowLoader(Contact, contact_fields, db=db_connection.alias, connection=db_connection)
    sql = _claim_sql(tuple(states.columns), tuple(contacts.columns))
    claimed = _claimed_values(token=token, now=now)
    params = [
        connection_id, ProcessingStatus.QUEUED, now, limit,
        *claimed.values(), ProcessingStatus.QUEUED,
    ]  # fmt: skip
    with transaction.atomic(durable=True), db_connection.cursor() as cursor:
        native_timestamps(cursor)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    split = len(states.columns)
    loaded, orphans = [], []
    for row in rows:
        state = states.load(row[:split])
        if row[split] is None:
            orphans.append(state.pk)
            continue
        if len(contacts.columns) > 1:
            state._state.fields_cache["contact"] = contacts.load(row[split:])
        loaded.append(state)
    return loaded, orphans


@functools.cache
def _claim_sql(state_columns: tuple[str, ...], contact_columns: tuple[str, ...]) -> str:
    """Pick (due_states' query, SKIP LOCKED), mark Processing and read back with the contacts.

    A data-modifying CTE returns the rows as updated; the outer SELECT joins their contacts
    (LEFT: a missing contact marks an orphan) and keeps claim order.
    """
    quote = db_connection.ops.quote_name
    column = {
        field.name: quote(field.column)
        for field in ContactSyncState._meta.concrete_fields
        if field.name in ("id", "contact", "connection", "processing_status", "priority", "due_at")
    }
    table = quote(ContactSyncState._meta.db_table)
    contact_table = quote(Contact._meta.db_table)
    contact_pk = quote(Contact._meta.pk.column)
    assignments = ", ".join(
        f"{quote(ContactSyncState._meta.get_field(name).column)} = %s"
        for name in _claimed_values(token="", now=None)
    )
    # The CTE's columns are numbered: the caller's columns may repeat the ones ordered on.
    returned = ", ".join(f"s.{quote(name)} AS v{index}" for index, name in enumerate(state_columns))
    selected = ", ".join(f"claimed.v{index}" for index in range(len(state_columns)))
    selected += "".join(f", c.{quote(name)}" for name in contact_columns)
    return (
        f"WITH picked AS ("  # noqa: S608 - identifiers from the models, values are parameters  # nosec B608
        f"SELECT {column['id']} FROM {table} WHERE {column['connection']} = %s"
        f" AND {column['processing_status']} = %s AND {column['due_at']} <= %s"
        f" ORDER BY {column['priority']} DESC, {column['due_at']}, {column['id']}"
        f" LIMIT %s FOR NO KEY UPDATE SKIP LOCKED"
        f"), claimed AS ("
        f"UPDATE {table} AS s SET {assignments} FROM picked WHERE s.{column['id']} = picked.{column['id']}"
        f" AND s.{column['processing_status']} = %s"
        f" RETURNING {returned}, s.{column['priority']} AS claim_priority,"
        f" s.{column['due_at']} AS claim_due_at, s.{column['id']} AS claim_id,"
        f" s.{column['contact']} AS claim_contact"
        f") SELECT {selected} FROM claimed"
        f" LEFT JOIN {contact_table} AS c ON c.{contact_pk} = claimed.claim_contact"
        f" ORDER BY claimed.claim_priority DESC, claimed.claim_due_at, claimed.claim_id"
    )


def release_claimed(*, token: str, ids: list[int] | None = None, due_at: datetime | None = None) -> int:
    """Return rows still held by `token` to Queued without counting an attempt.

    Used when a worker must stop before it knows an outcome (soft time limit, a rate
    limit hit before the call, a paused connection).
    """
    rows = ContactSyncState.objects.filter(claim_token=token, processing_status=ProcessingStatus.PROCESSING)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(
        processing_status=ProcessingStatus.QUEUED,
        sync_status=SyncStatus.QUEUED,
        claim_token=None,
        claimed_at=None,
        due_at=due_at or timezone.now(),
    )


def reap_stale(*, lease_seconds: float, now: datetime | None = None) -> dict[str, int]:
    """Return rows stuck in Processing longer than the lease to the queue.

    Each reclaim counts as an attempt, so a contact that kills its worker every time
    (a poison payload) ends in Error after the connection's max retries instead of
    looping forever; this is the loop guard `task_reject_on_worker_lost` needs.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds)
    stale = ContactSyncState.objects.filter(
        processing_status=ProcessingStatus.PROCESSING, claimed_at__lt=cutoff
    )
    return stale_claims_return(
        stale,
        now=now,
        what="contact",
        failed_fields={"sync_status": SyncStatus.ERROR},
        requeued_fields={"sync_status": SyncStatus.QUEUED},
    )


def stale_claims_return(
    stale, *, now: datetime, what: str, failed_fields: dict | None = None, requeued_fields: dict | None = None
) -> dict[str, int]:
    """Requeue a dead worker's claims (`stale`: a queryset of contact or record sync states),
    one connection at a time: a row past the connection's max retries goes to Error instead."""
    from integrations.models import CrmConnection

    connection_ids = list(stale.values_list("connection_id", flat=True).distinct())
    requeued = errored = 0
    for connection in CrmConnection.objects.filter(pk__in=connection_ids).only("pk", "max_retries"):
        rows = stale.filter(connection_id=connection.pk)
        with transaction.atomic():
            errored += rows.filter(retry_count__gte=max(connection.max_retries - 1, 0)).update(
                processing_status=ProcessingStatus.ERROR,
                error_category="worker_lost",
                error=f"The worker processing this {what} stopped; maximum retries reached.",
                retry_count=F("retry_count") + 1,
                last_retry_at=now,
                next_retry_at=None,
                claim_token=None,
                claimed_at=None,
                **(failed_fields or {}),
            )
            requeued += rows.update(
                processing_status=ProcessingStatus.QUEUED,
                retry_count=F("retry_count") + 1,
                last_retry_at=now,
                due_at=now,
                claim_token=None,
                claimed_at=None,
                **(requeued_fields or {}),
            )
    if requeued or errored:
        logger.warning(
            "Reaped stale %s claims: %d requeued, %d failed after max retries", what, requeued, errored
        )
    return {"requeued": requeued, "errored": errored}
