"""The project's exceptions: each carries a stable machine code, an HTTP status and details.

Services raise these; the API's exception handler renders every one of them as
`{"error": ..., "code": ..., "details": {...}}`.
"""

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}


class InvalidInput(ApplicationError):
    status_code = 400
    default_code = "invalid"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"


class Unprocessable(ApplicationError):
    status_code = 422
    default_code = "unprocessable"
