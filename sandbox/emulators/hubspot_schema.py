"""HubSpot object types, property definitions (built-in + created) and property value validation.

Rules from ../shared/CRM-APIS.md §1.2 and §1.7: every value is stored as a string, ""
clears, unknown properties are PROPERTY_DOESNT_EXIST, read-only ones READ_ONLY_VALUE.
"""

import json
from dataclasses import dataclass

from sandbox.defaults import HUBSPOT_GROUPS, HUBSPOT_PROPERTIES
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import SandboxReject
from sandbox.store import email_valid, parse_instant


@dataclass(frozen=True)
class ObjectType:
    name: str  # contacts | deals | leads
    record_type: str  # SandboxRecord.object_type
    label: str  # CONTACT | DEAL, as HubSpot names them in messages
    modified_property: str
    default_properties: tuple[str, ...]
    email_keyed: bool


CONTACTS = ObjectType(
    "contacts",
    "contact",
    "CONTACT",
    "lastmodifieddate",
    ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    True,
)
DEALS = ObjectType(
    "deals",
    "deal",
    "DEAL",
    "hs_lastmodifieddate",
    (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    False,
)
LEADS = ObjectType(
    "leads",
    "lead",
    "LEAD",
    "hs_lastmodifieddate",
    ("createdate", "hs_lastmodifieddate", "hs_lead_label", "hs_lead_name", "hs_object_id"),
    False,
)
_OBJECT_TYPES = {
    "contacts": CONTACTS,
    "contact": CONTACTS,
    "0-1": CONTACTS,
    "deals": DEALS,
    "deal": DEALS,
    "0-3": DEALS,
    "leads": LEADS,
    "lead": LEADS,
    "0-136": LEADS,
}
SYSTEM_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_object_id"}


def object_type_get(name: str, ctx=None) -> ObjectType:
    """The object type named in a path; leads exist only while the sandbox's `leads_enabled` option is on.

    Real accounts have leads only with Sales Hub Professional+ (CRM-APIS.md §1.8); switching the
    option off emulates an account without them.
    """
    object_type = _OBJECT_TYPES.get(name.lower())
    if object_type is LEADS and ctx is not None and not ctx.option("leads_enabled", True):
        object_type = None
    if object_type is None:
        raise SandboxReject(400, f"Unable to infer object type from: {name}", code="VALIDATION_ERROR")
    return object_type


def object_type_by_record_type(record_type: str) -> ObjectType | None:
    """The object type whose records are stored as `record_type` (contact, deal, lead), or None."""
    return next((t for t in (CONTACTS, DEALS, LEADS) if t.record_type == record_type), None)


def property_record_type(object_type: ObjectType) -> str:
    return f"hs_property:{object_type.name}"


def group_record_type(object_type: ObjectType) -> str:
    return f"hs_group:{object_type.name}"


def properties_load(object_type: ObjectType) -> dict[str, dict]:
    """Every property definition of the object type: built-in first, then created ones (one query)."""
    definitions = {prop["name"]: prop for prop in HUBSPOT_PROPERTIES[object_type.name]}
    for record in SandboxRecord.objects.filter(
        kind=Kind.HUBSPOT, object_type=property_record_type(object_type)
    ):
        definitions[record.key] = record.data
    return definitions


def groups_load(object_type: ObjectType) -> dict[str, dict]:
    groups = {group["name"]: {**group, "archived": False} for group in HUBSPOT_GROUPS[object_type.name]}
    for record in SandboxRecord.objects.filter(kind=Kind.HUBSPOT, object_type=group_record_type(object_type)):
        groups[record.key] = record.data
    return groups


def _as_string(value) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _check(definition: dict, name: str, text: str) -> tuple[str, str] | None:
    """(code, message) when `text` is not a valid value of the property, else None."""
    if text == "":
        return None
    kind = definition.get("type")
    if name == "email" and not email_valid(text):
        return "INVALID_EMAIL", f"Email address {text} is invalid"
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return "INVALID_INTEGER", f"{text} was not a valid number."
    elif kind == "bool" and text.lower() not in ("true", "false"):
        return "INVALID_BOOLEAN", f"{text} was not a valid boolean (true or false)."
    elif kind in ("date", "datetime") and parse_instant(text) is None:
        return "INVALID_DATE", f"{text} was not a valid date (epoch milliseconds or ISO 8601)."
    elif kind == "enumeration":
        allowed = {option.get("value") for option in definition.get("options", [])}
        values = [part for part in text.split(";") if part]
        bad = [part for part in values if part not in allowed]
        if bad:
            return "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {sorted(allowed)}"
    return None


def properties_validate(
    properties: object, definitions: dict[str, dict], *, strict: bool
) -> tuple[dict[str, str], list[dict]]:
    """Normalise a properties map to strings; return (values, errors[ErrorDetail])."""
    if not isinstance(properties, dict):
        return {}, [{"message": "properties must be an object", "code": "INVALID_INPUT", "context": {}}]
    values: dict[str, str] = {}
    errors: list[dict] = []
    for name, raw in properties.items():
        definition = definitions.get(name)
        text = _as_string(raw)
        problem = None
        if definition is None:
            if strict:
                problem = ("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        elif name in SYSTEM_PROPERTIES or definition.get("modificationMetadata", {}).get("readOnlyValue"):
            problem = ("READ_ONLY_VALUE", f'Property "{name}" is read-only')
        elif text is None:
            problem = ("INVALID_PROPERTY_VALUE", f'Property "{name}" must be a string, number or boolean')
        else:
            problem = _check(definition, name, text)
        if problem:
            errors.append({"message": problem[1], "code": problem[0], "context": {"propertyName": [name]}})
        elif text is not None:
            values[name] = text
    return values, errors


def validation_error(errors: list[dict], *, context: dict | None = None) -> dict:
    """A StandardError for invalid property values, as HubSpot words it."""
    summary = [
        {
            "isValid": False,
            "message": e["message"],
            "error": e["code"],
            "name": (e["context"].get("propertyName") or [""])[0],
        }
        for e in errors
    ]
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": f"Property values were not valid: {json.dumps(summary, separators=(',', ':'))}",
        "errors": errors,
        "context": context or {},
        "links": {},
    }
