"""/healthz and the JSON error pages that Django (not DRF) produces under /api/."""

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.api import error_body
from core.health import health_report

logger = logging.getLogger(__name__)


@require_GET
def healthz(request):
    healthy, report = health_report(require_workers=request.GET.get("workers") in ("1", "true", "yes"))
    return JsonResponse({"status": "ok" if healthy else "degraded", **report}, status=200 if healthy else 503)


def _wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/healthz", "/sandbox/")) or "json" in request.headers.get(
        "Accept", ""
    )


def _page(request, status: int, message: str, code: str, details: dict | None = None):
    if _wants_json(request):
        return JsonResponse(error_body(message, code, details), status=status)
    from django.views import defaults

    pages = {400: defaults.bad_request, 403: defaults.permission_denied, 404: defaults.page_not_found}
    if status == 500:
        return defaults.server_error(request)
    return pages[status](request, exception=None)


def error_400(request, exception=None):
    return _page(request, 400, "Bad request.", "bad_request")


def error_403(request, exception=None):
    return _page(request, 403, "You do not have permission to perform this action.", "permission_denied")


def error_404(request, exception=None):
    return _page(request, 404, "Not found.", "not_found")


def error_500(request):
    return _page(
        request,
        500,
        "Internal server error.",
        "server_error",
        {"request_id": getattr(request, "request_id", None)},
    )


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Every /api/ path no route takes: the JSON 404 body, in DEBUG too (Django's page is HTML)."""
    return JsonResponse(error_body("Not found.", "not_found", {"path": request.path[:200]}), status=404)


def landing(request):
    """`/`: where to go from here (the admin, the API docs, health), instead of a 404."""
    from django.template.response import TemplateResponse

    return TemplateResponse(request, "landing.html", {})
