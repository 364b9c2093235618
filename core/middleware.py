"""Request id and body-size limit: both run before any view or parser."""

import re
import uuid

from django.conf import settings
from django.http import JsonResponse

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id (the caller's X-Request-ID when sane) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        from core.logging import request_id_var

        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before reading it, and a
    body sent with Transfer-Encoding (chunked) with 411.

    Django would otherwise answer a generic 400; a client deserves to know the body was
    too large. Django reads a body by its Content-Length: a chunked body has none, so it would
    be read as empty and the request would go on without the client's data (a "created"
    blank contact). Refusing it, rather than de-chunking here, behaves the same under every
    server (runserver passes the chunk framing through, gunicorn removes it).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").strip().lower()
        if encoding and encoding != "identity":
            from core.api import error_body

            return JsonResponse(
                error_body(
                    "Send the request body with a Content-Length; chunked (Transfer-Encoding) "
                    "request bodies are not accepted.",
                    "length_required",
                    {"transfer_encoding": encoding[:50]},
                ),
                status=411,
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and not request.path.startswith("/admin/"):
            from core.api import error_body

            return JsonResponse(
                error_body(
                    "The request body is too large.",
                    "request_too_large",
                    {"max_bytes": limit, "received_bytes": length},
                ),
                status=413,
            )
        return self.get_response(request)


class ApiTrailingSlashMiddleware:
    """Serve an /api/ path that lacks its trailing slash as the path with it.

    Django's APPEND_SLASH answers with a redirect, which a client loses a POST body to (in DEBUG
    Django raises instead: a 500). Under /api/ the missing slash is accepted as written; what
    matches nothing either way stays a JSON 404 (core.views.api_not_found).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        missing_slash = path.startswith("/api/") and not path.endswith("/")
        if missing_slash and _unrouted(path, request) and not _unrouted(path + "/", request):
            request.path_info = path + "/"
            request.path = request.path + "/"
        return self.get_response(request)


def _unrouted(path: str, request) -> bool:
    from django.urls import Resolver404, resolve

    try:
        return resolve(path, getattr(request, "urlconf", None)).url_name == "api-not-found"
    except Resolver404:
        return True
