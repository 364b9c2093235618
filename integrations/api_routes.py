"""Routes of the integrations app under /api/v1/."""


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    from integrations.api import ConnectionViewSet

    router.register("connections", ConnectionViewSet, basename="connection")


urlpatterns: list = []
