"""API plumbing shared by every app: one error body, limit/offset pagination, organization scoping."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, InvalidInput

logger = logging.getLogger(__name__)


def error_body(message: str, code: str, details: dict | None = None) -> dict:
    return {"error": message, "code": code, "details": details or {}}


# Codes whose details name fields: rendered in the one field-path shape (validation_details).
FIELD_ERROR_CODES = {"validation_error", "invalid_custom_properties"}


def validation_details(detail) -> dict[str, list[str]]:
    """DRF's nested error detail as one flat shape: {"field.path": ["message", …]}.

    Nested objects join with dots (`event.name`), list items by index (`contact_ids.3`); errors
    of the body as a whole are under `non_field_errors`. Every API validation error has this shape.
    """
    flat: dict[str, list[str]] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list | tuple) and any(isinstance(item, dict | list) for item in value):
            for index, item in enumerate(value):
                if item:
                    walk(item, f"{path}.{index}" if path else str(index))
        else:
            items = value if isinstance(value, list | tuple) else [value]
            flat.setdefault(path or "non_field_errors", []).extend(str(item) for item in items)

    walk(detail, "")
    return flat


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def exception_handler(exc, context):
    """Render every API error as the project's error body.

    Unknown exceptions become a 500 whose body holds only the request id; the
    traceback goes to the log, never to the client.
    """
    request = context.get("request")
    if isinstance(exc, ApplicationError):
        details = exc.details
        if exc.code in FIELD_ERROR_CODES:
            details = validation_details(details)
        return Response(error_body(exc.message, exc.code, details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(details)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("The request body is too large.", "request_too_large"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        request_id = getattr(request, "request_id", None) if request is not None else None
        logger.exception("Unhandled error in API view", extra={"request_id": request_id})
        return Response(
            error_body("Internal server error.", "server_error", {"request_id": request_id}),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("Invalid input.", "validation_error", validation_details(exc.detail))
        return response

    code = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    if not isinstance(code, str):
        code = getattr(exc, "default_code", "error")
    details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after"] = int(exc.wait + 0.999)
    response.data = error_body(_first_message(exc.detail), code, details)
    return response


class LimitOffsetTotalPagination(LimitOffsetPagination):
    """limit/offset pagination whose body says the total, with a hard ceiling on `limit`.

    A `limit` or `offset` that is not a whole number in range is a 400 invalid_pagination (DRF
    would quietly use the defaults, so a client would read a page it did not ask for). A `limit`
    over the ceiling is capped, as documented.
    """

    default_limit = 50
    max_limit = 500

    def _number(self, request, name: str, *, minimum: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        text = raw.strip()
        if not text.isascii() or not text.isdigit() or int(text) < minimum:
            raise InvalidInput(
                f"{name} must be a whole number of at least {minimum}.",
                code="invalid_pagination",
                details={name: [f"A whole number ≥ {minimum}; got {raw[:50]!r}."]},
            )
        return int(text)

    def get_limit(self, request):
        return min(
            self._number(request, self.limit_query_param, minimum=1, default=self.default_limit),
            self.max_limit,
        )

    def get_offset(self, request):
        return self._number(request, self.offset_query_param, minimum=0, default=0)

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "limit": self.limit,
                "offset": self.offset,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "limit": {"type": "integer", "example": 50},
                "offset": {"type": "integer", "example": 0},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class OrganizationScopedMixin:
    """For viewsets whose rows belong to the caller's organization.

    The organization comes from the API key (or the staff user's membership); querysets
    are filtered by it, so another organization's row is a 404, never a 403.
    """

    @property
    def organization(self):
        from accounts.authentication import request_organization

        return request_organization(self.request)
