"""Pure conversions between our records and HubSpot's JSON (no HTTP, unit-testable)."""

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from integrations.connectors.base import ContactPayload, RemoteProperty, RemoteRecord
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmLocked,
    CrmNotFound,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.ratelimit import RatePolicy

DEFAULT_FIELD_MAPPING = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "company": "company",
    "job_title": "jobtitle",
}

# Properties requested on pull, per object type, besides the mapped ones.
PULL_PROPERTIES = {
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "lastmodifieddate",
        "createdate",
        "hs_merged_object_ids",
    ],
    "deals": [
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "hs_lastmodifieddate",
        "createdate",
        "hs_merged_object_ids",
    ],
}
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}

# HubSpot error categories → our taxonomy (per-input errors inside a 207).
CATEGORY_ERRORS: dict[str, type[CrmError]] = {
    "VALIDATION_ERROR": CrmValidationError,
    "INVALID_EMAIL": CrmValidationError,
    "PROPERTY_DOESNT_EXIST": CrmValidationError,
    "CONFLICT": CrmConflict,
    "OBJECT_ALREADY_EXISTS": CrmConflict,
    "OBJECT_NOT_FOUND": CrmNotFound,
    "MISSING_SCOPES": CrmAuthError,
    "INVALID_AUTHENTICATION": CrmAuthError,
    "EXPIRED_AUTHENTICATION": CrmAuthError,
    "RATE_LIMIT": CrmRateLimited,
    "RATE_LIMITS": CrmRateLimited,
    "LOCKED": CrmLocked,
    "TEMPORARILY_UNAVAILABLE": CrmUnavailable,
}

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)

DEFAULT_FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "bool": "booleancheckbox",
    "enumeration": "select",
    "date": "date",
    "datetime": "date",
    "phone_number": "phonenumber",
}
DEFAULT_GROUPS = {"contacts": "contactinformation", "deals": "dealinformation", "leads": "leadinformation"}


def to_hubspot_value(value: Any) -> str:
    """HubSpot stores every property value as a string; "" clears a value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return ";".join(to_hubspot_value(v) for v in value)  # multi-checkbox
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def contact_properties(
    record: ContactPayload, mapping: Mapping[str, str], *, push_unmapped: bool = False
) -> dict[str, str]:
    """HubSpot properties for one contact: mapped fields (and unmapped ones when asked)."""
    properties: dict[str, str] = {}
    for local, value in record.properties.items():
        remote = mapping.get(local)
        if remote:
            properties[remote] = to_hubspot_value(value)
        elif push_unmapped and local not in mapping:
            properties[local] = to_hubspot_value(value)
    if record.email:
        properties[mapping.get("email") or "email"] = record.email.strip().lower()
    return properties


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch milliseconds (both appear in HubSpot responses)."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def record_from_object(
    obj: Mapping[str, Any], *, object_type: str, field_mapping: Mapping[str, str] | None = None
) -> RemoteRecord:
    """A HubSpot object as a RemoteRecord.

    With a field mapping (contacts), mapped properties come back under their local names, as
    every connector returns them; the rest keep their HubSpot names.
    """
    raw = dict(obj.get("properties") or {})
    reverse = {remote: local for local, remote in (field_mapping or {}).items()}
    properties = {reverse.get(name, name): value for name, value in raw.items()}
    updated = parse_timestamp(raw.get(MODIFIED_PROPERTY.get(object_type, ""))) or parse_timestamp(
        obj.get("updatedAt")
    )
    email = raw.get("email") or None
    merged = str(raw.get("hs_merged_object_ids") or "")
    archived = bool(obj.get("archived"))
    return RemoteRecord(
        remote_id=str(obj.get("id")),
        object_type=object_type,
        properties=properties,
        updated_at=updated,
        email=email.lower() if isinstance(email, str) else None,
        raw=dict(obj),
        archived=archived,
        archived_at=parse_timestamp(obj.get("archivedAt")) if archived else None,
        merged_ids=tuple(part.strip() for part in merged.split(";") if part.strip()),
    )


# What a pulled object links to (RemoteRecord.links) and the v3 name of that association, by object type.
PULL_ASSOCIATIONS = {"deals": ("contacts", "deal_to_contact")}


def associations_by_id(body: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """{from id: [associated ids, numeric order]} from a v4 batch read answer (200 or 207).

    Ids named in `errors[]` (no association, or one HubSpot could not read) are simply absent.
    """
    found: dict[str, list[str]] = {}
    for result in (body or {}).get("results") or []:
        from_id = str((result.get("from") or {}).get("id") or "")
        ids = {str(to.get("toObjectId")) for to in result.get("to") or [] if to.get("toObjectId") is not None}
        if from_id and ids:
            found[from_id] = sorted(ids, key=lambda i: (len(i), i))
    return found


def record_link(record: RemoteRecord, *, to_type: str, ids: list[str], association: str) -> None:
    """Link `record` to the oldest associated `to_type` record (the lowest id, stable across pulls) and
    keep every associated id in `raw`, in the shape HubSpot's v3 reads give associations."""
    if not ids:
        return
    record.links[to_type] = ids[0]
    record.raw["associations"] = {to_type: {"results": [{"id": i, "type": association} for i in ids]}}


