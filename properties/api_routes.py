"""Routes of the properties app under /api/v1/."""

from django.urls import path

from properties.api import PropertyDefinitionViewSet
from properties.sync_api import PropertySyncApi, PropertySyncStatusApi


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    router.register("properties", PropertyDefinitionViewSet, basename="property-definition")


# The `crm` segment is checked against the connector registry by the views (404 when unknown).
urlpatterns: list = [
    path(
        "<slug:crm>/properties/sync/status/<slug:sync_type>",
        PropertySyncStatusApi.as_view(),
        name="property-sync-status",
    ),
    path("<slug:crm>/properties/sync/<slug:sync_type>", PropertySyncApi.as_view(), name="property-sync"),
]
