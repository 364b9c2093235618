"""Writes to property definitions: create, update, delete, and load a JSON file all-or-nothing."""

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record, audit_record_many
from core.errors import Conflict, InvalidInput
from properties import rules
from properties.models import PropertyDefinition

EDITABLE_FIELDS = (
    "label",
    "type",
    "field_type",
    "group_name",
    "description",
    "options",
    "display_order",
    "hidden",
)
# HubSpot never renames a property: keep the local key as stable as the CRM's.
IMMUTABLE_FIELDS = ("object_type", "name")


def _invalid(errors: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput(
        "The property definition is invalid.", code="invalid_property_definition", details=errors
    )


def _snapshot(definition: PropertyDefinition) -> dict[str, Any]:
    return {name: getattr(definition, name) for name in ("object_type", "name", *EDITABLE_FIELDS)}


@transaction.atomic
def property_definition_create(*, organization, actor: Actor, data: dict) -> PropertyDefinition:
    """Create one definition after checking every rule (400 listing all errors, 409 on a taken name)."""
    object_type = data.get("object_type", "contacts")
    values = rules.definition_normalize({**data, "object_type": object_type}, object_type=object_type)
    errors = rules.definition_errors(values)
    if errors:
        raise _invalid(errors)
    existing = PropertyDefinition.objects.filter(
        organization=organization, object_type=object_type, name=values["name"]
    ).first()
    if existing is not None:
        raise Conflict(
            f"A {object_type} property named '{values['name']}' already exists.",
            code="property_exists",
            details={"existing_id": existing.pk},
        )
    definition = PropertyDefinition(organization=organization, object_type=object_type, name=values["name"])
    for name in EDITABLE_FIELDS:
        if name in values:
            setattr(definition, name, values[name])
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError:  # a concurrent create of the same name won the race
        raise Conflict(
            f"A {object_type} property named '{values['name']}' already exists.", code="property_exists"
        )
    audit_record(
        organization=organization,
        actor=actor,
        action="property_definition.create",
        object_type="property_definition",
        object_id=definition.pk,
        changes=_snapshot(definition),
    )
    return definition


@transaction.atomic
def property_definition_update(
    *, definition: PropertyDefinition, actor: Actor, data: dict
) -> PropertyDefinition:
    """Change the editable fields; name and object type are fixed once created (the CRM's key)."""
    errors: dict[str, list[str]] = {}
    for name in IMMUTABLE_FIELDS:
        if name in data and data[name] != getattr(definition, name):
            errors.setdefault(name, []).append(
                f"The {name} of a property cannot be changed; create a new one."
            )
    values = {**definition.as_rule_data(), **{k: v for k, v in data.items() if k in EDITABLE_FIELDS}}
    values = rules.definition_normalize(values, object_type=definition.object_type)
    for name, messages in rules.definition_errors(values).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        raise _invalid(errors)
    before = _snapshot(definition)
    changed = [name for name in EDITABLE_FIELDS if values[name] != getattr(definition, name)]
    if not changed:
        return definition
    for name in changed:
        setattr(definition, name, values[name])
    definition.save(update_fields=[*changed, "updated_at"])
    audit_record(
        organization=definition.organization,
        actor=actor,
        action="property_definition.update",
        object_type="property_definition",
        object_id=definition.pk,
        changes={name: {"from": before[name], "to": values[name]} for name in changed},
    )
    return definition


@transaction.atomic
def property_definition_delete(*, definition: PropertyDefinition, actor: Actor) -> None:
    """Delete the local definition only; the CRM keeps its property (and its values)."""
    snapshot = _snapshot(definition)
    definition_id = definition.pk
    definition.delete()
    audit_record(
        organization=definition.organization,
        actor=actor,
        action="property_definition.delete",
        object_type="property_definition",
        object_id=definition_id,
        changes=snapshot,
    )


@dataclass
class LoadResult:
    object_type: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def property_entries_errors(*, entries: Any, object_type: str) -> list[dict]:
    """Every problem of every entry of a file, as [{index, name, errors}]; empty when all are valid."""
    if not isinstance(entries, list):
        return [{"index": None, "name": None, "errors": {"file": ["Expected a JSON array of properties."]}}]
    problems = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(
                {"index": index, "name": None, "errors": {"entry": ["Each entry must be an object."]}}
            )
            continue
        values = rules.definition_normalize(rules.definition_from_json(entry), object_type=object_type)
        errors = rules.definition_errors(values)
        name = values.get("name")
        if isinstance(name, str) and name in seen:
            errors.setdefault("name", []).append(f"'{name}' is also defined by entry {seen[name]}.")
        elif isinstance(name, str):
            seen[name] = index
        if errors:
            problems.append({"index": index, "name": name, "errors": errors})
    return problems


@transaction.atomic
def property_definitions_load(*, organization, object_type: str, entries: Any, actor: Actor) -> LoadResult:
    """Create or update definitions from one file's entries: all of them, or none.

    Every invalid entry is reported (InvalidInput, details.entries) and nothing is
    written. Definitions the file does not mention are left alone.
    """
    if object_type not in rules.OBJECT_TYPES:
        raise InvalidInput(
            f"Unknown object type '{object_type}'.",
            code="invalid_object_type",
            details={"object_type": object_type},
        )
    problems = property_entries_errors(entries=entries, object_type=object_type)
    if problems:
        raise InvalidInput(
            f"{len(problems)} invalid property definition(s); nothing was loaded.",
            code="invalid_property_file",
            details={"entries": problems},
        )
    existing = {
        definition.name: definition
        for definition in PropertyDefinition.objects.select_for_update().filter(
            organization=organization, object_type=object_type
        )
    }
    result = LoadResult(object_type=object_type)
    now = timezone.now()
    to_create, to_update, events = [], [], []
    for entry in entries:
        values = rules.definition_normalize(rules.definition_from_json(entry), object_type=object_type)
        definition = existing.get(values["name"])
        if definition is None:
            definition = PropertyDefinition(
                organization=organization, object_type=object_type, name=values["name"]
            )
            for name in EDITABLE_FIELDS:
                setattr(definition, name, values[name])
            to_create.append(definition)
            result.created.append(definition.name)
            continue
        changed = {
            name: {"from": getattr(definition, name), "to": values[name]}
            for name in EDITABLE_FIELDS
            if values[name] != getattr(definition, name)
        }
        if not changed:
            result.unchanged.append(definition.name)
            continue
        for name, change in changed.items():
            setattr(definition, name, change["to"])
        definition.updated_at = now  # bulk_update skips auto_now
        to_update.append(definition)
        result.updated.append(definition.name)
        events.append(
            {
                "action": "property_definition.update",
                "object_type": "property_definition",
                "object_id": definition.pk,
                "changes": changed,
            }
        )
    PropertyDefinition.objects.bulk_create(to_create)
    if to_create:
        from core.org_flags import org_flag_forget
        from properties.validation import CONTACT_DEFINITIONS_FLAG

        org_flag_forget(CONTACT_DEFINITIONS_FLAG, organization.pk)
    if to_update:
        PropertyDefinition.objects.bulk_update(to_update, [*EDITABLE_FIELDS, "updated_at"])
    created_ids = dict(
        PropertyDefinition.objects.filter(
            organization=organization, object_type=object_type, name__in=result.created
        ).values_list("name", "pk")
    )
    events += [
        {
            "action": "property_definition.create",
            "object_type": "property_definition",
            "object_id": created_ids[name],
            "changes": {"source": "load"},
        }
        for name in result.created
    ]
    if events:
        audit_record_many(organization=organization, actor=actor, events=events)
    return result