def error_from_standard(error: Mapping[str, Any]) -> CrmError:
    """A per-input StandardError of a 207 as one of our errors."""
    category = str(error.get("category") or "")
    cls = CATEGORY_ERRORS.get(category, CrmValidationError)
    message = error.get("message") or category or "HubSpot reported an error for this input"
    details = [
        d.get("message") for d in error.get("errors") or [] if isinstance(d, dict) and d.get("message")
    ]
    if details and details[0] not in message:
        message = f"{message} ({'; '.join(details[:3])})"
    retry_after = 2.0 if cls is CrmLocked else None
    return cls(str(message), body=dict(error), crm="hubspot", retry_after=retry_after)


def existing_id_from(message: str) -> str | None:
    """The id in HubSpot's 409 "Contact already exists. Existing ID: 123" message."""
    match = _EXISTING_ID.search(message or "")
    return match.group(1) if match else None


# A 429's policyName (CRM-APIS.md §1.9): "The message and policyName will indicate which limit
# you hit". SECONDLY is the search endpoints' 5 a second.
RATE_POLICIES = {
    "TEN_SECONDLY_ROLLING": RatePolicy("TEN_SECONDLY_ROLLING", window=10.0),
    "SECONDLY": RatePolicy("SECONDLY", window=1.0),
    "DAILY": RatePolicy("DAILY", daily=True),
}
# Older and search answers may name the limit only in the message.
_POLICY_BY_MESSAGE = (
    ("daily limit", "DAILY"),
    ("ten_secondly", "TEN_SECONDLY_ROLLING"),
    ("ten secondly", "TEN_SECONDLY_ROLLING"),
    ("secondly limit", "SECONDLY"),
)


def rate_limit_policy(body: Any) -> RatePolicy | None:
    """Which of HubSpot's limits a 429 body says was hit, or None when it does not say."""
    if not isinstance(body, dict):
        return None
    name = str(body.get("policyName") or "").strip().upper()
    if name in RATE_POLICIES:
        return RATE_POLICIES[name]
    message = str(body.get("message") or "").lower()
    for phrase, policy in _POLICY_BY_MESSAGE:
        if phrase in message:
            return RATE_POLICIES[policy]
    return None


def error_message(body: Any, response) -> str:
    """HubSpot's {status, message, category, errors[...]} → one line for a person."""
    if isinstance(body, dict):
        message = body.get("message") or body.get("category") or body.get("errorType") or ""
        details = [
            d.get("message") for d in body.get("errors") or [] if isinstance(d, dict) and d.get("message")
        ]
        if details and details[0] not in message:
            message = f"{message} ({'; '.join(details[:3])})" if message else "; ".join(details[:3])
        if body.get("category") == "MISSING_SCOPES":
            scopes = []
            for detail in body.get("errors") or []:
                scopes += (detail.get("context") or {}).get("requiredGranularScopes") or []
            if scopes:
                message = f"{message} (required scopes: {', '.join(sorted(set(scopes)))})"
        if message:
            return str(message)
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return f"HTTP {getattr(response, 'status_code', '?')}"


def property_from_hubspot(data: Mapping[str, Any]) -> RemoteProperty:
    metadata = data.get("modificationMetadata") or {}
    return RemoteProperty(
        name=data.get("name", ""),
        label=data.get("label", ""),
        type=data.get("type", ""),
        field_type=data.get("fieldType", ""),
        group_name=data.get("groupName", ""),
        description=data.get("description", "") or "",
        options=[
            {
                "label": o.get("label"),
                "value": o.get("value"),
                "display_order": o.get("displayOrder", -1),
                "hidden": bool(o.get("hidden", False)),
            }
            for o in data.get("options") or []
        ],
        remote_id=data.get("name"),
        crm_defined=bool(data.get("hubspotDefined") or metadata.get("readOnlyDefinition")),
        raw=dict(data),
    )


def property_to_hubspot(prop: RemoteProperty, *, object_type: str, create: bool) -> dict[str, Any]:
    """PropertyCreate (create=True) or PropertyUpdate (no name) from a RemoteProperty."""
    body: dict[str, Any] = {
        "label": prop.label or prop.name,
        "type": prop.type or "string",
        "fieldType": prop.field_type or DEFAULT_FIELD_TYPES.get(prop.type or "string", "text"),
        "groupName": prop.group_name or DEFAULT_GROUPS.get(object_type, "contactinformation"),
        "description": prop.description or "",
    }
    if prop.options:
        body["options"] = [
            {
                "label": str(o.get("label") if o.get("label") is not None else o.get("value")),
                "value": str(o.get("value")),
                "hidden": bool(o.get("hidden", False)),
                "displayOrder": int(o.get("display_order", o.get("displayOrder", index))),
            }
            for index, o in enumerate(prop.options)
        ]
    if create:
        body["name"] = prop.name
    return body
