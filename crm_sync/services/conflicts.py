"""Conflicts a pull leaves for review: record them, and settle them by a person's choice.

A conflict holds, per field, the value the two sides last agreed on (`base`), the local
value and the CRM's value when the pull saw them. Field names are the contact's own
fields (first_name, phone, ...) or, for any other name, a custom property.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from contacts.models import Contact
from contacts.services.common import jsonable
from contacts.services.contacts import EDITABLE_FIELDS as CONTACT_FIELDS
from contacts.services.contacts import contact_update
from core.errors import Conflict, InvalidInput
from crm_sync.models import ContactSyncState, SyncConflict
from crm_sync.services.merge import FieldConflict, values_equal
from crm_sync.services.payloads import contact_properties, payload_hash
from crm_sync.services.queueing import contact_queue_for_connection

CHOICES = ("local", "remote")
# Contact fields a conflict may name; any other name is a custom property.
CONTACT_FIELD_NAMES = frozenset(name for name in CONTACT_FIELDS if name != "custom_properties")


def _stored(conflicts: dict[str, FieldConflict]) -> dict[str, dict[str, Any]]:
    return jsonable(
        {name: {"base": c.base, "local": c.local, "remote": c.remote} for name, c in conflicts.items()}
    )


@transaction.atomic
def conflict_record(
    *, contact: Contact, connection, conflicts: dict[str, FieldConflict], remote_updated_at: datetime | None
) -> SyncConflict | None:
    """Record the fields a pull left in conflict; the open conflict of (contact, connection) absorbs them.

    A later pull's values replace the earlier ones field by field (the CRM's latest value is
    the one to review); fields no longer in conflict in that pull stay until resolved, since
    a pull that does not list a field says nothing about it. None when there is nothing to record.
    """
    if not conflicts:
        return None
    fields = _stored(conflicts)
    for _attempt in range(2):
        existing = (
            SyncConflict.objects.select_for_update()
            .filter(contact=contact, connection=connection, status=SyncConflict.Status.OPEN)
            .first()
        )
        if existing is not None:
            existing.fields = {**existing.fields, **fields}
            if remote_updated_at is not None:
                existing.remote_updated_at = remote_updated_at
            existing.save(update_fields=["fields", "remote_updated_at", "updated_at"])
            return existing
        try:
            with transaction.atomic():
                return SyncConflict.objects.create(
                    organization_id=contact.organization_id,
                    connection=connection,
                    contact=contact,
                    fields=fields,
                    remote_updated_at=remote_updated_at,
                )
        except IntegrityError:
            continue  # another pull opened it between the read and the insert: update that one
    raise Conflict(
        "Could not record the conflict; try again.",
        code="conflict_busy",
        details={"contact_id": str(contact.pk), "connection_id": connection.pk},
    )


def _pushed_hash(contact: Contact, connection) -> str:
    """The digest a push of the contact to `connection` records (crm_sync.services.payloads)."""
    return payload_hash(
        email=contact.email, properties=contact_properties(contact), field_mapping=connection.field_mapping
    )


def conflict_field_value(contact: Contact, name: str) -> Any:
    if name in CONTACT_FIELD_NAMES:
        return getattr(contact, name)
    return (contact.custom_properties or {}).get(name)


def resolution_parse(*, conflict: SyncConflict, choice: Any, fields: Any) -> dict[str, dict[str, Any]]:
    """{field: {"choice", "value"}} from a whole-record choice or a per-field one; 400 on anything else.

    Per field: "local", "remote", or {"value": <custom value>}. Every field in conflict must
    be named, so a resolution never leaves half a record undecided.
    """
    if (choice is None) == (fields is None):
        raise InvalidInput(
            'Give either "choice" ("local" or "remote") or "fields", not both and not neither.',
            code="validation_error",
            details={"choice": ["Exactly one of choice and fields."]},
        )
    names = list(conflict.fields)
    if choice is not None:
        if choice not in CHOICES:
            raise InvalidInput(
                f"Unknown choice {choice!r}; valid: local, remote.",
                code="validation_error",
                details={"choice": ["One of local, remote."]},
            )
        fields = dict.fromkeys(names, choice)
    if not isinstance(fields, dict):
        raise InvalidInput(
            '"fields" must be an object of field → choice.',
            code="validation_error",
            details={"fields": ["Must be an object."]},
        )
    errors: dict[str, list[str]] = {}
    for name in fields:
        if name not in conflict.fields:
            errors[str(name)] = ["Not a field of this conflict."]
    for name in names:
        if name not in fields:
            errors[name] = ['Missing: choose "local", "remote" or {"value": ...}.']
    resolution = {}
    for name, picked in fields.items():
        if name in errors:
            continue
        if picked in CHOICES:
            resolution[name] = {"choice": picked}
        elif isinstance(picked, dict) and set(picked) == {"value"}:
            resolution[name] = {"choice": "custom", "value": picked["value"]}
        else:
            errors[name] = ['Choose "local", "remote" or {"value": ...}.']
    if errors:
        raise InvalidInput("The resolution is invalid.", code="validation_error", details={"fields": errors})
    return resolution


@transaction.atomic
def conflict_resolve(
    *, conflict: SyncConflict, choice: str | None = None, fields: dict | None = None, actor: Actor
) -> SyncConflict:
    """Settle a conflict: apply the chosen values to the contact, move the base, push a local win.

    The contact is written through the contacts service, so a value is validated like any
    contact update; a refused value leaves the conflict open and nothing written. The base
    becomes the CRM's value for every field (that value is now known and accounted for), so
    a field whose winner is local reads as a local change, and the contact is queued for the
    connection with its pushed hash cleared so the push is not skipped as unchanged. A pull
    before that push lands therefore neither undoes the choice nor reopens the conflict.
    Resolving a resolved conflict is a 409.
    """
    locked = (
        SyncConflict.objects.select_for_update()
        .select_related("connection", "organization")
        .filter(pk=conflict.pk)
        .first()
    )
    if locked is None or locked.status != SyncConflict.Status.OPEN:
        raise Conflict(
            "This conflict is already resolved.",
            code="conflict_already_resolved",
            details={"conflict_id": conflict.pk, "resolved_at": getattr(locked, "resolved_at", None)},
        )
    resolution = resolution_parse(conflict=locked, choice=choice, fields=fields)
    contact = Contact.objects.select_related("organization").get(pk=locked.contact_id)
    updates: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    push = False
    for name, picked in resolution.items():
        current = conflict_field_value(contact, name)
        if picked["choice"] == "local":
            picked["value"] = current
            push = push or not values_equal(current, locked.fields[name]["remote"])
        else:
            if picked["choice"] == "remote":
                picked["value"] = locked.fields[name]["remote"]
            else:
                push = push or not values_equal(picked["value"], locked.fields[name]["remote"])
            if not values_equal(picked["value"], current):
                target = updates if name in CONTACT_FIELD_NAMES else custom
                target[name] = picked["value"]
    if custom:
        updates["custom_properties"] = {**(contact.custom_properties or {}), **custom}
    hash_before = _pushed_hash(contact, locked.connection)
    if updates:
        contact, _changed = contact_update(contact=contact, actor=actor, data=updates)
    state = (
        ContactSyncState.objects.select_for_update()
        .filter(contact_id=contact.pk, connection=locked.connection)
        .only("pk", "base_values", "pushed_hash")
        .first()
    )
    if state is not None:  # a pulled contact has one; without it there is no base to move
        values = {
            "base_values": {
                **(state.base_values or {}),
                **{name: locked.fields[name]["remote"] for name in resolution},
            },
            "updated_at": timezone.now(),
        }
        if not push and state.pushed_hash == hash_before:
            # No echo: the CRM held everything but the fields now set to its own values, so the
            # re-queue the contact update triggers completes without sending them back.
            values["pushed_hash"] = _pushed_hash(contact, locked.connection)
        ContactSyncState.objects.filter(pk=state.pk).update(**values)
    queued = bool(push) and bool(
        contact_queue_for_connection(contact_id=contact.pk, connection=locked.connection)
    )
    locked.status = SyncConflict.Status.RESOLVED
    locked.resolution = jsonable(resolution)
    locked.resolved_by_label = actor.label[:200]
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "resolution", "resolved_by_label", "resolved_at", "updated_at"])
    audit_record(
        organization=locked.organization,
        actor=actor,
        action="sync.conflict_resolved",
        object_type="contact",
        object_id=contact.pk,
        changes={
            "conflict_id": locked.pk,
            "connection_id": locked.connection_id,
            "crm": locked.connection.kind,
            "resolution": locked.resolution,
            "pushed": queued,
        },
    )
    locked.pushed = queued
    return locked
