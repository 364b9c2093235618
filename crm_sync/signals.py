"""Receivers of other apps' signals. Each only hands ids to a service."""

import logging

logger = logging.getLogger(__name__)


def on_contacts_changed(sender, *, organization, contact_ids, fields=(), action="updated", **kwargs) -> None:
    """Editing a synced contact queues it again for connections with auto_sync on.

    A new contact is not queued anywhere by itself: someone selects it for a CRM first.
    """
    if action == "created":
        return
    from crm_sync.services.queueing import contacts_requeue_changed

    count = contacts_requeue_changed(organization=organization, contact_ids=list(contact_ids))
    if count:
        logger.info("Re-queued %d contact sync state(s) after %s", count, action)
