"""Manual retries of failed syncs (the seed's 3.1 and 3.2).

reset_retry_count=true starts from scratch: retry_count 0, due now. false keeps the
history: retry_count + 1, due after the backoff that count earns.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import InvalidInput
from crm_sync import connections
from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus
from crm_sync.services.queueing import _audit_many, _contact_get, _push_now
from crm_sync.services.retry import next_retry_time


def _retry_values(*, now: datetime, reset: bool, retry_count: int, connection) -> dict:
    values = {
        "sync_status": SyncStatus.QUEUED,
        "processing_status": ProcessingStatus.QUEUED,
        "priority": Priority.NORMAL,
        "queued_at": now,
        "updated_at": now,
        "claim_token": None,
        "claimed_at": None,
    }
    if reset:
        values.update(retry_count=0, next_retry_at=None, due_at=now)
    else:
        policy = connections.retry_policy(connection)
        at = next_retry_time(
            now=now, retry_count=retry_count, base=policy["retry_base"], cap=policy["retry_cap"]
        )
        values.update(retry_count=retry_count + 1, next_retry_at=at, due_at=at, last_retry_at=now)
    return values


def contact_retry(
    *, organization, contact_id: Any, crm: str, reset_retry_count: bool = False, actor: Actor
) -> ContactSyncState:
    connection = connections.organization_connection(organization=organization, crm=crm)
    contact = _contact_get(organization=organization, contact_id=contact_id)
    now = timezone.now()
    with transaction.atomic():
        state = (
            ContactSyncState.objects.select_for_update()
            .filter(contact=contact, connection=connection, sync_status=SyncStatus.ERROR)
            .exclude(processing_status=ProcessingStatus.PROCESSING)
            .first()
        )
        if state is None:
            raise InvalidInput(
                "Contact not in error state",
                code="not_in_error",
                details={"contact_id": str(contact.pk), "crm": crm},
            )
        values = _retry_values(
            now=now, reset=reset_retry_count, retry_count=state.retry_count, connection=connection
        )
        ContactSyncState.objects.filter(pk=state.pk).update(**values)
        audit_record(
            organization=organization,
            actor=actor,
            action="sync.retry",
            object_type="contact",
            object_id=str(contact.pk),
            changes={"crm": crm, "reset_retry_count": reset_retry_count},
        )
    state.refresh_from_db()
    return state


def contacts_retry_all(*, organization, crm: str, reset_retry_count: bool = True, actor: Actor) -> int:
    """Queue every failed contact of a CRM again; one UPDATE per distinct retry_count at most.

    With reset, one statement. Without, rows are grouped by their retry_count (a handful of
    values, bounded by max_retries) so each group gets the backoff its count earns.
    """
    connection = connections.organization_connection(organization=organization, crm=crm)
    now = timezone.now()
    failed = ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.ERROR).exclude(
        processing_status=ProcessingStatus.PROCESSING
    )
    with transaction.atomic():
        if reset_retry_count:
            count = failed.update(**_retry_values(now=now, reset=True, retry_count=0, connection=connection))
        else:
            count = 0
            for retry_count in sorted(set(failed.values_list("retry_count", flat=True))):
                values = _retry_values(now=now, reset=False, retry_count=retry_count, connection=connection)
                values["retry_count"] = F("retry_count") + 1
                count += failed.filter(retry_count=retry_count).update(**values)
        _audit_many(
            organization=organization,
            actor=actor,
            action="sync.retry_all",
            crm=crm,
            count=count,
            extra={"reset_retry_count": reset_retry_count},
        )
    return count


def contacts_retry_selected(*, contacts, reset_retry_count: bool, actor: Actor, states=None) -> int:
    """Queue the failed syncs of selected contacts (admin actions), in every CRM they failed in.

    Without reset the retry count is kept and the retry is due now (an operator asked for
    it); with reset the count starts again from 0. One UPDATE, one audit event per
    organization. `states` narrows it to some of their sync states (the sync-state admin).
    """
    from accounts.models import Organization

    now = timezone.now()
    failed = ContactSyncState.objects.filter(
        contact__in=contacts.order_by().values("pk"), sync_status=SyncStatus.ERROR
    )
    failed = failed.exclude(processing_status=ProcessingStatus.PROCESSING)
    if states is not None:
        failed = failed.filter(pk__in=states.values("pk"))
    organization_ids = list(failed.values_list("connection__organization_id", flat=True).distinct())
    values = {
        "sync_status": SyncStatus.QUEUED,
        "processing_status": ProcessingStatus.QUEUED,
        "next_retry_at": None,
        "due_at": now,
        "queued_at": now,
        "updated_at": now,
    }
    if reset_retry_count:
        values["retry_count"] = 0
    with transaction.atomic():
        count = failed.update(**values)
        for organization in Organization.objects.filter(pk__in=organization_ids):
            audit_record(
                organization=organization,
                actor=actor,
                action="sync.retry_selected",
                object_type="crm_sync",
                object_id="*",
                changes={"reset_retry_count": reset_retry_count},
            )
    return count


def _failed_rows(*, connection, category: str | None = None, message: str | None = None):
    rows = ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.ERROR).exclude(
        processing_status=ProcessingStatus.PROCESSING
    )
    if category is not None:
        rows = rows.filter(error_category="" if category == "unknown" else category)
    if message is not None:
        rows = rows.filter(error=message)
    return rows


def failure_group_retry(*, connection, category: str, message: str, actor: Actor) -> int:
    """Queue again, from a fresh retry budget, every failed contact of one dashboard failure group.

    A group is (connection, category, exact message): one UPDATE, one audit event.
    """
    now = timezone.now()
    with transaction.atomic():
        count = _failed_rows(connection=connection, category=category, message=message).update(
            **_retry_values(now=now, reset=True, retry_count=0, connection=connection)
        )
        _audit_many(
            organization=connection.organization,
            actor=actor,
            action="sync.retry_group",
            crm=connection.kind,
            count=count,
            extra={"category": category, "message": message[:300]},
        )
        if count:
            _push_now(connection.pk)
    return count


def auth_failures_count(*, connection) -> int:
    """How many contacts failed on authentication: what Resume offers to re-queue."""
    return _failed_rows(connection=connection, category="auth").count()


def connection_resume(*, connection, retry_auth_failures: bool, actor: Actor) -> tuple[bool, int]:
    """Resume a paused connection (after its credentials were fixed) and, when asked, queue again
    the contacts that failed on authentication while it was broken. Returns (resumed, re-queued)."""
    now = timezone.now()
    with transaction.atomic():
        resumed = connections.circuit_close(connection=connection, actor=actor)
        count = 0
        if retry_auth_failures:
            count = _failed_rows(connection=connection, category="auth").update(
                **_retry_values(now=now, reset=True, retry_count=0, connection=connection)
            )
            _audit_many(
                organization=connection.organization,
                actor=actor,
                action="sync.retry_auth_failures",
                crm=connection.kind,
                count=count,
                extra={},
            )
        if resumed or count:
            _push_now(connection.pk)
    return resumed, count
