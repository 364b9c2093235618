"""Reads for the admin pages: why an action skipped rows, a contact's sync timeline, connection columns."""

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.models import AuditEvent
from crm_sync.models import ContactSyncEvent, ContactSyncState, ProcessingStatus, SyncRun, SyncStatus

ACTIVE = [ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING]


def queue_skip_reasons(*, contacts, connection, force: bool) -> dict[str, int]:
    """Why contacts of a selection would not be queued for `connection`: one aggregate query.

    {"no email": n, "already queued or being pushed": n, "unchanged since the last sync": n};
    zero counts are left out.
    """
    active = ContactSyncState.objects.filter(
        connection=connection, contact=OuterRef("pk"), processing_status__in=ACTIVE
    )
    synced = ContactSyncState.objects.filter(
        connection=connection, contact=OuterRef("pk"), sync_status=SyncStatus.COMPLETE
    )
    counts = (
        contacts.order_by()
        .annotate(_active=Exists(active), _synced=Exists(synced))
        .aggregate(
            no_email=Count("pk", filter=Q(email="")),
            queued=Count("pk", filter=~Q(email="") & Q(_active=True)),
            unchanged=Count("pk", filter=~Q(email="") & Q(_active=False, _synced=True)),
        )
    )
    reasons = {
        "no email": counts["no_email"],
        "already queued or being pushed": counts["queued"],
        # Complete contacts are queued again only when they changed: an estimate of the rest.
        "unchanged since the last sync": 0 if force else counts["unchanged"],
    }
    return {reason: n for reason, n in reasons.items() if n}


def retry_skip_reasons(*, contacts) -> dict[str, int]:
    """Why selected contacts had nothing to retry: not failed anywhere, or being pushed right now."""
    counts = contacts.order_by().aggregate(
        failing=Count(
            "pk",
            filter=Q(sync_states__sync_status=SyncStatus.ERROR)
            & ~Q(sync_states__processing_status=ProcessingStatus.PROCESSING),
            distinct=True,
        ),
        total=Count("pk", distinct=True),
    )
    reasons = {"not failed in any CRM": counts["total"] - counts["failing"]}
    return {reason: n for reason, n in reasons.items() if n}


def contact_timeline(*, contact, limit: int = 100) -> list[dict]:
    """The contact's sync timeline, newest first: every push outcome and pull that touched it, per
    CRM (ContactSyncEvent), with the sync actions people took on it (its audit trail)."""
    events = [
        {
            "at": event.at,
            "crm": str(event.connection),
            "what": event.direction,
            "status": event.sync_status,
            "http_status": event.http_status,
            "attempt": f"attempt {event.attempt} of {event.max_attempts}" if event.error_category else "",
            "detail": f"[{event.error_category}] {event.error}" if event.error_category else event.error,
        }
        for event in ContactSyncEvent.objects.filter(contact=contact).select_related("connection")[:limit]
    ]
    audit = AuditEvent.objects.filter(
        organization_id=contact.organization_id,
        object_type="contact",
        object_id=str(contact.pk),
        action__startswith="sync",
    )[:limit]
    for event in audit:
        events.append(
            {
                "at": event.created_at,
                "crm": (event.changes or {}).get("crm", ""),
                "what": event.action,
                "status": "",
                "detail": f"by {event.actor_label or event.actor_type}",
            }
        )
    return sorted(events, key=lambda e: e["at"], reverse=True)[:limit]


def connection_list_annotations() -> dict:
    """Per connection: queued and failed counts (from the partial queue and errors indexes), the
    last sync run and the latest error, as subqueries (one query for the whole changelist)."""
    states = ContactSyncState.objects.filter(connection=OuterRef("pk")).order_by()

    def count(queryset):
        return Coalesce(
            Subquery(
                queryset.values("connection").annotate(n=Count("*")).values("n")[:1],
                output_field=IntegerField(),
            ),
            0,
        )

    return {
        "queued_count": count(states.filter(processing_status__in=ACTIVE)),
        "failed_count": count(states.filter(sync_status=SyncStatus.ERROR)),
        "last_sync_at": Subquery(
            SyncRun.objects.filter(connection=OuterRef("pk"), finished_at__isnull=False)
            .order_by("-finished_at")
            .values("finished_at")[:1]
        ),
        "last_error_text": Subquery(
            states.filter(sync_status=SyncStatus.ERROR).order_by("-last_retry_at").values("error")[:1]
        ),
    }
