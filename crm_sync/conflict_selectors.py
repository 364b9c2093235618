"""Reads of sync conflicts: the organization's, filtered as the API and the admin ask."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from core.errors import InvalidInput
from crm_sync.models import SyncConflict


class ConflictFilter(django_filters.FilterSet):
    connection = django_filters.NumberFilter(field_name="connection_id")
    status = django_filters.ChoiceFilter(choices=SyncConflict.Status.choices)
    contact = django_filters.UUIDFilter(field_name="contact_id")


def conflict_list(*, organization, filters: dict[str, Any] | None = None) -> QuerySet[SyncConflict]:
    """Newest first; filters: connection (id), status (open, resolved), contact (id). A bad value is a 400."""
    queryset = (
        SyncConflict.objects.filter(organization=organization)
        .select_related("connection", "contact")
        .order_by("-created_at", "-id")
    )
    filterset = ConflictFilter(data=filters or {}, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidInput(
            "Invalid filter values.", code="invalid_filter", details=filterset.errors.get_json_data()
        )
    return filterset.qs


def conflict_get(*, organization, conflict_id: Any) -> SyncConflict | None:
    try:
        key = int(str(conflict_id))
    except ValueError:
        return None
    return (
        SyncConflict.objects.filter(organization=organization, pk=key)
        .select_related("connection", "contact", "organization")
        .first()
    )
