"""Routes of the webhooks app under /api/v1/."""


def register(router) -> None:
    from webhooks.api import WebhookSubscriptionViewSet

    router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")


urlpatterns: list = []
