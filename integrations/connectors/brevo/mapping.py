"""Pure translations between our contacts/properties and Brevo's JSON (CRM-APIS.md §2).

Brevo keys a contact by email (top-level `email`) and keeps everything else in
`attributes`, whose names are upper-case identifiers that must already exist in the
account ("These attributes must be present in your Brevo account"); values whose type
does not match the attribute are silently ignored by Brevo, so values are coerced here.
No I/O in this module: the connector decides when to call Brevo.
"""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from integrations.connectors.base import ContactPayload, RemoteProperty, RemoteRecord

# Local contact field → Brevo attribute. `email` is not an attribute: it is the top-level key.
# FIRSTNAME/LASTNAME/SMS exist in every Brevo account; COMPANY and JOB_TITLE are created on
# first use when the account lacks them (see BrevoConnector._ensure_attributes).
DEFAULT_FIELD_MAPPING: dict[str, str] = {
    "first_name": "FIRSTNAME",
    "last_name": "LASTNAME",
    "phone": "SMS",
    "company": "COMPANY",
    "job_title": "JOB_TITLE",
}

# Categories whose values Brevo computes or reserves: never written by a contact push.
READ_ONLY_CATEGORIES = frozenset({"transactional", "calculated", "global"})
MAX_NAME_LENGTH = 50  # not documented; Brevo's UI refuses longer names in practice (UNVERIFIED)
_NON_NAME = re.compile(r"[^A-Z0-9_]+")
_PHONE_JUNK = re.compile(r"[\s().\-/]")


class ContactMappingError(ValueError):
    """A contact cannot be expressed in Brevo's terms (no identifier, bad phone)."""


def attribute_name(name: str) -> str:
    """Brevo's spelling of a property name: upper-case letters, digits and underscores."""
    cleaned = _NON_NAME.sub("_", name.strip().upper()).strip("_")
    return cleaned[:MAX_NAME_LENGTH]


def effective_mapping(*, default: dict[str, str], override: dict[str, Any] | None) -> dict[str, str]:
    """The connection's mapping over the connector's default; an empty value removes a field.

    Remote names are normalised to Brevo's upper-case spelling so `{"nickname": "nick"}`
    and `{"nickname": "NICK"}` mean the same attribute.
    """
    merged: dict[str, Any] = {**default, **(override or {})}
    return {local: attribute_name(str(remote)) for local, remote in merged.items() if remote}


def phone_to_e164(value: Any, *, default_country_code: str = "") -> str:
    """Normalise a phone number to E.164 (`+` and 8-15 digits), as Brevo's SMS attribute wants.

    `00` international prefixes become `+`. A national number (no `+`/`00`) is accepted
    only when the connection names a default country code; otherwise it is an error,
    because Brevo rejects the whole contact for an SMS without a country code.
    """
    text = _PHONE_JUNK.sub("", str(value))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        country = default_country_code.lstrip("+")
        if not country:
            raise ContactMappingError(
                f"phone {value!r} has no country code; Brevo's SMS attribute needs E.164 "
                "(+<country><number>), or set settings.default_country_code on the connection"
            )
        text = "+" + country + text.lstrip("0")
    digits = text[1:]
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise ContactMappingError(f"phone {value!r} is not a valid E.164 number")
    return text


def attribute_value(value: Any, *, definition: dict | None = None) -> Any:
    """A local value as Brevo accepts it (number, string, boolean or list of strings).

    Dates go as YYYY-MM-DD (Brevo's date attributes hold dates only). For a category
    attribute, a label or a value id is turned into the integer id Brevo stores.
    """
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    if definition and definition.get("enumeration") and not isinstance(value, bool):
        for option in definition["enumeration"]:
            if str(value).strip().lower() in (str(option.get("label", "")).lower(), str(option.get("value"))):
                return option.get("value")
    return value


