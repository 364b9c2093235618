"""Create, update and delete contacts: validated, audited, announced after commit."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.actors import Actor
from accounts.models import Organization
from accounts.services import audit_event_build, audit_record, audit_record_many
from contacts.models import Contact
from contacts.services.common import actor_fields, jsonable
from contacts.signals import contacts_changed_on_commit
from contacts.validation import (
    contact_identity_check,
    custom_properties_check,
    email_normalize,
    source_is_valid,
    tags_normalize,
)
from core.bulk import insert_together
from core.changes import changes_apply
from core.errors import Conflict, InvalidInput

EDITABLE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "subtype",
    "status",
    "source",
    "tags",
    "notes",
    "custom_properties",
)


def _duplicate_email(*, organization: Organization, email: str, exclude_pk=None) -> Conflict | None:
    existing = Contact.objects.filter(organization=organization, email=email)
    if exclude_pk is not None:
        existing = existing.exclude(pk=exclude_pk)
    existing_id = existing.values_list("pk", flat=True).first()
    if existing_id is None:
        return None
    return Conflict(
        "A contact with this email already exists in the organization.",
        code="duplicate_email",
        details={"existing_id": str(existing_id), "email": email},
    )


def contact_values_clean(*, organization: Organization, data: dict[str, Any]) -> dict[str, Any]:
    """Normalise and check the given contact fields; raise InvalidInput naming the bad ones.

    Shared by every write path (API, admin form, CSV import, from-event) so they agree.
    """
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            "Unknown contact fields.",
            code="validation_error",
            details={name: ["Unknown field."] for name in unknown},
        )
    values = dict(data)
    for name in EDITABLE_FIELDS:
        if name in values and values[name] is None and name not in ("tags", "custom_properties"):
            values[name] = ""
    if "email" in values:
        values["email"] = email_normalize(values["email"])
    if "tags" in values:
        values["tags"] = tags_normalize(values["tags"] if values["tags"] is not None else [])
    if "source" in values and not source_is_valid(values["source"]):
        raise InvalidInput(
            "Invalid source.",
            code="validation_error",
            details={"source": ["Use event, api, import, manual, or crm:<kind>."]},
        )
    if "custom_properties" in values:
        if values["custom_properties"] is None:
            values["custom_properties"] = {}
        custom_properties_check(values=values["custom_properties"])
        from properties.validation import contact_custom_properties_validate

        contact_custom_properties_validate(organization=organization, values=values["custom_properties"])
    return values


def _full_clean(contact: Contact, *, fields: list[str]) -> None:
    """Model-level checks (lengths, choices, email syntax) for the fields being written."""
    exclude = [f.name for f in Contact._meta.fields if f.name not in fields]
    try:
        contact.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", code="validation_error", details=exc.message_dict)


def _snapshot(contact: Contact, fields=EDITABLE_FIELDS) -> dict[str, Any]:
    return jsonable({name: getattr(contact, name) for name in fields})


def contact_create(
    *,
    organization: Organization,
    actor: Actor,
    data: dict[str, Any],
    audit_action: str = "contact.created",
) -> Contact:
    """Create a contact; an email already used in the organization is a Conflict naming the existing id.

    The unique constraint finds the duplicate, not a query before the INSERT: the contact and
    its audit event are written together or not at all, and an IntegrityError leaves neither
    before the existing contact is looked up for the Conflict. Both rows are built first and
    written by insert_together: on PostgreSQL one statement (a request's one round trip; a
    savepoint around it inside a caller's transaction), on SQLite two INSERTs back to back in
    one atomic block, so the write lock is not held while the ORM builds them. Nothing is read
    back; the contact is announced after the commit.
    """
    values = contact_values_clean(organization=organization, data=data)
    contact = Contact(organization=organization, **values, **actor_fields(actor))
    contact_identity_check(email=contact.email, first_name=contact.first_name, last_name=contact.last_name)
    _full_clean(contact, fields=list(values))
    set_fields = [name for name in EDITABLE_FIELDS if getattr(contact, name) not in ("", [], {}, None)]
    contact.search_text_refresh()  # what save() would do
    audit = audit_event_build(
        organization=organization,
        actor=actor,
        action=audit_action,
        object_type="contact",
        object_id=contact.pk,
        changes=_snapshot(contact, set_fields),
    )
    try:
        insert_together(contact, audit)
    except IntegrityError:
        conflict = contact.email and _duplicate_email(organization=organization, email=contact.email)
        if conflict:
            raise conflict
        raise
    contacts_changed_on_commit(
        organization=organization, contact_ids=[contact.pk], fields=set_fields, action="created"
    )
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, actor: Actor, data: dict[str, Any]) -> tuple[Contact, list[str]]:
    """Apply the given fields; return the contact and the names of the fields that changed.

    The row is locked while it changes so the audit's old values are the real ones. A
    write that changes nothing records nothing and announces nothing.
    """
    values = contact_values_clean(organization=contact.organization, data=data)
    locked = Contact.objects.select_for_update().select_related("organization").get(pk=contact.pk)
    changes = changes_apply(locked, values)
    if not changes:
        return locked, []
    contact_identity_check(email=locked.email, first_name=locked.first_name, last_name=locked.last_name)
    _full_clean(locked, fields=list(changes))
    if "email" in changes and locked.email:
        conflict = _duplicate_email(
            organization=locked.organization, email=locked.email, exclude_pk=locked.pk
        )
        if conflict:
            raise conflict
    try:
        with transaction.atomic():
            locked.save(update_fields=[*changes, "updated_at"])
    except IntegrityError:
        conflict = _duplicate_email(
            organization=locked.organization, email=locked.email, exclude_pk=locked.pk
        )
        if conflict:
            raise conflict
        raise
    audit_record(
        organization=locked.organization,
        actor=actor,
        action="contact.updated",
        object_type="contact",
        object_id=locked.pk,
        changes=jsonable(changes),
    )
    contacts_changed_on_commit(
        organization=locked.organization, contact_ids=[locked.pk], fields=list(changes), action="updated"
    )
    return locked, list(changes)


@transaction.atomic
def contact_delete(*, contact: Contact, actor: Actor) -> None:
    """Delete a contact and its registrations; the audit keeps who it was."""
    audit_record(
        organization=contact.organization,
        actor=actor,
        action="contact.deleted",
        object_type="contact",
        object_id=contact.pk,
        changes=_snapshot(contact, ("email", "first_name", "last_name", "company")),
    )
    contact.delete()


@transaction.atomic
def contacts_delete_many(*, contacts, actor: Actor) -> int:
    """Delete a queryset of contacts (any organizations) with one audit event each, in bulk."""
    rows = list(contacts.values("pk", "organization_id", "email", "first_name", "last_name", "company"))
    by_org: dict[int, list[dict]] = {}
    for row in rows:
        by_org.setdefault(row["organization_id"], []).append(row)
    for organization_id, org_rows in by_org.items():
        audit_record_many(
            organization=Organization(pk=organization_id),
            actor=actor,
            events=[
                {
                    "action": "contact.deleted",
                    "object_type": "contact",
                    "object_id": row["pk"],
                    "changes": {k: row[k] for k in ("email", "first_name", "last_name", "company")},
                }
                for row in org_rows
            ],
        )
    Contact.objects.filter(pk__in=[row["pk"] for row in rows]).delete()
    return len(rows)
