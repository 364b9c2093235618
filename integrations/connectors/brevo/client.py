"""Brevo API v3 over the shared HTTP client: endpoints, auth, limiters, error codes.

Two rate-limit buckets (CRM-APIS.md §2.7): everything under /v3/contacts shares the
"default" limiter (10 requests/s on the General tier), while /v3/account and
/v3/processes fall in the 100-requests-per-HOUR catch-all ("hourly"). Both are
overridable per connection through settings.rate_limits.
"""

import contextlib
from typing import Any
from urllib.parse import quote

from integrations.auth import ApiKeyHeader
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmNotFound,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.http import CrmHttpClient, CrmResponse
from integrations.ratelimit import limiter_for

from .mapping import error_details

HOURLY_BUCKET = (100, 3600.0)

# Brevo's `code` → our category, for 4xx answers other than 429 (errorModel/contactErrorModel enums).
CODE_CLASSES: dict[str, type[CrmError]] = {
    "unauthorized": CrmAuthError,
    "permission_denied": CrmAuthError,
    "account_under_validation": CrmAuthError,
    "duplicate_parameter": CrmConflict,
    "duplicate_request": CrmConflict,
    "document_not_found": CrmNotFound,
    "invalid_parameter": CrmValidationError,
    "missing_parameter": CrmValidationError,
    "out_of_range": CrmValidationError,
    "bad_request": CrmValidationError,
    "unprocessable_entity": CrmValidationError,
    "not_acceptable": CrmValidationError,
    "method_not_allowed": CrmValidationError,
    "not_enough_credits": CrmValidationError,
    "campaign_processing": CrmConflict,
    "campaign_sent": CrmConflict,
    "account_in_process": CrmUnavailable,
}


def classify(status: int, body: Any) -> type[CrmError] | None:
    """Brevo's category from its body: the duplicate metadata first, then `code`.

    The same duplicate has come back as `duplicate_parameter` and as `invalid_parameter`
    (CRM-APIS.md §2.2), so `metadata.duplicate_identifiers` decides before the code.
    429 and 5xx keep their status meaning whatever the body says; 425 Too Early is retriable.
    """
    if status == 429 or status >= 500:
        return None
    if status == 425:
        return CrmUnavailable
    code, _message, metadata = error_details(body)
    if isinstance(metadata, dict) and metadata.get("duplicate_identifiers"):
        return CrmConflict
    return CODE_CLASSES.get(code)


def error_message(body: Any, response) -> str:
    code, message, metadata = error_details(body)
    if not code and not message and response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    text = f"{code}: {message}" if code and message else (message or code)
    if isinstance(metadata, dict) and metadata.get("duplicate_identifiers"):
        text += f" (duplicate: {', '.join(map(str, metadata['duplicate_identifiers']))})"
    return text


class BrevoHttpClient(CrmHttpClient):
    """CrmHttpClient that reads Brevo's reset header when a 429 carries no Retry-After
    and reports read timeouts as timeouts."""

    def _error_for_response(self, raw, body):
        error = super()._error_for_response(raw, body)
        if isinstance(error, CrmRateLimited) and error.retry_after is None:
            reset = raw.headers.get("x-sib-ratelimit-reset")
            with contextlib.suppress(ValueError):
                error.retry_after = max(0.0, float(reset)) if reset is not None else None
        return error


class BrevoClient:
    """The Brevo endpoints the connector uses; each returns parsed JSON (None for 201/204 without body)."""

    def __init__(
        self, connection, *, credentials: dict[str, Any], rate_limit: tuple[int, float] | None
    ) -> None:
        self.connection = connection
        self.http = BrevoHttpClient.for_connection(
            connection,
            auth=ApiKeyHeader("api-key", str(credentials.get("api_key") or "")),
            credentials=credentials,
            limiters={
                "default": limiter_for(connection, name="default", default=rate_limit),
                "hourly": limiter_for(connection, name="hourly", default=HOURLY_BUCKET),
            },
            error_message=error_message,
            classify=classify,
        )

    # -- contacts -------------------------------------------------------------------------
    def create_contact(self, body: dict[str, Any]) -> CrmResponse:
        """POST /contacts: 201 {id} when created, 204 when updated (updateEnabled=true)."""
        return self.http.post("/contacts", json=body)

    def get_contact(self, identifier: str) -> dict[str, Any]:
        return self.http.get(f"/contacts/{quote(identifier, safe='')}").data

    def list_contacts(self, *, params: dict[str, Any]) -> dict[str, Any]:
        return self.http.get("/contacts", params=params).data or {}

    def import_contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /contacts/import → 202 {processId}."""
        return self.http.post("/contacts/import", json=body).data or {}

    def get_process(self, process_id: int | str) -> dict[str, Any]:
        return self.http.get(f"/processes/{quote(str(process_id), safe='')}", limiter="hourly").data or {}

    # -- attributes -----------------------------------------------------------------------
    def list_attributes(self) -> list[dict[str, Any]]:
        data = self.http.get("/contacts/attributes").data or {}
        return [a for a in data.get("attributes") or [] if isinstance(a, dict) and a.get("name")]

    def create_attribute(self, *, category: str, name: str, body: dict[str, Any]) -> None:
        self.http.post(
            f"/contacts/attributes/{category}/{quote(name, safe='')}", json=body, expect_json=False
        )

    def update_attribute(self, *, category: str, name: str, body: dict[str, Any]) -> None:
        self.http.put(f"/contacts/attributes/{category}/{quote(name, safe='')}", json=body, expect_json=False)

    # -- account --------------------------------------------------------------------------
    def get_account(self) -> dict[str, Any]:
        return self.http.get("/account", limiter="hourly").data or {}
