"""Checks on contact values that every write path shares: API, admin, CSV import, from-event.

The organization's property definitions are checked separately by
properties.validation.contact_custom_properties_validate; these are the shape rules that
hold whether or not definitions exist.
"""

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from core.errors import InvalidInput

SOURCE_FIXED = ("event", "api", "import", "manual")
SOURCE_CRM_PATTERN = re.compile(r"^crm:[a-z0-9_]+$")
PROPERTY_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
CUSTOM_PROPERTIES_MAX_BYTES = 64 * 1024
TAG_MAX_LENGTH = 100
TAGS_MAX_COUNT = 100


def email_normalize(email: str | None) -> str:
    """Emails are compared and stored lower-cased, so one person is one contact."""
    return (email or "").strip().lower()


def source_is_valid(value: str) -> bool:
    return value in SOURCE_FIXED or bool(SOURCE_CRM_PATTERN.match(value or ""))


def source_validator(value: str) -> None:
    """Model-field validator (admin forms, CSV import)."""
    if not source_is_valid(value):
        raise ValidationError(
            "Source must be one of event, api, import, manual, or crm:<kind> "
            "(lower-case letters, digits, _).",
            code="invalid_source",
        )


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def custom_properties_errors(values: Any) -> dict[str, list[str]] | list[str]:
    """Return the problems with a custom_properties value: per key, or for the whole value."""
    if not isinstance(values, dict):
        return ["custom_properties must be a JSON object."]
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        problems = []
        if not isinstance(key, str) or not PROPERTY_KEY_PATTERN.match(key):
            problems.append(
                "Keys start with a lower-case letter and hold only a-z, 0-9 and _ (at most 100 characters)."
            )
        if isinstance(value, list):
            if not all(_scalar(item) and item is not None for item in value):
                problems.append("A list may hold only strings, numbers and booleans.")
        elif not _scalar(value):
            problems.append("A value must be a string, number, boolean, null, or a list of those.")
        # PostgreSQL cannot store U+0000 in text or jsonb; refuse it on every database alike.
        if any(
            isinstance(item, str) and "\x00" in item
            for item in (value if isinstance(value, list) else [value])
        ):
            problems.append("Null characters are not allowed.")
        if problems:
            errors[str(key)] = problems
    if errors:
        return errors
    size = len(json.dumps(values, cls=DjangoJSONEncoder, separators=(",", ":")).encode())
    if size > CUSTOM_PROPERTIES_MAX_BYTES:
        return [f"custom_properties is {size} bytes serialized; the limit is {CUSTOM_PROPERTIES_MAX_BYTES}."]
    return {}


def custom_properties_check(*, values: Any) -> None:
    """Raise InvalidInput, naming the field and each bad key."""
    errors = custom_properties_errors(values)
    if errors:
        names = ", ".join(sorted(errors)) if isinstance(errors, dict) else "custom_properties"
        raise InvalidInput(
            f"Invalid custom properties: {names}.",
            code="invalid_custom_properties",
            details={"custom_properties": errors},
        )


def contact_identity_check(*, email: str | None, first_name: str | None, last_name: str | None) -> None:
    """A contact is someone: it needs an email or a first or last name (a create, a PUT, any edit)."""
    if (email or "").strip() or (first_name or "").strip() or (last_name or "").strip():
        return
    message = "A contact needs an email or a name (first_name or last_name)."
    raise InvalidInput(
        message,
        code="contact_identity_required",
        details={"email": [message], "first_name": [message], "last_name": [message]},
    )


def tags_normalize(tags: Any) -> list[str]:
    """Strip, drop empties and duplicates (keeping the first spelling and order); validate."""
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidInput(
            "tags must be a list of strings.",
            code="validation_error",
            details={"tags": ["Not a list of strings."]},
        )
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    too_long = [tag for tag in cleaned if len(tag) > TAG_MAX_LENGTH]
    if too_long or len(cleaned) > TAGS_MAX_COUNT:
        raise InvalidInput(
            "Too many or too long tags.",
            code="validation_error",
            details={"tags": [f"At most {TAGS_MAX_COUNT} tags of at most {TAG_MAX_LENGTH} characters each."]},
        )
    return cleaned
