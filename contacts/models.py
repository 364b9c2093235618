"""Contacts, events, registrations, and the Idempotency-Key record of the contacts API."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from accounts.models import AuditEvent, Organization, OrganizationAPIKey
from contacts.lookups import JSONListField
from contacts.validation import source_validator
from core.searchtext import search_text_of

# What unified search matches in a contact, name first (core/searchtext.py).
SEARCH_FIELDS = ("first_name", "last_name", "email", "phone", "company")


class Contact(models.Model):
    class Subtype(models.TextChoices):
        LEAD = "lead", "Lead"
        CUSTOMER = "customer", "Customer"
        PROSPECT = "prospect", "Prospect"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    class Source(models.TextChoices):
        """The fixed sources; `crm:<kind>` (a contact pulled from a CRM) is also valid."""

        EVENT = "event", "Event"
        API = "api", "API"
        IMPORT = "import", "Import"
        MANUAL = "manual", "Manual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contacts")
    # Blank (not NULL) when absent; stored lower-case so the unique constraint is case-insensitive.
    email = models.EmailField(max_length=254, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    job_title = models.CharField(max_length=200, blank=True, default="")
    subtype = models.CharField(max_length=16, choices=Subtype.choices, default=Subtype.LEAD)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=64, default=Source.MANUAL, validators=[source_validator])
    tags = JSONListField(default=list, blank=True)
    notes = models.TextField(blank=True, default="")
    custom_properties = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who created the contact, shaped like AuditEvent's actor; the FKs outlive their targets as NULL.
    created_by_type = models.CharField(
        max_length=16, choices=AuditEvent.ActorType.choices, default=AuditEvent.ActorType.SYSTEM
    )
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        OrganizationAPIKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SEARCH_FIELDS folded (core/searchtext.py), kept by save() and by the bulk writers; indexed
    # by a GIN index on PostgreSQL and an FTS5 table on SQLite (crm_sync/search_index.py).
    search_text = models.TextField(blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=~Q(email=""),
                name="contacts_contact_unique_email_per_org",
                violation_error_message="A contact with this email already exists in the organization.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="contact_org_created_idx"),
            models.Index(fields=["organization", "-updated_at"], name="contact_org_updated_idx"),
            models.Index(fields=["organization", "subtype"], name="contact_org_subtype_idx"),
            models.Index(fields=["organization", "status"], name="contact_org_status_idx"),
            models.Index(fields=["organization", "source"], name="contact_org_source_idx"),
            models.Index(fields=["organization", "last_name", "first_name"], name="contact_org_name_idx"),
        ]

    def __str__(self) -> str:
        return self.email or self.full_name or str(self.pk)

    def save(self, *args, **kwargs):
        self.search_text_refresh()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(SEARCH_FIELDS):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def search_text_refresh(self) -> None:
        """Recompute the indexed text; bulk writers call it (bulk_create and UPDATEs skip save())."""
        self.search_text = search_text_of(*(getattr(self, name) for name in SEARCH_FIELDS))


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=255, blank=True, default="")
    # The id of the event in the system that sells or announces it (a form, a ticketing site).
    external_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="contacts_event_unique_external_id_per_org",
                violation_error_message="An event with this external_id already exists in the organization.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gte=models.F("starts_at")),
                name="contacts_event_ends_after_start",
                violation_error_message="ends_at must not be before starts_at.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-starts_at"], name="event_org_starts_idx"),
            models.Index(fields=["organization", "name"], name="event_org_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="registrations")
    registered_at = models.DateTimeField()
    source = models.CharField(max_length=64, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-registered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "contact"], name="contacts_registration_unique_event_contact"
            ),
        ]
        indexes = [models.Index(fields=["event", "-registered_at"], name="registration_event_at_idx")]

    def __str__(self) -> str:
        return f"{self.contact} → {self.event}"

    def clean(self) -> None:
        """Refuse a registration that links rows of two organizations (the admin inline can try)."""
        event = self.event if self.event_id else None
        contact = self.contact if "contact" in self._state.fields_cache or self.contact_id else None
        if event and contact and contact.organization_id and event.organization_id != contact.organization_id:
            raise ValidationError({"event": "The event belongs to another organization."})


class IdempotencyKey(models.Model):
    """The first successful response to a POST sent with an Idempotency-Key header.

    A retry with the same key and body within the TTL replays it instead of writing again;
    the unique constraint makes concurrent duplicates wait for, then replay, the first.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="contacts_idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
