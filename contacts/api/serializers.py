"""Input serializers refuse unknown fields; output serializers only render."""

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from accounts.models import AuditEvent
from contacts.models import Contact, Event, Registration
from contacts.validation import source_is_valid
from core.serializers import StrictSerializer


def _text(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length, **kwargs)


class ContactFieldsSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, max_length=254)
    first_name = _text(150)
    last_name = _text(150)
    phone = _text(64)
    company = _text(200)
    job_title = _text(200)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True), required=False, max_length=100
    )
    notes = _text(100_000, trim_whitespace=False)
    custom_properties = serializers.DictField(required=False)


class ContactInputSerializer(ContactFieldsSerializer):
    subtype = serializers.ChoiceField(choices=Contact.Subtype.choices, required=False)
    status = serializers.ChoiceField(choices=Contact.Status.choices, required=False)
    source = serializers.CharField(required=False, max_length=64)

    def validate_source(self, value: str) -> str:
        if not source_is_valid(value):
            raise serializers.ValidationError("Use event, api, import, manual, or crm:<kind>.")
        return value


class ActorSerializer(serializers.Serializer):
    type = serializers.CharField(source="created_by_type")
    label = serializers.CharField(source="created_by_label")


_DATETIME = serializers.DateTimeField()


class ContactOutputSerializer(serializers.ModelSerializer):
    """A contact as the API shows it.

    The fields describe the shape (OpenAPI); `to_representation` builds the same dict directly,
    without DRF's per-field machinery, which cost more than the rest of a list page
    (tests/contacts/test_api_contacts.py checks both agree).
    """

    # Not format "email": a contact known only by name reads back with an empty email.
    email = serializers.CharField(read_only=True, help_text="Lower-case; empty when the contact has none.")
    created_by = ActorSerializer(source="*", read_only=True)

    def to_representation(self, contact: Contact) -> dict:
        return contact_representation(contact)

    class Meta:
        model = Contact
        fields = [
            "id",
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
            "created_at",
            "updated_at",
            "created_by",
        ]
        read_only_fields = fields


def contact_representation(contact: Contact) -> dict:
    """What ContactOutputSerializer's fields would render, field for field."""
    return {
        "id": str(contact.id),
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "company": contact.company,
        "job_title": contact.job_title,
        "subtype": contact.subtype,
        "status": contact.status,
        "source": contact.source,
        "tags": contact.tags,
        "notes": contact.notes,
        "custom_properties": contact.custom_properties,
        "created_at": _DATETIME.to_representation(contact.created_at),
        "updated_at": _DATETIME.to_representation(contact.updated_at),
        "created_by": {"type": contact.created_by_type, "label": contact.created_by_label},
    }


class HistoryEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "action", "actor_type", "actor_label", "changes", "created_at"]
        read_only_fields = fields


class EventInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = _text(100_000)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    location = _text(255)
    external_id = _text(200)

    def validate(self, attrs):
        if attrs.get("starts_at") and attrs.get("ends_at") and attrs["ends_at"] < attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["Must not be before starts_at."]})
        return attrs


class EventOutputSerializer(serializers.ModelSerializer):
    registration_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "description",
            "starts_at",
            "ends_at",
            "location",
            "external_id",
            "registration_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RegistrationContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "email", "first_name", "last_name", "company"]
        read_only_fields = fields


class RegistrationOutputSerializer(serializers.ModelSerializer):
    contact = RegistrationContactSerializer(read_only=True)

    class Meta:
        model = Registration
        fields = ["id", "event_id", "contact", "registered_at", "source", "properties"]
        read_only_fields = fields


class FromEventEventSerializer(StrictSerializer):
    id = serializers.UUIDField(required=False)
    external_id = _text(200)
    name = _text(200)
    description = _text(100_000)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    location = _text(255)


class FromEventContactSerializer(ContactFieldsSerializer):
    email = serializers.EmailField(max_length=254)


