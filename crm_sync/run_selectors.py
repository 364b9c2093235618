"""Reads of sync runs (pushes and pulls): the organization's, filtered as the API asks."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from core.errors import InvalidInput
from crm_sync.models import SyncRun


class SyncRunFilter(django_filters.FilterSet):
    connection = django_filters.NumberFilter(field_name="connection_id")
    direction = django_filters.ChoiceFilter(choices=SyncRun.Direction.choices)
    object_type = django_filters.CharFilter(field_name="object_type")
    outcome = django_filters.ChoiceFilter(choices=SyncRun.Outcome.choices)


def sync_run_list(*, organization, filters: dict[str, Any] | None = None) -> QuerySet[SyncRun]:
    """Newest first; filters: connection (id), direction, object_type, outcome. A bad value is a 400."""
    queryset = (
        SyncRun.objects.filter(connection__organization=organization)
        .select_related("connection")
        .order_by("-started_at", "-id")
    )
    filterset = SyncRunFilter(data=filters or {}, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidInput(
            "Invalid filter values.", code="invalid_filter", details=filterset.errors.get_json_data()
        )
    return filterset.qs


def sync_run_get(*, organization, run_id: Any) -> SyncRun | None:
    try:
        key = int(str(run_id))
    except ValueError:
        return None
    return (
        SyncRun.objects.filter(connection__organization=organization, pk=key)
        .select_related("connection")
        .first()
    )
