"""Reads of the contacts app. Querysets come back unevaluated so callers can paginate them."""

from typing import Any

from django.db.models import Count, QuerySet

from accounts.models import AuditEvent, Organization
from contacts.filters import CONTACT_ORDERING, ContactFilter, EventFilter
from contacts.models import Contact, Event, Registration
from core.errors import InvalidInput


def _filtered(filterset_class, *, queryset: QuerySet, filters: dict[str, Any] | None) -> QuerySet:
    filterset = filterset_class(data=filters or {}, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidInput(
            "Invalid filter values.", code="invalid_filter", details=filterset.errors.get_json_data()
        )
    return filterset.qs


def contact_list(*, organization: Organization, filters: dict[str, Any] | None = None) -> QuerySet[Contact]:
    """The organization's contacts matching the API's filter names (also for set-based queueing).

    Filters: subtype, status, source, tag, email, event (registered for), q (name, email,
    company), has_email, created_after/before, updated_after/before, ordering. A bad value
    raises InvalidInput (code invalid_filter).
    """
    queryset = Contact.objects.filter(organization=organization).order_by("-created_at", "-id")
    ordering = _plain_ordering(filters)
    if ordering is not None:
        return queryset.order_by(*ordering) if ordering else queryset
    return _filtered(ContactFilter, queryset=queryset, filters=filters)


_CONTACT_ORDER_VALUES = frozenset(CONTACT_ORDERING) | {f"-{name}" for name in CONTACT_ORDERING}
_CONTACT_FILTER_NAMES = frozenset(ContactFilter.base_filters) - {"ordering"}


def _plain_ordering(filters: dict[str, Any] | None) -> list[str] | None:
    """The ordering of a request that only pages and orders (no filter), else None.

    Such a request, most list calls, is answered without building the FilterSet (its form,
    fields and widgets cost more than the page's query); it orders exactly as the FilterSet's
    OrderingFilter would. Anything else, an invalid ordering included, goes through the
    FilterSet and its errors.
    """
    if not filters:
        return []
    if any(name in _CONTACT_FILTER_NAMES for name in filters):
        return None
    value = filters.get("ordering")
    if value in (None, ""):
        return []
    values = value.split(",")
    if not all(item in _CONTACT_ORDER_VALUES for item in values):
        return None
    return values


def contact_get(*, organization: Organization, contact_id: Any) -> Contact | None:
    return Contact.objects.filter(organization=organization, pk=contact_id).first()


def contact_history(*, contact: Contact) -> QuerySet[AuditEvent]:
    """Audit events about a contact (its own changes and its registrations), newest first."""
    return AuditEvent.objects.filter(
        organization_id=contact.organization_id, object_type="contact", object_id=str(contact.pk)
    ).order_by("-created_at", "-id")


def event_list(*, organization: Organization, filters: dict[str, Any] | None = None) -> QuerySet[Event]:
    queryset = (
        Event.objects.filter(organization=organization)
        .annotate(registration_count=Count("registrations"))
        .order_by("-starts_at", "-created_at")
    )
    return _filtered(EventFilter, queryset=queryset, filters=filters)


def event_get(*, organization: Organization, event_id: Any) -> Event | None:
    return (
        Event.objects.filter(organization=organization, pk=event_id)
        .annotate(registration_count=Count("registrations"))
        .first()
    )


def event_registrations(*, event: Event) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(event=event).select_related("contact").order_by("-registered_at", "-id")
    )
