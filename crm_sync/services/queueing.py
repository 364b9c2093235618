"""Queue contacts for a CRM: one, a list (up to SYNC_BULK_QUEUE_MAX_IDS), or all matching filters.

Every variant is set-based (STYLE §4.4): a count query, one UPDATE for existing rows and
one INSERT … SELECT for missing ones, whatever the number of contacts. Queueing resets
the retry fields. A dry run runs only the count and changes nothing.
"""

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from contacts.models import Contact, Registration
from core.errors import InvalidInput, NotFound
from crm_sync import connections
from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus
from crm_sync.services.statements import states_insert_queued, states_requeue, states_requeue_matched
from integrations.models import CrmConnection

ACTIVE_STATUSES = (SyncStatus.QUEUED, SyncStatus.PROCESSING)
# From this many contacts without a row, queue-all tries the plain INSERT first
# (states_insert_queued's mostly_new): below it, the savepoint's two round trips cost more.
MOSTLY_NEW_MIN_ROWS = 1000
PRIORITIES = {"normal": Priority.NORMAL, "high": Priority.HIGH}
SKIP_REASONS = {
    "not_found": "Contact not found",
    "no_email": "No email address",
    "already_queued": "Already queued",
    "unchanged": "Unchanged since its last successful sync",
}


def priority_parse(priority: str) -> int:
    if priority not in PRIORITIES:
        raise InvalidInput(
            f"Unknown priority {priority!r}; valid: normal, high.",
            code="invalid_priority",
            details={"priority": priority, "valid": list(PRIORITIES)},
        )
    return PRIORITIES[priority]


def _push_now(connection_id: int) -> None:
    """Start a push for the connection once the queueing commits (high priority).

    robust: the rows are queued and answered for; if the broker refuses the nudge, the push
    dispatcher's beat finds them due within seconds.
    """
    from crm_sync.tasks import push_batch as push_batch_task

    transaction.on_commit(lambda: push_batch_task.delay(connection_id=connection_id), robust=True)


def contact_queue(
    *, organization, contact_id: Any, crm: str, priority: str = "normal", force: bool = False, actor: Actor
) -> ContactSyncState:
    """Queue one contact for one CRM (the seed's 1.1). High priority starts a push at once."""
    rank = priority_parse(priority)
    connection = connections.organization_connection(organization=organization, crm=crm)
    contact = _contact_get(organization=organization, contact_id=contact_id)
    if not contact.email:
        raise InvalidInput(
            "Contact does not have email address", code="no_email", details={"contact_id": str(contact.pk)}
        )
    now = timezone.now()
    with transaction.atomic():
        states = ContactSyncState.objects.filter(contact=contact, connection=connection)
        if not states_requeue(states=states, now=now, priority=rank, force=force):
            states_insert_queued(
                contact_ids=Contact.objects.filter(pk=contact.pk).values("pk"),
                connection_id=connection.pk,
                now=now,
                priority=rank,
            )
        audit_record(
            organization=organization,
            actor=actor,
            action="sync.queue",
            object_type="contact",
            object_id=str(contact.pk),
            changes={"crm": crm, "priority": priority, "force": force},
        )
        if rank == Priority.HIGH:
            _push_now(connection.pk)
    return ContactSyncState.objects.select_related("connection").get(contact=contact, connection=connection)


def _contact_get(*, organization, contact_id: Any) -> Contact:
    try:
        key = uuid.UUID(str(contact_id))
    except (TypeError, ValueError):
        raise NotFound("Contact not found", code="contact_not_found")
    contact = (
        Contact.objects.filter(organization=organization, pk=key).only("id", "email", "updated_at").first()
    )
    if contact is None:
        raise NotFound("Contact not found", code="contact_not_found")
    return contact


