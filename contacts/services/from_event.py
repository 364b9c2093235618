"""The registration flow of event forms: find or create the contact and the event, register, audit.

One transaction: a validation error anywhere leaves nothing written.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.actors import Actor
from accounts.models import Organization
from contacts.models import Contact, Event, Registration
from contacts.services.contacts import contact_create
from contacts.services.events import event_create, registration_add
from contacts.validation import email_normalize
from core.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class FromEventResult:
    contact: Contact
    event: Event
    registration: Registration
    contact_created: bool
    event_created: bool
    registration_created: bool


def _event_resolve(*, organization: Organization, actor: Actor, data: dict[str, Any]) -> tuple[Event, bool]:
    """Find the event by id, else by external_id, else by exact name; create it when absent.

    An existing event is used as it is: the form's other event fields do not overwrite it.
    Racing registrations create one event: by external_id its unique constraint decides, by
    name a lock on the organization's row. Runs inside contact_register_from_event's transaction.
    """
    events = Event.objects.filter(organization=organization)
    if data.get("id"):
        event = events.filter(pk=data["id"]).first()
        if event is None:
            raise NotFound(
                "No such event.", code="event_not_found", details={"event": {"id": str(data["id"])}}
            )
        return event, False
    fields = {name: value for name, value in data.items() if name != "id"}
    if fields.get("external_id"):
        event = events.filter(external_id=fields["external_id"]).first()
    elif (fields.get("name") or "").strip():
        event = events.filter(name__iexact=fields["name"].strip()).order_by("created_at").first()
    else:
        raise InvalidInput(
            "Say which event: id, external_id, or the name of an event to find or create.",
            code="validation_error",
            details={"event": {"name": ["Give id, external_id or name."]}},
        )
    if event is not None:
        return event, False
    if not (fields.get("name") or "").strip():
        raise InvalidInput(
            "A new event needs a name.",
            code="validation_error",
            details={"event": {"name": ["Required when the event does not exist yet."]}},
        )
    if not fields.get("external_id"):
        # Found by name alone: no constraint stops two racing registrations from each creating
        # the event (names may repeat on purpose). Creating one by name is serialized on the
        # organization's row until this transaction ends (NO KEY: inserts that only reference
        # the organization never wait), and the name is looked up again under it.
        Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).exists()
        event = events.filter(name__iexact=fields["name"].strip()).order_by("created_at").first()
        if event is not None:
            return event, False
    try:
        return event_create(organization=organization, actor=actor, data=fields), True
    except InvalidInput as exc:
        raise InvalidInput(exc.message, code=exc.code, details={"event": exc.details})
    except Conflict:
        # A concurrent registration created the event with this external_id first: use it.
        return events.get(external_id=fields["external_id"]), False


@transaction.atomic
def contact_register_from_event(
    *,
    organization: Organization,
    actor: Actor,
    contact_data: dict[str, Any],
    event_data: dict[str, Any],
    registration_data: dict[str, Any] | None = None,
) -> FromEventResult:
    """Find the contact by email (any case) or create it as an event lead, then register it.

    An existing contact is not modified; registering it twice returns the first registration.
    """
    email = email_normalize(contact_data.get("email"))
    if not email:
        raise InvalidInput(
            "The contact needs an email.",
            code="validation_error",
            details={"contact": {"email": ["Required."]}},
        )
    event, event_created = _event_resolve(organization=organization, actor=actor, data=event_data)
    contact = Contact.objects.filter(organization=organization, email=email).first()
    if contact is not None:
        contact.organization = organization  # the audit needs it; saves reading it again
    contact_created = False
    if contact is None:
        data = {
            **contact_data,
            "email": email,
            "subtype": Contact.Subtype.LEAD,
            "source": Contact.Source.EVENT,
        }
        try:
            contact = contact_create(
                organization=organization, actor=actor, data=data, audit_action="contact.created_from_event"
            )
            contact_created = True
        except Conflict:
            # A concurrent registration created this contact first.
            contact = Contact.objects.get(organization=organization, email=email)
            contact.organization = organization
        except InvalidInput as exc:
            raise InvalidInput(exc.message, code=exc.code, details={"contact": exc.details})
    registration_data = registration_data or {}
    registration, registration_created = registration_add(
        event=event,
        contact=contact,
        actor=actor,
        source=registration_data.get("source") or "",
        properties=registration_data.get("properties") or {},
        registered_at=registration_data.get("registered_at"),
        contact_is_new=contact_created,
    )
    return FromEventResult(
        contact=contact,
        event=event,
        registration=registration,
        contact_created=contact_created,
        event_created=event_created,
        registration_created=registration_created,
    )