def contact_body(
    *,
    payload: ContactPayload,
    mapping: dict[str, str],
    attributes: dict[str, dict] | None = None,
    default_country_code: str = "",
) -> dict[str, Any]:
    """The POST /v3/contacts body of one contact: an upsert keyed by email.

    Only mapped fields are sent (a field absent from the payload or None is left out, so
    a partial payload never blanks a Brevo value). `attributes` are the account's
    definitions by name, used to coerce category values; it may be empty.
    Raises ContactMappingError when Brevo could not identify the contact.
    """
    attributes = attributes or {}
    values: dict[str, Any] = {}
    for local, remote in mapping.items():
        value = payload.properties.get(local)
        if value is None or (value == "" and remote == "SMS"):
            continue
        if remote == "SMS":
            value = phone_to_e164(value, default_country_code=default_country_code)
        values[remote] = attribute_value(value, definition=attributes.get(remote))
    email = (payload.email or payload.properties.get("email") or "").strip() or None
    if not email and "SMS" not in values:
        raise ContactMappingError("Brevo needs an email or a phone number (SMS) to identify a contact")
    body: dict[str, Any] = {}
    if email:
        body["email"] = email
    body["attributes"] = values
    body["updateEnabled"] = True
    return body


def import_item(body: dict[str, Any]) -> dict[str, Any]:
    """One `jsonBody` row of POST /v3/contacts/import, from a contact body."""
    item: dict[str, Any] = {"attributes": body.get("attributes", {})}
    if body.get("email"):
        item["email"] = body["email"]
    return item


def json_size(value: Any) -> int:
    """Bytes the value takes on the wire as compact JSON (the import limit is on bytes)."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def attribute_type_for_value(value: Any) -> str:
    """The Brevo attribute type to create for a value whose attribute is missing."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "float"
    if isinstance(value, date):
        return "date"
    if isinstance(value, list | tuple | set):
        return "multiple-choice"
    return "text"


def parse_datetime(value: Any) -> datetime | None:
    """Brevo's `YYYY-MM-DDTHH:mm:ss.SSSZ` (or with an offset) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """A datetime as Brevo's `modifiedSince` wants it: UTC with milliseconds and an explicit zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def remote_record(*, item: dict[str, Any], mapping: dict[str, str]) -> RemoteRecord:
    """A `getContactDetails` as a RemoteRecord with local field names.

    Mapped attributes come back under their local names; unmapped attributes keep their
    Brevo names (upper-case, so they never collide with a local name).
    """
    attrs = dict(item.get("attributes") or {})
    reverse = {remote: local for local, remote in mapping.items()}
    properties: dict[str, Any] = {}
    for name, value in attrs.items():
        properties[reverse.get(name, name)] = value
    email = item.get("email") or attrs.get("EMAIL")
    if email:
        properties["email"] = email
    for flag in ("emailBlacklisted", "smsBlacklisted", "listIds"):
        if flag in item:
            properties[flag] = item[flag]
    return RemoteRecord(
        remote_id=str(item["id"]),
        object_type="contacts",
        properties=properties,
        updated_at=parse_datetime(item.get("modifiedAt")),
        email=email,
        raw=item,
    )


# -- attributes (property definitions) ------------------------------------------------------

_BREVO_TO_LOCAL_TYPE = {
    "text": ("string", "text"),
    "float": ("number", "number"),
    "boolean": ("bool", "booleancheckbox"),
    "date": ("date", "date"),
    "id": ("string", "text"),
    "user": ("string", "text"),
    "multiple-choice": ("enumeration", "checkbox"),
}


