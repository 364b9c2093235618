"""What makes a property definition valid, per HubSpot's properties API (CRM-APIS.md §1.7).

Pure functions over plain dicts, so the model's clean(), the API serializer and the JSON
loader apply exactly the same rules and report every error at once, not just the first.
"""

import re
from typing import Any

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
NAME_MAX_LENGTH = 100
LABEL_MAX_LENGTH = 255
GROUP_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")

OBJECT_TYPES = ("contacts", "leads", "deals")
TYPES = ("string", "number", "bool", "date", "datetime", "enumeration")
FIELD_TYPES = (
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
)

# HubSpot's "Property type and fieldType values" table.
ALLOWED_FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "bool": ("booleancheckbox", "calculation_equation"),
    "enumeration": ("booleancheckbox", "checkbox", "radio", "select", "calculation_equation"),
    "date": ("date",),
    "datetime": ("date",),
    "string": ("file", "text", "textarea", "calculation_equation", "html", "phonenumber"),
    "number": ("number", "calculation_equation"),
}

# A group must exist in the CRM; these are HubSpot's default "information" groups.
DEFAULT_GROUPS = {"contacts": "contactinformation", "leads": "leadinformation", "deals": "dealinformation"}

BOOL_OPTIONS = [
    {"label": "Yes", "value": "true", "display_order": 0, "hidden": False},
    {"label": "No", "value": "false", "display_order": 1, "hidden": False},
]


def options_normalize(options: Any) -> Any:
    """Return options as [{label, value, display_order, hidden}], keeping bad input for the checks.

    Accepts the seed's camelCase `displayOrder` too. Anything that is not a list of
    objects is returned unchanged so that `definition_errors` can name it.
    """
    if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
        return options
    normalized = []
    for index, option in enumerate(options):
        display_order = option.get("display_order", option.get("displayOrder", index))
        normalized.append(
            {
                "label": option.get("label"),
                "value": option.get("value"),
                "display_order": display_order,
                "hidden": option.get("hidden", False),
            }
        )
    return normalized