def contacts_bulk_queue(
    *,
    organization,
    contact_ids: list,
    crm: str,
    priority: str = "normal",
    dry_run: bool = False,
    force: bool = False,
    actor: Actor,
) -> dict:
    """Queue a list of contacts; each id that cannot be queued is reported with its reason.

    Four queries whatever the list length: contacts, their states, one UPDATE, one INSERT.
    """
    rank = priority_parse(priority)
    limit = settings.SYNC_BULK_QUEUE_MAX_IDS
    if len(contact_ids) > limit:
        raise InvalidInput(
            f"At most {limit} contact ids per request; got {len(contact_ids)}.",
            code="too_many_ids",
            details={"max": limit, "received": len(contact_ids)},
        )
    connection = connections.organization_connection(organization=organization, crm=crm)
    ids = list(dict.fromkeys(_id_normalize(i) for i in contact_ids))
    valid_ids = [i for i in ids if _is_uuid(i)]
    contacts = {
        str(pk): (email, updated_at)
        for pk, email, updated_at in Contact.objects.filter(
            organization=organization, pk__in=valid_ids
        ).values_list("pk", "email", "updated_at")
    }
    states = {
        str(contact_pk): (status, last_synced_at, pushed_hash)
        for contact_pk, status, last_synced_at, pushed_hash in ContactSyncState.objects.filter(
            connection=connection, contact_id__in=list(contacts)
        ).values_list("contact_id", "sync_status", "last_synced_at", "pushed_hash")
    }
    errors, eligible = [], []
    for contact_id in ids:
        reason = _bulk_reason(contact_id, contacts=contacts, states=states, force=force)
        if reason:
            errors.append({"contact_id": contact_id, "code": reason, "reason": SKIP_REASONS[reason]})
        else:
            eligible.append(contact_id)
    result = {
        "queued": len(eligible),
        "skipped": len(errors),
        "errors": errors,
        "dry_run": dry_run,
        "crm": crm,
    }
    if dry_run or not eligible:
        return result
    now = timezone.now()
    with transaction.atomic():
        existing = [i for i in eligible if i in states]
        missing = [i for i in eligible if i not in states]
        if existing:
            states_requeue(
                states=ContactSyncState.objects.filter(connection=connection, contact_id__in=existing),
                now=now,
                priority=rank,
                force=force,
            )
        if missing:
            states_insert_queued(
                contact_ids=Contact.objects.filter(pk__in=missing).values("pk"),
                connection_id=connection.pk,
                now=now,
                priority=rank,
            )
        _audit_many(
            organization=organization, actor=actor, action="sync.bulk_queue", crm=crm, count=len(eligible)
        )
        if rank == Priority.HIGH:
            _push_now(connection.pk)
    return result


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _id_normalize(value: Any) -> str:
    """The canonical text of a UUID (so case and dashes do not make two ids), else the input."""
    text = str(value)
    return str(uuid.UUID(text)) if _is_uuid(text) else text


def _bulk_reason(contact_id: str, *, contacts: dict, states: dict, force: bool) -> str | None:
    if contact_id not in contacts:
        return "not_found"
    email, updated_at = contacts[contact_id]
    if not email:
        return "no_email"
    state = states.get(contact_id)
    if state is None:
        return None
    status, last_synced_at, pushed_hash = state
    if status in ACTIVE_STATUSES:
        return "already_queued"
    if (
        not force
        and status == SyncStatus.COMPLETE
        and pushed_hash
        and last_synced_at
        and last_synced_at >= updated_at
    ):
        return "unchanged"
    return None


def _audit_many(
    *, organization, actor: Actor, action: str, crm: str, count: int, extra: dict | None = None
) -> None:
    """One audit event per bulk action (not one per row), naming the CRM and the count."""
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        object_type="crm_sync",
        object_id=crm,
        changes={"crm": crm, "count": count, **(extra or {})},
    )