class FromEventRegistrationSerializer(StrictSerializer):
    source = _text(64)
    properties = serializers.DictField(required=False)
    registered_at = serializers.DateTimeField(required=False)


class FromEventInputSerializer(StrictSerializer):
    contact = FromEventContactSerializer()
    event = FromEventEventSerializer()
    registration = FromEventRegistrationSerializer(required=False)


class FromEventOutputSerializer(serializers.Serializer):
    contact_id = serializers.UUIDField()
    event_id = serializers.UUIDField()
    registration_id = serializers.IntegerField()
    contact_created = serializers.BooleanField()
    event_created = serializers.BooleanField()
    registration_created = serializers.BooleanField()
    contact = ContactOutputSerializer()


# The fast path of ContactInputSerializer for the bodies clients nearly always send.
#
# DRF builds the serializer's fields per instance (a deep copy of twelve field objects) and
# runs each through its validation machinery: more CPU than the rest of a create. This
# accepts only a body the serializer would accept, and returns what the serializer would
# return for it (tests/contacts/test_contact_input_fast.py compares both on a matrix of good
# and bad bodies); anything else (None, a non-string, a bad email, an unknown field, a value
# too long, ...) returns None and goes through the serializer, whose errors stay the only ones.
_TRIMMED_TEXT = {"first_name": 150, "last_name": 150, "phone": 64, "company": 200, "job_title": 200}
_CHOICES = {
    "subtype": {str(value): value for value, _ in Contact.Subtype.choices},
    "status": {str(value): value for value, _ in Contact.Status.choices},
}
_FAST_FIELDS = frozenset([*_TRIMMED_TEXT, *_CHOICES, "email", "tags", "notes", "custom_properties", "source"])
# What DRF's CharField refuses in any string: NUL and lone surrogates.
_PROHIBITED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _plain_text(value: Any) -> bool:
    return type(value) is str and _PROHIBITED_CHARACTERS.search(value) is None


def _fast_email(value: Any) -> str | None:
    if value is None or value == "":
        return value
    if not _plain_text(value):
        raise _Unsure
    value = value.strip()
    if value and len(value) <= 254:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise _Unsure
        return value
    raise _Unsure


class _Unsure(Exception):
    """The fast path cannot tell: the serializer decides."""


def contact_input_fast(data: Any) -> dict[str, Any] | None:
    """ContactInputSerializer(data=data).validated_data for a body it accepts, else None."""
    if type(data) is not dict or not data.keys() <= _FAST_FIELDS:
        return None
    values: dict[str, Any] = {}
    try:
        for name, value in data.items():
            if name in _TRIMMED_TEXT:
                if not _plain_text(value):
                    return None
                value = value.strip()
                if len(value) > _TRIMMED_TEXT[name]:
                    return None
            elif name == "email":
                value = _fast_email(value)
            elif name in _CHOICES:
                if type(value) is not str or value not in _CHOICES[name]:
                    return None
                value = _CHOICES[name][value]
            elif name == "source":
                if not _plain_text(value):
                    return None
                value = value.strip()
                if not value or len(value) > 64 or not source_is_valid(value):
                    return None
            elif name == "notes":
                if not _plain_text(value) or len(value) > 100_000:
                    return None
            elif name == "tags":
                if type(value) is not list or len(value) > 100:
                    return None
                if not all(_plain_text(tag) for tag in value):
                    return None
                value = [tag.strip() for tag in value]
                if any(len(tag) > 100 for tag in value):
                    return None
            else:  # custom_properties: any JSON object, keys as strings, values as given
                if type(value) is not dict:
                    return None
                value = {str(key): item for key, item in value.items()}
            values[name] = value
    except _Unsure:
        return None
    return values


def contact_input_validate(data: Any) -> dict[str, Any]:
    """The validated fields of a create body: the fast path, else the serializer (its 400)."""
    values = contact_input_fast(data)
    if values is None:
        serializer = ContactInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
    return values
