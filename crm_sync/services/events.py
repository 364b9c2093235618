"""The per-contact sync timeline: one row per push outcome and per pull that touched a contact.

Recorded set-based next to the write it describes (one INSERT a batch), swept by age.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.bulk import bulk_create_rows
from core.rows import instance_new
from crm_sync.models import ContactSyncEvent, ContactSyncState


def sync_events_record(*, states: list[ContactSyncState], connection, direction: str, now: datetime) -> None:
    """Record what just happened to each of `states` (as they now stand in memory)."""
    max_attempts = min(connection.max_retries, 32767)
    events = [
        instance_new(  # Model.__init__ skipped: a pulled page records up to 200 of these
            ContactSyncEvent,
            {
                "contact_id": state.contact_id,
                "connection_id": connection.pk,
                "direction": direction,
                "sync_status": state.sync_status,
                "http_status": state.http_status,
                "error_category": state.error_category,
                "error": (state.error or state.skip_reason)[:500],
                "attempt": min(state.retry_count, 32767),
                "max_attempts": max_attempts,
                "at": now,
            },
        )
        for state in states
        if state.contact_id is not None
    ]
    bulk_create_rows(ContactSyncEvent, events)


def sync_events_sweep(*, now: datetime | None = None) -> int:
    """Delete timeline rows older than the retention; return how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SYNC_EVENT_RETENTION_DAYS)
    deleted, _ = ContactSyncEvent.objects.filter(at__lt=cutoff).delete()
    return deleted