def _queue_matched(
    *,
    matched,
    connection,
    now: datetime,
    priority: int,
    force: bool,
    not_synced: bool = False,
    counted: dict | None = None,
) -> int:
    """Queue every contact of `matched` that has an email, is not queued and (unless forced) changed.

    Two statements: an UPDATE … FROM of the rows that exist (states_requeue_matched), an INSERT …
    SELECT of those that do not. `not_synced` also leaves out contacts whose state is Complete.
    `counted` is queue_candidates_count's answer for the same contacts, taken in the caller's
    transaction: a statement it shows has nothing to do is not run (a re-queue of a million
    existing rows no longer probes the unique index once per contact for an INSERT that adds
    none). The count returned is the statements' own row counts, never the estimate. Callers run
    it inside their transaction.
    """
    matched = matched.order_by()
    updated = 0
    if counted is None or _with_row_to_queue(counted, force=force) > 0:
        updated = states_requeue_matched(
            contacts=matched,
            connection_id=connection.pk,
            now=now,
            priority=priority,
            force=force,
            not_synced=not_synced,
        )
    inserted = 0
    if counted is None or counted["missing"]:
        # Every contact the UPDATE skipped (queued, unchanged, Complete) has a row, and the
        # INSERT skips contacts with a row (ON CONFLICT), so it needs none of those filters.
        inserted = states_insert_queued(
            contact_ids=matched.exclude(email="").values("pk"),
            connection_id=connection.pk,
            now=now,
            priority=priority,
            mostly_new=counted is not None and counted["missing"] >= MOSTLY_NEW_MIN_ROWS,
        )
    return updated + inserted


def _with_row_to_queue(counted: dict, *, force: bool) -> int:
    """How many of the counted contacts have a state row that queueing would take."""
    with_row = counted["matched"] - counted["no_email"] - counted["missing"]
    return with_row - counted["already_queued"] - (0 if force else counted["unchanged"])


def contacts_queue_selected(
    *, organization, contacts, crm: str, priority: str = "normal", force: bool = False, actor: Actor
) -> int:
    """Queue a selection of contacts (an admin action's queryset) of one organization."""
    rank = priority_parse(priority)
    connection = connections.organization_connection(organization=organization, crm=crm)
    with transaction.atomic():
        count = _queue_matched(
            matched=contacts.filter(organization=organization).order_by(),
            connection=connection,
            now=timezone.now(),
            priority=rank,
            force=force,
        )
        _audit_many(
            organization=organization, actor=actor, action="sync.queue_selected", crm=crm, count=count
        )
        if rank == Priority.HIGH:
            _push_now(connection.pk)
    return count


def contacts_requeue_changed(
    *, organization, contact_ids: list, exclude_connection_id: int | None = None
) -> int:
    """Queue changed contacts again for every enabled auto-sync connection that has them.

    Only contacts already selected for a CRM (a state row exists) are re-queued; an
    unchanged payload is then completed by the pushed_hash check without a call.
    `exclude_connection_id` is the connection a pulled change came from.
    """
    if not contact_ids or not organization_auto_sync_any(organization_id=organization.pk):
        return 0
    auto = connections.pushable_connections().filter(organization=organization, auto_sync=True)
    if exclude_connection_id is not None:
        auto = auto.exclude(pk=exclude_connection_id)
    connection_ids = list(auto.values_list("pk", flat=True))
    if not connection_ids:
        return 0
    now = timezone.now()
    states = ContactSyncState.objects.filter(
        connection_id__in=connection_ids, contact_id__in=list(contact_ids)
    ).exclude(sync_status=SyncStatus.QUEUED, processing_status=ProcessingStatus.QUEUED)
    return states_requeue(states=states, now=now, priority=F("priority"))


def _rule_matches(connection) -> Q:
    """The contacts `connection`'s contact rule takes, as a filter on Contact (no query of its own)."""
    Rule = CrmConnection.ContactRule
    rule = connection.contact_rule
    if rule == Rule.TAG:
        return Q(tags__has=connection.contact_rule_tag)
    if rule == Rule.SUBTYPE:
        return Q(subtype=connection.contact_rule_subtype)
    if rule == Rule.EVENT_REGISTRANTS:
        events = CrmConnection.contact_rule_events.through.objects.filter(crmconnection_id=connection.pk)
        return Q(
            Exists(
                Registration.objects.filter(contact=OuterRef("pk"), event_id__in=events.values("event_id"))
            )
        )
    return Q()


