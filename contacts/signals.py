"""Signals other apps listen to without the contacts app importing them.

`contacts_changed` is sent after the transaction that changed contacts commits, never
before and never for a rolled-back write, with these keyword arguments:

- `organization`: the Organization the contacts belong to;
- `contact_ids`: list of the changed contacts' UUIDs;
- `fields`: list of the field names that changed (every set field for a new contact;
  `["registrations"]` when only a registration was added);
- `action`: "created", "updated" or "registered".

crm_sync connects to it to re-queue contacts for connections with auto-sync on.
"""

from django.db import transaction
from django.dispatch import Signal

contacts_changed = Signal()


def contacts_changed_on_commit(*, organization, contact_ids: list, fields: list[str], action: str) -> None:
    """Send `contacts_changed` once the current transaction commits (at once outside one)."""
    from contacts.models import Contact

    ids = list(contact_ids)
    changed = sorted(set(fields))

    def send() -> None:
        contacts_changed.send(
            sender=Contact, organization=organization, contact_ids=ids, fields=changed, action=action
        )

    transaction.on_commit(send)