def _option_errors(options: Any) -> list[str]:
    if not isinstance(options, list):
        return ["Options must be a list of {label, value} objects."]
    errors = []
    seen: set[str] = set()
    for index, option in enumerate(options):
        where = f"Option {index + 1}"
        if not isinstance(option, dict):
            errors.append(f"{where} must be an object with label and value.")
            continue
        label, value = option.get("label"), option.get("value")
        if not isinstance(label, str) or not label.strip():
            errors.append(f"{where} needs a non-empty label.")
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where} needs a non-empty string value.")
        elif value in seen:
            errors.append(f"Option value '{value}' appears more than once; values must be unique.")
        else:
            seen.add(value)
        order = option.get("display_order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
            errors.append(f"{where} display_order must be an integer.")
        if not isinstance(option.get("hidden", False), bool):
            errors.append(f"{where} hidden must be true or false.")
    return errors


def definition_errors(data: dict) -> dict[str, list[str]]:
    """Every rule a definition breaks, by field name; empty when it is valid.

    `data` holds snake_case fields: name, label, type, field_type, group_name,
    description, options, display_order, hidden (object_type when present).
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    name = data.get("name")
    if not isinstance(name, str) or not name:
        add("name", "A name is required.")
    else:
        if len(name) > NAME_MAX_LENGTH:
            add("name", f"A name has at most {NAME_MAX_LENGTH} characters.")
        if not NAME_PATTERN.match(name[:NAME_MAX_LENGTH]):
            add(
                "name",
                "A name must start with a lower-case letter and contain only lower-case letters, "
                "digits and underscores.",
            )

    label = data.get("label")
    if not isinstance(label, str) or not label.strip():
        add("label", "A label is required.")
    elif len(label) > LABEL_MAX_LENGTH:
        add("label", f"A label has at most {LABEL_MAX_LENGTH} characters.")

    object_type = data.get("object_type")
    if "object_type" in data and object_type not in OBJECT_TYPES:
        add("object_type", f"Object type must be one of: {', '.join(OBJECT_TYPES)}.")

    prop_type = data.get("type")
    field_type = data.get("field_type")
    if prop_type not in TYPES:
        add("type", f"Type '{prop_type}' is not supported; use one of: {', '.join(TYPES)}.")
    if field_type not in FIELD_TYPES:
        add(
            "field_type", f"Field type '{field_type}' is not supported; use one of: {', '.join(FIELD_TYPES)}."
        )
    elif prop_type in TYPES and field_type not in ALLOWED_FIELD_TYPES[prop_type]:
        allowed = ", ".join(ALLOWED_FIELD_TYPES[prop_type])
        add(
            "field_type",
            f"Field type '{field_type}' is not valid for type '{prop_type}'; use one of: {allowed}.",
        )

    group_name = data.get("group_name")
    if group_name is not None and group_name != "" and not GROUP_NAME_PATTERN.match(str(group_name)):
        add(
            "group_name",
            "A group name must be lower-case letters, digits and underscores, starting with a letter.",
        )

    description = data.get("description", "")
    if description is not None and not isinstance(description, str):
        add("description", "The description must be text.")

    display_order = data.get("display_order", -1)
    if isinstance(display_order, bool) or not isinstance(display_order, int):
        add("display_order", "display_order must be an integer.")
    if not isinstance(data.get("hidden", False), bool):
        add("hidden", "hidden must be true or false.")

    options = data.get("options", [])
    if options is None:
        options = []
    for message in _option_errors(options):
        add("options", message)
    if isinstance(options, list):
        if prop_type == "enumeration" and not options:
            add("options", "An enumeration needs at least one option.")
        elif prop_type == "bool" and options:
            values = sorted(
                o.get("value") for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)
            )
            if len(options) != 2 or values != ["false", "true"]:
                add("options", "A bool property has exactly two options, with values 'true' and 'false'.")
        elif prop_type in TYPES and prop_type not in ("enumeration", "bool") and options:
            add("options", f"A '{prop_type}' property takes no options.")
    return errors


def definition_from_json(entry: dict) -> dict:
    """Turn one entry of the local JSON format (the seed's camelCase) into model fields."""
    return {
        "name": entry.get("name"),
        "label": entry.get("label"),
        "type": entry.get("type"),
        "field_type": entry.get("fieldType", entry.get("field_type")),
        "group_name": entry.get("groupName", entry.get("group_name")) or "",
        "description": entry.get("description") or "",
        "options": options_normalize(entry.get("options") or []),
        "display_order": entry.get("displayOrder", entry.get("display_order", -1)),
        "hidden": entry.get("hidden", False),
    }


def definition_to_json(definition) -> dict:
    """One definition in the local JSON format (what `properties export` writes)."""
    entry: dict[str, Any] = {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "fieldType": definition.field_type,
        "groupName": definition.group_name,
        "description": definition.description,
    }
    if definition.options:
        entry["options"] = [
            {
                "label": option["label"],
                "value": option["value"],
                "displayOrder": option.get("display_order", index),
                "hidden": option.get("hidden", False),
            }
            for index, option in enumerate(definition.options)
        ]
    if definition.display_order != -1:
        entry["displayOrder"] = definition.display_order
    if definition.hidden:
        entry["hidden"] = True
    return entry


def definition_normalize(data: dict, *, object_type: str | None = None) -> dict:
    """Fill the defaults HubSpot would need: the object's default group, bool's true/false options."""
    data = dict(data)
    data["options"] = options_normalize(data.get("options") or [])
    if not data.get("group_name") and object_type in DEFAULT_GROUPS:
        data["group_name"] = DEFAULT_GROUPS[object_type]
    if data.get("type") == "bool" and data["options"] == []:
        data["options"] = [dict(option) for option in BOOL_OPTIONS]
    if data.get("description") is None:
        data["description"] = ""
    return data
