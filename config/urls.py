from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.views import api_not_found, healthz, landing
from crm_sync import dashboard_views
from crm_sync.metrics import metrics_view

urlpatterns = [
    path("", landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/dashboard/", admin.site.admin_view(dashboard_views.dashboard), name="sync-dashboard"),
    path(
        "admin/dashboard/retry-group/",
        admin.site.admin_view(dashboard_views.retry_group),
        name="sync-dashboard-retry",
    ),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("config.api_router")),
    path("api-auth/", include("rest_framework.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

# Last: under /api/ an unknown path is the JSON 404 body, also in DEBUG, and since every /api/
# path resolves, CommonMiddleware never tries its APPEND_SLASH redirect there (a 500 on POST).
urlpatterns.append(re_path(r"^api/", api_not_found, name="api-not-found"))

handler400 = "core.views.error_400"
handler403 = "core.views.error_403"
handler404 = "core.views.error_404"
handler500 = "core.views.error_500"
