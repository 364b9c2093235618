"""What is pushed for a contact, its hash, and the capped, redacted record of an exchange."""

import hashlib
import json
from typing import Any

from django.conf import settings

from core.logging import redact_capped, redact_capped_many
from integrations.connectors.base import ContactPayload

# Local fields every push connector can map; custom properties are merged over them.
PUSHED_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "subtype",
    "status",
    "source",
)
# The contact columns a push needs (for .only()).
CONTACT_COLUMNS = ("id", "organization_id", "updated_at", "tags", "custom_properties", *PUSHED_FIELDS)


def contact_properties(contact) -> dict[str, Any]:
    properties: dict[str, Any] = {name: getattr(contact, name) for name in PUSHED_FIELDS if name != "email"}
    properties["tags"] = list(contact.tags or [])
    for key, value in (contact.custom_properties or {}).items():
        properties[key] = value
    return properties


def payload_hash(*, email: str, properties: dict[str, Any], field_mapping: dict | None) -> str:
    """A stable digest of everything that decides what the CRM receives.

    The connection's field mapping is part of it, so remapping a field re-pushes.
    """
    canonical = json.dumps(
        {"email": email or "", "properties": properties, "mapping": field_mapping or {}},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def contact_payload_build(*, contact, connection, remote_id: str = "") -> ContactPayload:
    properties = contact_properties(contact)
    digest = payload_hash(email=contact.email, properties=properties, field_mapping=connection.field_mapping)
    return ContactPayload(
        contact_id=str(contact.pk),
        email=contact.email or None,
        properties=properties,
        remote_id=remote_id or None,
        idempotency_key=digest,
    )


def exchange_capture(value: Any, *, secrets: tuple[str, ...] = ()) -> Any:
    """Redact a request or response body and cap its size for storing on the state row."""
    return redact_capped(value, secrets=secrets, max_chars=settings.SYNC_DEBUG_BODY_MAX_BYTES)


def exchanges_capture(values: list[Any], *, secrets: tuple[str, ...] = ()) -> list[Any]:
    """exchange_capture() of each value, scanned for secrets together."""
    return redact_capped_many(values, secrets=secrets, max_chars=settings.SYNC_DEBUG_BODY_MAX_BYTES)
