"""Signals the sync engine sends so other apps (webhooks) can follow it without crm_sync importing them.

Both are sent after the transaction that wrote the outcome commits (never for a rolled-back
one), once per batch or page, never once per contact:

- `contacts_pushed`: a push batch was recorded. Arguments: `connection`, `synced_ids` (contacts
  the CRM accepted) and `failed_ids` (contacts that ended in Error; a retry to come is not final).
- `conflicts_opened`: a pull page opened conflicts or added fields to open ones. Arguments:
  `connection`, `conflicts` ([{"id", "contact_id", "fields"}]).
"""

from django.db import transaction
from django.dispatch import Signal

contacts_pushed = Signal()
conflicts_opened = Signal()


def send_on_commit(signal: Signal, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send_robust(sender=None, **kwargs))
