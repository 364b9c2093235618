"""Validate a contact's custom_properties against the organization's contact definitions.

Values follow HubSpot's semantics (CRM-APIS.md §1.7): a date is `YYYY-MM-DD` (or epoch
milliseconds at midnight UTC), a datetime ISO 8601 or epoch milliseconds, a bool
true/false (or "true"/"false"), a multi-select (enumeration + checkbox) several option
values separated by ';' or given as a list. An empty value (None or "") clears the
property and is always accepted.
"""

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from core.errors import InvalidInput

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STRING_MAX_LENGTH = 65536
MS_PER_DAY = 86_400_000


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip()).is_finite()
        except InvalidOperation:
            return False
    return False


def _date_error(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value % MS_PER_DAY:
            return "A date given in epoch milliseconds must be midnight UTC."
        return None
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        return "A date must be written YYYY-MM-DD."
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"'{value}' is not a real date."
    return None


def _datetime_error(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return "The epoch milliseconds are out of range."
        return None
    if isinstance(value, str):
        try:
            if parse_datetime(value) is not None:
                return None
        except ValueError:
            pass
        if DATE_PATTERN.match(value) and _date_error(value) is None:
            return None
    return "A datetime must be ISO 8601 (e.g. 2024-01-15T10:30:00Z) or epoch milliseconds."


def _enumeration_errors(value: Any, definition: dict) -> list[str]:
    allowed = [option["value"] for option in definition["options"] if isinstance(option, dict)]
    multiple = definition["field_type"] == "checkbox"
    if isinstance(value, list):
        if not multiple:
            return ["This property takes one option, not a list."]
        chosen = value
    elif isinstance(value, str):
        chosen = value.split(";") if multiple else [value]
    else:
        return ["The value must be one of the property's option values (text)."]
    errors = []
    for item in chosen:
        if not isinstance(item, str):
            errors.append("Each selected option must be text.")
        elif item not in allowed:
            errors.append(f"'{item}' is not one of the options: {', '.join(allowed)}.")
    return errors


def custom_property_value_errors(value: Any, definition: dict) -> list[str]:
    """Why `value` is not acceptable for a property defined by `definition` (empty: it is)."""
    if value is None or value == "":
        return []
    prop_type = definition["type"]
    if prop_type == "string":
        if not isinstance(value, str):
            return ["The value must be text."]
        if len(value) > STRING_MAX_LENGTH:
            return [f"The value has at most {STRING_MAX_LENGTH} characters."]
        return []
    if prop_type == "number":
        return [] if _is_number(value) else ["The value must be a number."]
    if prop_type == "bool":
        if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
            return []
        return ["The value must be true or false."]
    if prop_type == "date":
        error = _date_error(value)
        return [error] if error else []
    if prop_type == "datetime":
        error = _datetime_error(value)
        return [error] if error else []
    if prop_type == "enumeration":
        return _enumeration_errors(value, definition)
    return [f"Properties of type '{prop_type}' cannot be validated."]


CONTACT_DEFINITIONS_FLAG = "contact_property_definitions"


def organization_has_contact_definitions(*, organization_id: int) -> bool:
    from core.org_flags import org_flag
    from properties.models import ObjectType, PropertyDefinition

    return org_flag(
        CONTACT_DEFINITIONS_FLAG,
        organization_id,
        lambda: PropertyDefinition.objects.filter(
            organization_id=organization_id, object_type=ObjectType.CONTACTS
        ).exists(),
    )


def contact_custom_properties_validate(*, organization, values: dict) -> None:
    """Raise InvalidInput naming every bad custom property of a contact.

    Only applies when the organization has contact definitions; without any, the
    contacts app's own key and shape checks are all there is. Whether it has any is a
    cached flag (core/org_flags.py, forgotten by every write of a definition); when it has,
    one query per call reads them, so a definition changed a moment ago applies at once.
    """
    from properties.models import ObjectType, PropertyDefinition

    if not values or not organization_has_contact_definitions(organization_id=organization.pk):
        return
    definitions = {
        row["name"]: row
        for row in PropertyDefinition.objects.filter(
            organization=organization, object_type=ObjectType.CONTACTS
        ).values("name", "type", "field_type", "options")
    }
    if not definitions:
        return
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        definition = definitions.get(name)
        if definition is None:
            errors[name] = [f"'{name}' is not a defined contact property."]
            continue
        problems = custom_property_value_errors(value, definition)
        if problems:
            errors[name] = problems
    if errors:
        names = ", ".join(sorted(errors))
        raise InvalidInput(
            f"Invalid custom properties: {names}.",
            code="invalid_custom_properties",
            details={"custom_properties": errors},
        )
