"""Emitting events: one delivery row per subscribed subscription, written after the commit.

Events come from signals sent after commit (signals.py): contacts' `contacts_changed` and the
sync engine's `contacts_pushed` / `conflicts_opened` (crm_sync/outcome_signals.py), so
neither app imports this one.

Cheap by rule: an event is emitted once per write, never once per row of a bulk write.
- contact.created / contact.updated: once per `contacts_changed` signal, which the contacts
  app sends once per write (one contact, or one batch of an import, bulk update or pull page);
  `data.contact_ids` lists the contacts (at most EVENT_IDS_MAX, `count` is the full number).
- contact.synced / contact.failed: once per push batch (up to the connector's batch size,
  100 at most): the contacts the CRM accepted, and those that ended in Error (a failure that
  will be retried is not an event: it is not final).
- conflict.created: once per pull page that opened conflicts, listing them.
Bulk status changes made without a push (queue-all, retry-all, reaping) emit nothing: they
do not change what a contact holds or where it stands in a CRM for good.

An organization without subscriptions costs no query per event (a cached flag says so).
"""

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)
EVENT_IDS_MAX = 1000


def ids_block(ids: list) -> dict[str, Any]:
    values = [str(i) for i in ids]
    return {
        "contact_ids": values[:EVENT_IDS_MAX],
        "count": len(values),
        "truncated": len(values) > EVENT_IDS_MAX,
    }


def deliveries_nudge() -> None:
    from webhooks.tasks import deliver_due

    transaction.on_commit(lambda: deliver_due.apply_async(), robust=True)


SUBSCRIPTIONS_FLAG = "webhook_subscriptions"


def organization_has_subscriptions(*, organization_id: int) -> bool:
    """Whether the organization has any subscription (paused ones too). Cached
    (core/org_flags.py): an organization without any, most of them, costs no query per event.
    A saved or deleted subscription forgets it (webhooks/apps.py)."""
    from core.org_flags import org_flag

    return org_flag(
        SUBSCRIPTIONS_FLAG,
        organization_id,
        lambda: WebhookSubscription.objects.filter(organization_id=organization_id).exists(),
    )


def events_emit(*, organization_id: int, events: list[tuple[str, dict[str, Any]]]) -> int:
    """Queue each (event, data) for every subscription of the organization to it; return the
    deliveries queued. One query finds the subscriptions, one INSERT writes the deliveries.

    Paused subscriptions get the delivery too: it waits for their resume.
    """
    events = [(event, data) for event, data in events if data is not None]
    if not events or not organization_has_subscriptions(organization_id=organization_id):
        return 0
    subscriptions = list(
        WebhookSubscription.objects.filter(organization_id=organization_id).values_list("pk", "events")
    )
    now = timezone.now()
    rows = []
    for event, data in events:
        targets = [pk for pk, subscribed in subscriptions if event in (subscribed or [])]
        if not targets:
            continue
        event_id = uuid.uuid4()
        payload = {"id": str(event_id), "type": event, "created_at": now.isoformat(), "data": data}
        rows += [
            WebhookDelivery(
                subscription_id=pk, event=event, event_id=event_id, payload=payload, next_attempt_at=now
            )
            for pk in targets
        ]
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows)
    deliveries_nudge()
    return len(rows)


def event_emit(*, organization_id: int, event: str, data: dict[str, Any]) -> int:
    return events_emit(organization_id=organization_id, events=[(event, data)])