def contacts_autoqueue_new(
    *, organization, contact_ids: list, exclude_connection_id: int | None = None
) -> int:
    """Queue contacts that no state row ties to a connection yet, for each auto-sync connection whose
    contact rule takes them (new contacts, and contacts that now match a rule).

    One query for the connections, then one INSERT … SELECT per connection whatever the
    number of contacts: the rule is a filter inside the SELECT, and contacts that already
    have a row (queued, synced, or deliberately left alone) are skipped by ON CONFLICT.
    Contacts without an email are left out, as every queueing path leaves them.
    `exclude_connection_id` is the connection a pulled change came from (no echo).
    """
    if not contact_ids or not organization_auto_sync_possible(organization_id=organization.pk):
        return 0
    auto = (
        connections.pushable_connections()
        .filter(organization=organization, auto_sync=True)
        .exclude(contact_rule=CrmConnection.ContactRule.SELECTED)
    )
    if exclude_connection_id is not None:
        auto = auto.exclude(pk=exclude_connection_id)
    auto_connections = list(auto.only("pk", "contact_rule", "contact_rule_tag", "contact_rule_subtype"))
    if not auto_connections:
        return 0
    now = timezone.now()
    candidates = Contact.objects.filter(organization=organization, pk__in=list(contact_ids)).exclude(email="")
    count = 0
    for connection in auto_connections:
        count += states_insert_queued(
            contact_ids=candidates.filter(_rule_matches(connection)).values("pk"),
            connection_id=connection.pk,
            now=now,
        )
    return count


AUTO_SYNC_FLAG = "auto_sync_connections"
AUTO_SYNC_ANY_FLAG = "auto_sync_any_connection"


def organization_auto_sync_any(*, organization_id: int) -> bool:
    """Whether the organization has any connection with auto-sync on (whatever its contact rule):
    without one, a changed contact is re-queued nowhere. Cached like the flag below."""
    from core.org_flags import org_flag

    return org_flag(
        AUTO_SYNC_ANY_FLAG,
        organization_id,
        lambda: CrmConnection.objects.filter(organization_id=organization_id, auto_sync=True).exists(),
    )


def organization_auto_sync_possible(*, organization_id: int) -> bool:
    """Whether the organization has any connection with auto-sync on and a contact rule other
    than "selected" (enabled, healthy or not): without one, a changed contact is queued nowhere
    and the connections query is skipped. Cached (core/org_flags.py); a saved or deleted
    connection forgets it (crm_sync/apps.py)."""
    from core.org_flags import org_flag

    return org_flag(
        AUTO_SYNC_FLAG,
        organization_id,
        lambda: (
            CrmConnection.objects.filter(organization_id=organization_id, auto_sync=True)
            .exclude(contact_rule=CrmConnection.ContactRule.SELECTED)
            .exists()
        ),
    )


def contact_queue_for_connection(*, contact_id, connection, force: bool = True) -> int:
    """Queue one contact for one given connection (a push-back after a pull or a resolved conflict).

    `force` clears the pushed hash: the CRM holds another value now, so a payload equal to
    the last one pushed must still be sent. A pull-only connection is never queued for (0).
    """
    if not connection.can_push:
        return 0
    now = timezone.now()
    with transaction.atomic():
        states = ContactSyncState.objects.filter(contact_id=contact_id, connection=connection)
        count = states_requeue(states=states, now=now, force=force)
        if not count:
            count = states_insert_queued(
                contact_ids=Contact.objects.filter(pk=contact_id).exclude(email="").values("pk"),
                connection_id=connection.pk,
                now=now,
            )
    return count
