"""The /api/v1/ router. Each app registers its viewsets in its own `api_routes.register(router)`."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

API_APPS = ["accounts", "contacts", "properties", "integrations", "crm_sync", "webhooks"]

router = DefaultRouter()
extra_urlpatterns = []
for app_label in API_APPS:
    routes = import_module(f"{app_label}.api_routes")
    routes.register(router)
    extra_urlpatterns += getattr(routes, "urlpatterns", [])

urlpatterns = extra_urlpatterns + router.urls
