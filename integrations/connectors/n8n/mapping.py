"""The JSON we post to an n8n Webhook node, its signature, and how we read the answer.

n8n has no schema, no idempotency and no dedupe of its own (CRM-APIS.md §4): the
envelope carries an idempotency key per contact version and the body is signed with
HMAC-SHA256, so the workflow can verify the sender and drop a delivery it has seen.

Envelope (one POST per batch)::

    {"event": "contacts.upsert", "test": false, "batch_id": "<sha256 of the keys>",
     "sent_at": "2025-01-01T00:00:00Z",
     "contacts": [{"contact_id", "remote_id", "email", "idempotency_key", "properties": {...}}]}
"""

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from integrations.connectors.base import ContactPayload

# Properties travel under their local names; a connection mapping renames (or, with an
# empty value, drops) a field. The workflow decides what it keeps.
DEFAULT_FIELD_MAPPING: dict[str, str] = {}
SIGNATURE_HEADER = "X-Signature-256"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_UPSERT = "contacts.upsert"
EVENT_PING = "ping"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    return str(value)


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>` (the format GitHub's webhooks use)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What the workflow does (documented for it; used by tests and the sandbox)."""
    return hmac.compare_digest(sign(body, secret), signature or "")


def mapped_properties(properties: dict[str, Any], mapping: dict[str, Any]) -> dict[str, Any]:
    """Properties renamed by the mapping; a field mapped to an empty value is left out."""
    result: dict[str, Any] = {}
    for name, value in properties.items():
        target = mapping.get(name, name)
        if target:
            result[str(target)] = value
    return result


def idempotency_key(payload: ContactPayload, properties: dict[str, Any]) -> str:
    """The payload's own key, or a hash of the contact id and what is sent (same data, same key)."""
    if payload.idempotency_key:
        return payload.idempotency_key
    canonical = json.dumps(
        [payload.contact_id, payload.email, properties],
        sort_keys=True,
        separators=(",", ":"),
        default=_json_default,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def contact_item(*, payload: ContactPayload, mapping: dict[str, Any]) -> dict[str, Any]:
    properties = mapped_properties(payload.properties, mapping)
    return {
        "contact_id": payload.contact_id,
        "remote_id": payload.remote_id,
        "email": payload.email,
        "idempotency_key": idempotency_key(payload, properties),
        "properties": properties,
    }


def batch_key(items: list[dict[str, Any]]) -> str:
    """A key for the whole delivery: the same contacts at the same versions give the same key."""
    joined = "\n".join(item["idempotency_key"] for item in items)
    return hashlib.sha256(joined.encode()).hexdigest()


def envelope(
    *, items: list[dict[str, Any]], sent_at: datetime, event: str = EVENT_UPSERT, test: bool = False
) -> dict:
    return {
        "event": event,
        "test": test,
        "batch_id": batch_key(items),
        "sent_at": sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contacts": items,
    }


def item_results(body: Any, items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per-contact outcomes when the workflow answers with them, by input index.

    A workflow that responds through a "Respond to Webhook" node may return
    `{"results": [{"contact_id"|"idempotency_key", "ok": bool, "remote_id"?, "error"?}]}`;
    each result is matched by contact_id, then idempotency_key, then position. Any other
    answer (n8n's `{"message": "Workflow was started"}`, text, nothing) gives {}: the
    whole batch was delivered.
    """
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return {}
    by_contact = {item["contact_id"]: index for index, item in enumerate(items)}
    by_key = {item["idempotency_key"]: index for index, item in enumerate(items)}
    outcomes: dict[int, dict[str, Any]] = {}
    for position, result in enumerate(body["results"]):
        if not isinstance(result, dict):
            continue
        index = by_contact.get(str(result.get("contact_id")), by_key.get(str(result.get("idempotency_key"))))
        if index is None and position < len(items) and "contact_id" not in result:
            index = position
        if index is not None:
            outcomes[index] = result
    return outcomes
