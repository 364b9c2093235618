"""Receivers of other apps' signals. Each only hands ids to a service."""

import logging

logger = logging.getLogger(__name__)


def on_contacts_changed(
    sender,
    *,
    organization,
    contact_ids,
    fields=(),
    action="updated",
    origin_connection_id: int | None = None,
    **kwargs,
) -> None:
    """A change queues the contacts for connections with auto_sync on.

    Contacts already tied to a connection are queued again; the others (a new contact, one
    that now has a tag, a subtype or a registration the rule asks for) are queued for each
    connection whose contact rule takes them. A change a pull brought
    (`origin_connection_id`) is not queued back to the connection it came from: that CRM
    holds it already, and queueing it there would be an echo.
    """
    from crm_sync.services.queueing import contacts_autoqueue_new, contacts_requeue_changed

    ids = list(contact_ids)
    skip = origin_connection_id
    requeued = (
        0
        if action == "created"
        else contacts_requeue_changed(organization=organization, contact_ids=ids, exclude_connection_id=skip)
    )
    added = contacts_autoqueue_new(organization=organization, contact_ids=ids, exclude_connection_id=skip)
    if requeued or added:
        logger.info(
            "Auto-sync queued %d contact sync state(s) again and %d new after %s", requeued, added, action
        )
