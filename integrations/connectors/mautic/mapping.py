"""Pure translations between our contacts/properties and Mautic's JSON (CRM-APIS.md §3).

Mautic takes contact fields as top-level keys named by their alias (lower-case
snake_case); a contact read back carries them flat in `fields.all`. Batch results come
back keyed by request index, as a list when the indexes are contiguous and as an object
when PHP left gaps, so every reader here accepts both.
"""

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.connectors.base import ContactPayload, RemoteProperty, RemoteRecord

DEFAULT_FIELD_MAPPING: dict[str, str] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "phone": "phone",
    "company": "company",
    "job_title": "position",
}

# Mautic's built-in contact fields (LeadBundle fixtures); the API marks them `isFixed` in
# recent versions, this list covers responses that do not.
CORE_ALIASES = frozenset(
    {
        "title",
        "firstname",
        "lastname",
        "company",
        "position",
        "email",
        "mobile",
        "phone",
        "points",
        "fax",
        "address1",
        "address2",
        "city",
        "state",
        "zipcode",
        "country",
        "preferred_locale",
        "timezone",
        "last_active",
        "attribution_date",
        "attribution",
        "website",
        "facebook",
        "foursquare",
        "instagram",
        "linkedin",
        "skype",
        "twitter",
    }
)
_NON_ALIAS = re.compile(r"[^a-z0-9_]+")
WHERE_FORMAT = "%Y-%m-%d %H:%M:%S"
MULTISELECT_SEPARATOR = "|"


class ContactMappingError(ValueError):
    """A contact cannot be expressed in Mautic's terms."""


def field_alias(name: str) -> str:
    """Mautic's spelling of a field alias: lower-case letters, digits, underscores."""
    return _NON_ALIAS.sub("_", name.strip().lower()).strip("_")


def effective_mapping(*, default: dict[str, str], override: dict[str, Any] | None) -> dict[str, str]:
    """The connection's mapping over the default; an empty value removes a field."""
    merged: dict[str, Any] = {**default, **(override or {})}
    return {local: field_alias(str(remote)) for local, remote in merged.items() if remote}


def field_value(value: Any) -> Any:
    """A local value as Mautic's form layer accepts it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(WHERE_FORMAT) if value.tzinfo else value.strftime(WHERE_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, list | tuple | set):
        # A multiselect (checkbox) value in the form Mautic stores, exports and returns ("a|b");
        # its API takes that string as it takes an array, and a text field takes it too.
        items = sorted(value, key=str) if isinstance(value, set) else value
        return MULTISELECT_SEPARATOR.join(str(item) for item in items if item not in (None, ""))
    return value


def contact_body(*, payload: ContactPayload, mapping: dict[str, str]) -> dict[str, Any]:
    """One item of POST /api/contacts/batch/new: mapped fields as top-level aliases.

    Mautic merges a new contact into an existing one when a unique identifier (email by
    default) matches, so this create is an upsert. Absent/None fields are left out: Mautic
    skips empty values unless `overwriteWithBlank` is set, which is never sent.
    """
    body: dict[str, Any] = {}
    for local, remote in mapping.items():
        value = payload.properties.get(local)
        if local == "email" and value is None:
            value = payload.email
        if value is None:
            continue
        body[remote] = field_value(value)
    if not body.get("email") and payload.email:
        body["email"] = payload.email
    if not body:
        raise ContactMappingError("nothing to send: the contact has no mapped field with a value")
    return body


def by_index(value: Any) -> dict[int, Any]:
    """Index → item from a batch response part that is a list, an object keyed by index, or absent."""
    if isinstance(value, list):
        return dict(enumerate(value))
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            try:
                result[int(key)] = item
            except (TypeError, ValueError):
                continue
        return result
    return {}


def contact_fields(contact: dict[str, Any]) -> dict[str, Any]:
    """A contact's flat alias → value map (`fields.all`, else the grouped fields, else top-level)."""
    fields = contact.get("fields")
    if isinstance(fields, dict):
        if isinstance(fields.get("all"), dict):
            return dict(fields["all"])
        flat: dict[str, Any] = {}
        for group in fields.values():
            if isinstance(group, dict):
                for alias, data in group.items():
                    flat[alias] = data.get("value") if isinstance(data, dict) else data
        return flat
    return {key: value for key, value in contact.items() if not isinstance(value, dict | list)}


