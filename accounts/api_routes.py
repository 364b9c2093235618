"""Routes of the accounts app under /api/v1/."""


def register(router) -> None:
    """Keys are managed in the admin and by manage.py create_api_key; nothing is routed here yet."""


urlpatterns: list = []