def remote_property(attribute: dict[str, Any]) -> RemoteProperty:
    """A Brevo attribute (from GET /v3/contacts/attributes) as a RemoteProperty.

    Brevo has no labels: the label is the name. Category attributes become enumerations
    whose option value is the label (what people type) and whose Brevo id stays in raw.
    """
    category = attribute.get("category", "normal")
    enumeration = attribute.get("enumeration") or []
    if enumeration:
        type_, field_type = "enumeration", "select"
    elif attribute.get("multiCategoryOptions"):
        type_, field_type = "enumeration", "checkbox"
    else:
        type_, field_type = _BREVO_TO_LOCAL_TYPE.get(attribute.get("type") or "text", ("string", "text"))
    if enumeration:
        options = [
            {
                "label": str(option.get("label", "")),
                "value": str(option.get("label", "")),
                "display_order": index,
            }
            for index, option in enumerate(enumeration)
        ]
    else:
        options = [
            {"label": str(label), "value": str(label), "display_order": index}
            for index, label in enumerate(attribute.get("multiCategoryOptions") or [])
        ]
    return RemoteProperty(
        name=attribute["name"],
        label=attribute["name"],
        type=type_,
        field_type=field_type,
        group_name=category,
        options=options,
        remote_id=f"{category}/{attribute['name']}",
        crm_defined=category in READ_ONLY_CATEGORIES,
        raw=attribute,
    )


def attribute_definition(prop: RemoteProperty) -> tuple[str, str, dict[str, Any]]:
    """(category, NAME, createAttribute body) for a local property definition.

    string → text, number → float, bool → boolean, date/datetime → date (Brevo keeps no
    time), single-select enumeration → a `category` attribute with integer-keyed
    `enumeration`, multi-select (checkbox) → a normal `multiple-choice` attribute.
    """
    name = attribute_name(prop.name)
    labels = [str(option.get("label") or option.get("value")) for option in prop.options or []]
    if prop.type == "enumeration" and prop.field_type == "checkbox":
        return "normal", name, {"type": "multiple-choice", "multiCategoryOptions": labels}
    if prop.type == "enumeration" and prop.field_type != "booleancheckbox":
        enumeration = [{"value": index + 1, "label": label} for index, label in enumerate(labels)]
        return "category", name, {"type": "category", "enumeration": enumeration}
    type_ = {
        "number": "float",
        "bool": "boolean",
        "date": "date",
        "datetime": "date",
        "enumeration": "boolean",
    }.get(prop.type, "text")
    return "normal", name, {"type": type_}


def attribute_update(
    *, prop: RemoteProperty, existing: dict[str, Any]
) -> tuple[str, str, dict[str, Any]] | None:
    """(category, NAME, updateAttribute body) to bring an attribute's options up to date.

    Brevo lets only options change (a type cannot be changed): category attributes
    keep the integer ids of labels they already have and number new labels after the
    highest; multiple-choice attributes get the labels they lack. None: nothing to update.
    """
    category, name, wanted = attribute_definition(prop)
    existing_category = existing.get("category", category)
    if existing.get("enumeration") or wanted.get("enumeration"):
        current = {str(option["label"]): int(option["value"]) for option in existing.get("enumeration") or []}
        next_id = max(current.values(), default=0) + 1
        enumeration = []
        for option in wanted.get("enumeration", []):
            label = option["label"]
            if label not in current:
                current[label] = next_id
                next_id += 1
            enumeration.append({"value": current[label], "label": label})
        if [(o["value"], o["label"]) for o in enumeration] == [
            (int(o["value"]), str(o["label"])) for o in existing.get("enumeration") or []
        ]:
            return None
        return existing_category, name, {"enumeration": enumeration}
    if wanted.get("type") == "multiple-choice":
        have = {str(label) for label in existing.get("multiCategoryOptions") or []}
        missing = [label for label in wanted["multiCategoryOptions"] if label not in have]
        if not missing:
            return None
        return existing_category, name, {"multiCategoryOptions": missing}
    return None


def error_details(body: Any) -> tuple[str, str, dict]:
    """(code, message, metadata) from Brevo's `errorModel`/`contactErrorModel`, tolerating junk."""
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or ""), body.get("metadata") or {}
    return "", str(body or "")[:500], {}
