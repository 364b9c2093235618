"""Receivers that turn other apps' signals into webhook events (see events.py for the rules)."""

import logging

from webhooks.events import EVENT_IDS_MAX, event_emit, events_emit, ids_block
from webhooks.models import Event

logger = logging.getLogger(__name__)


def on_contacts_changed(sender, *, organization, contact_ids, fields, action, **kwargs) -> None:
    """Sent after commit already, once per write: emit at once."""
    event = Event.CONTACT_CREATED if action == "created" else Event.CONTACT_UPDATED
    data = {**ids_block(contact_ids), "fields": list(fields)}
    if action == "registered":
        data["registered"] = True
    origin = kwargs.get("origin_connection_id")
    if origin is not None:
        data["origin_connection_id"] = origin
    try:
        event_emit(organization_id=organization.pk, event=event, data=data)
    except Exception:  # noqa: BLE001 - the contacts are saved; a lost event must not fail their write
        logger.exception("Could not queue webhook event %s", event)


def on_subscription_changed(sender, instance, **kwargs) -> None:
    """A subscription saved or deleted: the organization's cached "has subscriptions" goes."""
    from core.org_flags import org_flag_forget
    from webhooks.events import SUBSCRIPTIONS_FLAG

    org_flag_forget(SUBSCRIPTIONS_FLAG, instance.organization_id)


def _emit(connection, events) -> None:
    try:
        events_emit(organization_id=connection.organization_id, events=events)
    except Exception:  # noqa: BLE001 - the outcome is recorded; a lost event must not fail the sync
        logger.exception("Could not queue webhook events %s", [event for event, _ in events])


def on_contacts_pushed(sender, *, connection, synced_ids, failed_ids, **kwargs) -> None:
    """One contact.synced and one contact.failed per push batch."""
    base = {"connection_id": connection.pk, "crm": connection.kind}
    _emit(
        connection,
        [
            (event, {**base, **ids_block(ids)})
            for event, ids in ((Event.CONTACT_SYNCED, synced_ids), (Event.CONTACT_FAILED, failed_ids))
            if ids
        ],
    )


def on_conflicts_opened(sender, *, connection, conflicts, **kwargs) -> None:
    """One conflict.created per pull page, listing its conflicts."""
    data = {
        "connection_id": connection.pk,
        "crm": connection.kind,
        "conflicts": conflicts[:EVENT_IDS_MAX],
        "count": len(conflicts),
    }
    _emit(connection, [(Event.CONFLICT_CREATED, data)])
