"""Events and registrations: create, update, delete; every write audited."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import Organization
from accounts.services import audit_record
from contacts.models import Contact, Event, Registration
from contacts.services.common import jsonable
from contacts.signals import contacts_changed_on_commit
from core.changes import changes_apply
from core.errors import Conflict, InvalidInput

EVENT_FIELDS = ("name", "description", "starts_at", "ends_at", "location", "external_id")


def _duplicate_external_id(
    *, organization: Organization, external_id: str, exclude_pk=None
) -> Conflict | None:
    existing = Event.objects.filter(organization=organization, external_id=external_id)
    if exclude_pk is not None:
        existing = existing.exclude(pk=exclude_pk)
    existing_id = existing.values_list("pk", flat=True).first()
    if existing_id is None:
        return None
    return Conflict(
        "An event with this external_id already exists in the organization.",
        code="duplicate_external_id",
        details={"existing_id": str(existing_id), "external_id": external_id},
    )


def _event_check(event: Event, *, fields: list[str]) -> None:
    if not (event.name or "").strip():
        raise InvalidInput(
            "An event needs a name.", code="validation_error", details={"name": ["This field is required."]}
        )
    if event.starts_at and event.ends_at and event.ends_at < event.starts_at:
        raise InvalidInput(
            "ends_at must not be before starts_at.",
            code="validation_error",
            details={"ends_at": ["Must not be before starts_at."]},
        )
    exclude = [f.name for f in Event._meta.fields if f.name not in fields]
    try:
        event.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", code="validation_error", details=exc.message_dict)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(EVENT_FIELDS))
    if unknown:
        raise InvalidInput(
            "Unknown event fields.",
            code="validation_error",
            details={name: ["Unknown field."] for name in unknown},
        )
    values = dict(data)
    for name in ("name", "description", "location", "external_id"):
        if name in values:
            values[name] = (values[name] or "").strip()
    return values


def _save(event: Event, **kwargs) -> None:
    try:
        with transaction.atomic():
            event.save(**kwargs)
    except IntegrityError:
        conflict = event.external_id and _duplicate_external_id(
            organization=event.organization, external_id=event.external_id, exclude_pk=event.pk
        )
        if conflict:
            raise conflict
        raise


@transaction.atomic
def event_create(*, organization: Organization, actor: Actor, data: dict[str, Any]) -> Event:
    values = _clean(data)
    event = Event(organization=organization, **values)
    _event_check(event, fields=list(values))
    if event.external_id:
        conflict = _duplicate_external_id(organization=organization, external_id=event.external_id)
        if conflict:
            raise conflict
    _save(event, force_insert=True)
    audit_record(
        organization=organization,
        actor=actor,
        action="event.created",
        object_type="event",
        object_id=event.pk,
        changes=jsonable({name: getattr(event, name) for name in EVENT_FIELDS}),
    )
    return event


@transaction.atomic
def event_update(*, event: Event, actor: Actor, data: dict[str, Any]) -> tuple[Event, list[str]]:
    values = _clean(data)
    locked = Event.objects.select_for_update().select_related("organization").get(pk=event.pk)
    changes = changes_apply(locked, values)
    if not changes:
        return locked, []
    _event_check(locked, fields=list(changes))
    if "external_id" in changes and locked.external_id:
        conflict = _duplicate_external_id(
            organization=locked.organization, external_id=locked.external_id, exclude_pk=locked.pk
        )
        if conflict:
            raise conflict
    _save(locked, update_fields=[*changes, "updated_at"])
    audit_record(
        organization=locked.organization,
        actor=actor,
        action="event.updated",
        object_type="event",
        object_id=locked.pk,
        changes=jsonable(changes),
    )
    return locked, list(changes)


@transaction.atomic
def event_delete(*, event: Event, actor: Actor) -> None:
    """Delete an event with its registrations; the audit keeps its name and how many there were."""
    audit_record(
        organization=event.organization,
        actor=actor,
        action="event.deleted",
        object_type="event",
        object_id=event.pk,
        changes={
            "name": event.name,
            "external_id": event.external_id,
            "registrations": event.registrations.count(),
        },
    )
    event.delete()


@transaction.atomic
def registration_create(
    *,
    event: Event,
    contact: Contact,
    actor: Actor,
    source: str = "",
    properties: dict | None = None,
    registered_at: datetime | None = None,
) -> tuple[Registration, bool]:
    """Register a contact for an event; registering again returns the existing registration."""
    return registration_add(
        event=event,
        contact=contact,
        actor=actor,
        source=source,
        properties=properties,
        registered_at=registered_at,
    )


def registration_add(
    *,
    event: Event,
    contact: Contact,
    actor: Actor,
    source: str = "",
    properties: dict | None = None,
    registered_at: datetime | None = None,
    contact_is_new: bool = False,
) -> tuple[Registration, bool]:
    """registration_create's work, for callers already inside a transaction (from-event).

    `contact_is_new`: the contact was inserted by this same, uncommitted transaction, so no
    other can have registered it: the registration is inserted straight away, without looking
    for an existing one or a savepoint to recover from a concurrent insert.
    """
    if event.organization_id != contact.organization_id:
        raise InvalidInput(
            "The event and the contact belong to different organizations.",
            code="validation_error",
            details={"event": ["Not an event of the contact's organization."]},
        )
    if properties is not None and not isinstance(properties, dict):
        raise InvalidInput(
            "Registration properties must be an object.",
            code="validation_error",
            details={"properties": ["Not an object."]},
        )
    registration = Registration(
        event=event,
        contact=contact,
        source=(source or "")[:64],
        properties=jsonable(properties or {}),
        registered_at=registered_at or timezone.now(),
    )
    if contact_is_new:
        registration.save(force_insert=True)
    else:
        existing = Registration.objects.filter(event=event, contact=contact).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                registration.save(force_insert=True)
        except IntegrityError:
            # A concurrent request registered the same pair first: that one is the registration.
            return Registration.objects.get(event=event, contact=contact), False
    # Recorded against the contact so its history shows what it registered for.
    audit_record(
        organization=contact.organization,
        actor=actor,
        action="registration.created",
        object_type="contact",
        object_id=contact.pk,
        changes={
            "registration_id": registration.pk,
            "event_id": str(event.pk),
            "event_name": event.name,
            "source": registration.source,
        },
    )
    contacts_changed_on_commit(
        organization=contact.organization,
        contact_ids=[contact.pk],
        fields=["registrations"],
        action="registered",
    )
    return registration, True


@transaction.atomic
def registration_update(*, registration: Registration, actor: Actor, data: dict[str, Any]) -> Registration:
    """Change a registration's source or properties (the admin inline)."""
    changes = {
        name: [getattr(registration, name), value]
        for name, value in data.items()
        if name in ("source", "properties") and getattr(registration, name) != value
    }
    if not changes:
        return registration
    for name, (_, value) in changes.items():
        setattr(registration, name, value)
    registration.save(update_fields=list(changes))
    audit_record(
        organization=registration.contact.organization,
        actor=actor,
        action="registration.updated",
        object_type="contact",
        object_id=registration.contact_id,
        changes=jsonable({"registration_id": registration.pk, "event_id": registration.event_id, **changes}),
    )
    return registration


@transaction.atomic
def registration_delete(*, registration: Registration, actor: Actor) -> None:
    audit_record(
        organization=registration.contact.organization,
        actor=actor,
        action="registration.deleted",
        object_type="contact",
        object_id=registration.contact_id,
        changes=jsonable(
            {
                "registration_id": registration.pk,
                "event_id": registration.event_id,
                "event_name": registration.event.name,
            }
        ),
    )
    registration.delete()
