"""Receivers that turn other apps' signals into webhook events (see events.py for the rules)."""

import logging

from webhooks.events import event_emit, ids_block
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