def parse_datetime(value: Any, *, zone: tzinfo = UTC) -> datetime | None:
    """Mautic's ISO-with-offset datetimes (or `Y-m-d H:i:s` in the instance's zone)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def instance_zone(name: str | None) -> tzinfo:
    """The Mautic instance's time zone (connection.settings.timezone), UTC when unset or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def where_value(value: datetime, *, zone: tzinfo = UTC) -> str:
    """A datetime as the `where[][val]` of a dateModified filter: `Y-m-d H:i:s` in the instance zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime(WHERE_FORMAT)


def remote_record(*, contact: dict[str, Any], mapping: dict[str, str], zone: tzinfo = UTC) -> RemoteRecord:
    """A Mautic contact as a RemoteRecord: mapped fields under local names, the rest as aliases.

    An unmapped alias that equals a local name already present is dropped: the mapped
    value wins, so a remapped field never reads back the wrong remote field.
    """
    fields = contact_fields(contact)
    reverse = {remote: local for local, remote in mapping.items()}
    properties: dict[str, Any] = {}
    for alias, value in fields.items():
        if alias in reverse:
            properties[reverse[alias]] = value
    for alias, value in fields.items():
        if alias not in reverse and alias not in properties and alias != "id":
            properties[alias] = value
    email = fields.get("email") or None
    return RemoteRecord(
        remote_id=str(contact.get("id") or fields.get("id")),
        object_type="contacts",
        properties=properties,
        updated_at=parse_datetime(contact.get("dateModified") or contact.get("dateAdded"), zone=zone),
        email=email,
        raw=contact,
    )


# -- fields (property definitions) -------------------------------------------------------

_MAUTIC_TO_LOCAL_TYPE = {
    "text": ("string", "text"),
    "textarea": ("string", "textarea"),
    "html": ("string", "html"),
    "email": ("string", "text"),
    "tel": ("string", "phonenumber"),
    "url": ("string", "text"),
    "number": ("number", "number"),
    "boolean": ("bool", "booleancheckbox"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
    "time": ("string", "text"),
    "select": ("enumeration", "select"),
    "multiselect": ("enumeration", "checkbox"),
    "lookup": ("string", "text"),
    "country": ("string", "text"),
    "region": ("string", "text"),
    "locale": ("string", "text"),
    "timezone": ("string", "text"),
}


def _options(field: dict[str, Any]) -> list[dict]:
    properties = field.get("properties")
    if not isinstance(properties, dict):
        return []
    items = properties.get("list")
    if isinstance(items, str):  # older Mautic stores "a|b|c"
        items = [{"label": part, "value": part} for part in items.split("|") if part]
    options = []
    for index, item in enumerate(items or []):
        if isinstance(item, dict):
            options.append(
                {
                    "label": str(item.get("label", "")),
                    "value": str(item.get("value", "")),
                    "display_order": index,
                }
            )
    return options


def remote_property(field: dict[str, Any]) -> RemoteProperty:
    """A Mautic field (GET /api/fields/contact) as a RemoteProperty."""
    type_, field_type = _MAUTIC_TO_LOCAL_TYPE.get(field.get("type") or "text", ("string", "text"))
    alias = field.get("alias") or ""
    return RemoteProperty(
        name=alias,
        label=field.get("label") or alias,
        type=type_,
        field_type=field_type,
        group_name=field.get("group") or "",
        description=field.get("description") or "",
        options=_options(field),
        remote_id=str(field["id"]) if field.get("id") is not None else None,
        crm_defined=bool(field.get("isFixed")) or alias in CORE_ALIASES,
        raw=field,
    )


def field_body(prop: RemoteProperty) -> dict[str, Any]:
    """The POST /api/fields/contact/new (or PATCH …/edit) body of a local property definition.

    string → text/textarea/tel, number → number, bool → boolean (yes/no labels),
    date → date, datetime → datetime, enumeration → select, or multiselect for checkboxes.
    """
    if prop.type == "bool" or (prop.type == "enumeration" and prop.field_type == "booleancheckbox"):
        type_, properties = "boolean", {"yes": "Yes", "no": "No"}
    elif prop.type == "enumeration":
        type_ = "multiselect" if prop.field_type == "checkbox" else "select"
        properties = {
            "list": [
                {"label": str(option.get("label") or option.get("value")), "value": str(option.get("value"))}
                for option in prop.options or []
            ]
        }
    else:
        type_ = {
            "number": "number",
            "date": "date",
            "datetime": "datetime",
        }.get(prop.type) or {"textarea": "textarea", "phonenumber": "tel", "html": "html"}.get(
            prop.field_type, "text"
        )
        properties = {"roundmode": 4, "scale": ""} if type_ == "number" else {}
    body: dict[str, Any] = {
        "label": prop.label or prop.name,
        "alias": field_alias(prop.name),
        "type": type_,
        "object": "lead",
        "group": prop.group_name
        if prop.group_name in ("core", "social", "personal", "professional")
        else "core",
        "isPublished": True,
    }
    if prop.description:
        body["description"] = prop.description
    if properties:
        body["properties"] = properties
    return body


def error_messages(body: Any) -> tuple[str, int | None, Any]:
    """(message, code, details) from any Mautic error shape.

    `{"errors": [{code, message, details, type}]}` (Mautic 3+), `{"error": {message, code}}`
    (older docs), and OAuth's `{"error": "invalid_grant", "error_description": "…"}`.
    """
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, dict):
            errors = list(errors.values())
        if isinstance(errors, list) and errors:
            messages = [str(e.get("message", "")) if isinstance(e, dict) else str(e) for e in errors]
            first = errors[0] if isinstance(errors[0], dict) else {}
            return "; ".join(m for m in messages if m), _int(first.get("code")), first.get("details")
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", "")), _int(error.get("code")), error.get("details")
        if isinstance(error, str):
            return str(body.get("error_description") or error), None, None
    return (str(body)[:500] if body else ""), None, None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
