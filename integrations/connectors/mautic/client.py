"""Mautic REST API over the shared HTTP client: auth choice, endpoints, error shapes.

Auth (CRM-APIS.md §3.1), chosen from the credentials present:
- `client_id` + `client_secret` (+ `refresh_token`): OAuth2 at {base}/oauth/v2/token —
  the refresh_token grant when a refresh token is given, else client_credentials; the
  token is cached encrypted on the connection and refreshed before expires_in lapses;
- otherwise `username` + `password`: HTTP basic (Mautic's "basic auth" API setting).
Mautic has no rate limit by default (`api_rate_limiter_limit: 0`), so the limiter is
unlimited unless settings.rate_limits.default sets one.
"""

from typing import Any

from integrations.auth import Basic, ConnectionTokenStore, OAuth2ClientCredentials, OAuth2RefreshToken
from integrations.errors import CrmError, CrmLocked, CrmValidationError
from integrations.http import CrmHttpClient, CrmResponse
from integrations.ratelimit import limiter_for

from .mapping import error_messages


def classify(status: int, body: Any) -> type[CrmError] | None:
    """Mautic specifics: a 409 for an entity checked out by another user is a lock (wait and
    retry); the over-limit batch exception comes back as a 500 but is our input's fault."""
    message, _code, details = error_messages(body)
    if status == 409 and isinstance(details, dict) and ("checkedOut" in details or "checkedOutBy" in details):
        return CrmLocked
    lowered = message.lower()
    if status == 500 and ("batch_exception" in lowered or "entities are supported" in lowered):
        return CrmValidationError
    return None


def error_message(body: Any, response) -> str:
    message, _code, _details = error_messages(body)
    if not message and response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return message


class MauticHttpClient(CrmHttpClient):
    """CrmHttpClient that reports read timeouts as timeouts."""


def auth_for(connection, *, credentials: dict[str, Any], base_url: str):
    token_url = f"{base_url}/oauth/v2/token"
    if credentials.get("client_id") and credentials.get("client_secret"):
        store = ConnectionTokenStore(connection)
        if credentials.get("refresh_token"):
            return OAuth2RefreshToken(
                token_url=token_url,
                client_id=credentials["client_id"],
                client_secret=credentials["client_secret"],
                refresh_token=credentials["refresh_token"],
                store=store,
            )
        return OAuth2ClientCredentials(
            token_url=token_url,
            client_id=credentials["client_id"],
            client_secret=credentials["client_secret"],
            store=store,
        )
    return Basic(str(credentials.get("username") or ""), str(credentials.get("password") or ""))


class MauticClient:
    def __init__(self, connection, *, credentials: dict[str, Any], base_url: str) -> None:
        if not base_url:
            raise CrmValidationError("Mautic is self-hosted: set the connection's base_url", crm="mautic")
        self.http = MauticHttpClient.for_connection(
            connection,
            base_url=base_url,
            auth=auth_for(connection, credentials=credentials, base_url=base_url.rstrip("/")),
            credentials=credentials,
            limiters={"default": limiter_for(connection, name="default", default=None)},
            error_message=error_message,
            classify=classify,
        )

    def batch_new(self, items: list[dict[str, Any]]) -> CrmResponse:
        """POST /api/contacts/batch/new (≤ api_batch_max_limit items, 200 by default)."""
        return self.http.post("/api/contacts/batch/new", json=items)

    def list_contacts(self, *, params: dict[str, Any]) -> CrmResponse:
        return self.http.get("/api/contacts", params=params)

    def list_fields(self, *, start: int, limit: int) -> dict[str, Any]:
        return self.http.get("/api/fields/contact", params={"start": start, "limit": limit}).data or {}

    def create_field(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.post("/api/fields/contact/new", json=body).data or {}

    def edit_field(self, field_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.patch(f"/api/fields/contact/{int(field_id)}/edit", json=body).data or {}
