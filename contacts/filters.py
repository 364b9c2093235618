"""FilterSets behind the list selectors (and so the API's query parameters).

A bad value is an error, never silently ignored: the selectors raise InvalidInput with the
form's errors.
"""

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from contacts.models import Contact, Event, Registration
from contacts.validation import SOURCE_CRM_PATTERN, SOURCE_FIXED, email_normalize

CONTACT_ORDERING = ("created_at", "updated_at", "email", "last_name", "first_name", "company")
EVENT_ORDERING = ("starts_at", "created_at", "name")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true/false/1/0; anything else is an error (django-filter's BooleanFilter reads it as "unset")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(v, v) for v in ("true", "false", "1", "0")])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1"))
        super().__init__(*args, **kwargs)


class SourceField(forms.CharField):
    def validate(self, value):
        super().validate(value)
        if value and value not in SOURCE_FIXED and not SOURCE_CRM_PATTERN.match(value):
            raise forms.ValidationError(
                "Use event, api, import, manual, or crm:<kind>.", code="invalid_source"
            )


class SourceFilter(django_filters.CharFilter):
    field_class = SourceField


class UtcDateTimeField(forms.DateTimeField):
    """An ISO date-time, as UTC: PostgreSQL refuses offsets beyond ±15:59 (a 500 otherwise)."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range once converted to UTC.", code="invalid") from None


class UtcDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UtcDateTimeField


class ContactFilter(django_filters.FilterSet):
    subtype = django_filters.ChoiceFilter(choices=Contact.Subtype.choices)
    status = django_filters.ChoiceFilter(choices=Contact.Status.choices)
    source = SourceFilter()
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="has")
    email = django_filters.CharFilter(method="filter_email")
    event = django_filters.UUIDFilter(method="filter_event")
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    has_email = StrictBooleanFilter(method="filter_has_email")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(fields=CONTACT_ORDERING)

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=email_normalize(value))

    def filter_event(self, queryset, name, value):
        return queryset.filter(Exists(Registration.objects.filter(contact=OuterRef("pk"), event_id=value)))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(company__icontains=value)
        )

    def filter_has_email(self, queryset, name, value):
        return queryset.exclude(email="") if value else queryset.filter(email="")


class EventFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    starts_after = UtcDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = UtcDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(fields=EVENT_ORDERING)

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(location__icontains=value))
