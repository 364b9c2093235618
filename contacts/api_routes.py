"""Routes of the contacts app under /api/v1/."""

from contacts.api.views import ContactViewSet, EventViewSet


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    router.register("contacts", ContactViewSet, basename="contacts")
    router.register("events", EventViewSet, basename="events")


urlpatterns: list = []
