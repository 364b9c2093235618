"""An n8n Webhook node over the shared HTTP client: URL, auth and signed raw-body POSTs.

The webhook URL is connection.base_url (the full production URL,
`https://<host>/webhook/<path>`), or base_url + settings.webhook_path. Auth matches the
Webhook node's options (CRM-APIS.md §4), chosen from the credentials present:
`header_name` + `header_value` (or `auth_header` written "Name: value") for Header Auth,
`username` + `password` for Basic Auth, nothing for None. `signing_secret`, when set,
signs every body (HMAC-SHA256) so the workflow can check who sent it.
"""

from typing import Any

from integrations.auth import ApiKeyHeader, AuthStrategy, Basic, NoAuth
from integrations.errors import CrmValidationError
from integrations.http import CrmHttpClient, CrmResponse
from integrations.ratelimit import limiter_for

from . import mapping


def auth_for(credentials: dict[str, Any]) -> AuthStrategy:
    name, value = credentials.get("header_name"), credentials.get("header_value")
    if not name and credentials.get("auth_header"):
        name, _sep, value = str(credentials["auth_header"]).partition(":")
    if name and value:
        return ApiKeyHeader(str(name).strip(), str(value).strip())
    if credentials.get("username"):
        return Basic(str(credentials["username"]), str(credentials.get("password") or ""))
    return NoAuth()


def webhook_url(base_url: str, path: str | None) -> str:
    if not base_url:
        raise CrmValidationError("set the connection's base_url to the n8n webhook URL", crm="n8n")
    if path:
        return f"{base_url.rstrip('/')}/{path.strip('/')}"
    return base_url


class N8nHttpClient(CrmHttpClient):
    """CrmHttpClient that reports read timeouts as timeouts."""


class N8nClient:
    def __init__(self, connection, *, credentials: dict[str, Any], base_url: str) -> None:
        options = connection.settings or {}
        self.url = webhook_url(base_url, options.get("webhook_path"))
        self.secret = str(credentials.get("signing_secret") or "")
        self.signature_header = str(options.get("signature_header") or mapping.SIGNATURE_HEADER)
        self.http = N8nHttpClient.for_connection(
            connection,
            base_url=self.url,
            auth=auth_for(credentials),
            credentials=credentials,
            limiters={"default": limiter_for(connection, name="default", default=None)},
        )

    def post(self, envelope: dict[str, Any]) -> tuple[CrmResponse, bytes, dict[str, str]]:
        """POST the envelope as the exact bytes that were signed; return (response, body, our headers)."""
        body = mapping.encode(envelope)
        headers = {"Content-Type": "application/json", mapping.IDEMPOTENCY_HEADER: envelope["batch_id"]}
        if self.secret:
            headers[self.signature_header] = mapping.sign(body, self.secret)
        # n8n answers with JSON, text ("Workflow was started") or nothing, depending on the node.
        return self.http.post("", data=body, headers=headers, expect_json=False), body, headers
