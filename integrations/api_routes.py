"""Routes of the integrations app under /api/v1/."""


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    from integrations.api import ConnectionViewSet

    router.register("connections", ConnectionViewSet, basename="connection")


def _urlpatterns() -> list:
    from django.urls import re_path

    from integrations.records_api import RecordActionApi, RecordApi

    record = r"^integrations/records/(?P<record_id>[0-9]+)"
    return [
        re_path(rf"{record}/?$", RecordApi.as_view(), name="integration-record"),
        re_path(
            rf"{record}/actions/(?P<action>[a-z_]+)/?$",
            RecordActionApi.as_view(),
            name="integration-record-action",
        ),
    ]


urlpatterns: list = _urlpatterns()
