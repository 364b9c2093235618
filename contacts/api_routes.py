"""Routes of the contacts app under /api/v1/."""


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""


urlpatterns: list = []
