"""HubSpot: dialect (Bearer auth, error body, X-HubSpot-RateLimit-*), OAuth token and account-info endpoints.

Shapes from ../shared/CRM-APIS.md §1.1, §1.9, §1.10.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from django.http import HttpResponse
from django.utils import timezone

from sandbox.models import Kind, SandboxRateSlot, SandboxToken
from sandbox.ratelimit import BucketState, now_ms
from sandbox.runtime import Context, Dialect, SandboxReject, endpoint, json_response
from sandbox.store import constant_in, token_expired_seconds, token_find, token_issue

_CATEGORY_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
    409: "CONFLICT",
    413: "VALIDATION_ERROR",
    414: "VALIDATION_ERROR",
    423: "LOCKED",
    429: "RATE_LIMITS",
}
_POLICIES = {
    "ten_secondly": ("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
    "daily": ("DAILY", "You have reached your daily limit."),
    "search": ("SECONDLY", "You have reached your secondly limit."),
}


def correlation_id() -> str:
    return str(uuid.uuid4())


def hubspot_error_body(
    status: int, message: str, *, category: str | None = None, extra: dict | None = None
) -> dict:
    body = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category
        or _CATEGORY_BY_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR"),
    }
    body.update(extra or {})
    return body


class HubSpotDialect(Dialect):
    kind = Kind.HUBSPOT

    def authenticate(self, ctx: Context) -> str | None:
        header = ctx.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        if constant_in(token, (ctx.config.credentials or {}).get("tokens", [])):
            ctx.auth_method = "private_app"
            return "private-app"
        issued = token_find(kind=self.kind, token_type=SandboxToken.TokenType.ACCESS, raw=token)
        if issued is None:
            return None
        expired = token_expired_seconds(issued)
        if expired > 0:
            raise SandboxReject(
                401,
                f"The OAuth token used to make this call expired {expired} second(s) ago.",
                code="EXPIRED_AUTHENTICATION",
            )
        ctx.auth_method = "oauth"
        return issued.subject

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        category = code if code and code.isupper() else None
        return json_response(
            hubspot_error_body(status, message, category=category, extra=extra), status=status
        )

    def unauthorized(self, ctx: Context) -> HttpResponse:
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
            "find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            code="INVALID_AUTHENTICATION",
        )

    def rate_limited(self, state: BucketState | None, ctx: Context) -> HttpResponse:
        policy, message = _POLICIES.get(state.name if state else "ten_secondly", _POLICIES["ten_secondly"])
        body = {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": policy,
            "requestId": uuid.uuid4().hex,
        }
        return json_response(body, status=429)

    def locked(self, ctx: Context) -> HttpResponse:
        return self.error(
            423,
            "The object is locked by another sync operation; retry after at least 2 seconds.",
            code="LOCKED",
        )

    def server_error(self, status: int, ctx: Context) -> HttpResponse:
        return self.error(status, "internal error", code="INTERNAL_ERROR")

    def rate_headers(self, states: Sequence[BucketState], ctx: Context) -> dict[str, str]:
        by_name = {state.name: state for state in states}
        if (
            "search" in by_name
        ):  # "Responses from the search API endpoints will not include any of the rate limit headers"
            return {}
        headers = {}
        if burst := by_name.get("ten_secondly"):
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(burst.interval_ms)
            headers["X-HubSpot-RateLimit-Max"] = str(burst.limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(burst.remaining)
        if (daily := by_name.get("daily")) and ctx.auth_method != "oauth":
            headers["X-HubSpot-RateLimit-Daily"] = str(daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily.remaining)
        return headers


DIALECT = HubSpotDialect()
API_BUCKETS = ("ten_secondly", "daily")
SEARCH_BUCKETS = ("search", "daily")


def _oauth_error(status: str, message: str) -> HttpResponse:
    return json_response(
        {
            "status": status,
            "message": message,
            "correlationId": correlation_id(),
            "requestId": uuid.uuid4().hex,
        },
        status=400,
    )


@endpoint(DIALECT, methods=("POST",), auth=False, inject=False)
def oauth_token(request, ctx: Context):
    """POST /oauth/v1/token and /oauth/v3/token: form-encoded refresh_token grant."""
    form = request.POST
    grant = form.get("grant_type", "")
    if grant != "refresh_token":
        return _oauth_error("BAD_GRANT_TYPE", f"grant_type {grant!r} is not supported by the sandbox")
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    clients = (ctx.config.credentials or {}).get("oauth_clients", [])
    client = next((c for c in clients if constant_in(client_id, [c.get("client_id", "")])), None)
    if client is None:
        return _oauth_error("BAD_CLIENT_ID", "missing or unknown client_id")
    if not constant_in(client_secret, [client.get("client_secret", "")]):
        return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret")
    refresh = form.get("refresh_token", "")
    known = constant_in(refresh, client.get("refresh_tokens", [])) or token_find(
        kind=DIALECT.kind, token_type=SandboxToken.TokenType.REFRESH, raw=refresh
    )
    if not refresh or not known:
        return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
    ttl = int(ctx.option("access_token_ttl_seconds", 1800))
    access = token_issue(
        kind=DIALECT.kind, token_type=SandboxToken.TokenType.ACCESS, subject=client_id, ttl_seconds=ttl
    )
    return json_response(
        {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": ttl,
            "hub_id": ctx.option("portal_id"),
            "scopes": [
                "crm.objects.contacts.read",
                "crm.objects.contacts.write",
                "crm.schemas.contacts.write",
            ],
        }
    )


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def account_details(request, ctx: Context):
    """GET /account-info/v3/details: the credential test."""
    return json_response(
        {
            "portalId": ctx.option("portal_id"),
            "accountType": "STANDARD",
            "timeZone": "Etc/UTC",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
    )


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def api_usage_daily(request, ctx: Context):
    """GET /account-info/v3/api-usage/daily/private-apps: today's usage of the daily bucket."""
    spec = (ctx.config.rate_limits or {}).get("daily", {"max": 0, "interval_ms": 86_400_000})
    day_ms = spec.get("interval_ms") or 86_400_000
    start = now_ms() // day_ms * day_ms
    used = (
        SandboxRateSlot.objects.filter(kind=DIALECT.kind, bucket="daily", slot_start=start)
        .values_list("count", flat=True)
        .first()
        or 0
    )
    return json_response(
        {
            "results": [
                {
                    "name": "private-apps-api-calls-daily",
                    "usageLimit": spec.get("max", 0),
                    "currentUsage": used,
                    "collectedAt": timezone.now().isoformat(),
                    "fetchStatus": "SUCCESS",
                    "resetsAt": datetime.fromtimestamp((start + day_ms) / 1000, tz=UTC).isoformat(),
                }
            ]
        }
    )


ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@endpoint(DIALECT, methods=ANY_METHOD, auth=False, inject=False)
def route_not_found(request, ctx: Context, path: str = ""):
    """Any path under /sandbox/hubspot/ that no endpoint claims: HubSpot's JSON 404, never an HTML page.

    HubSpot's exact message for an unknown path is not documented: the wording is the sandbox's.
    """
    return DIALECT.error(404, f"Unable to route {request.method} request to /{path}", code="OBJECT_NOT_FOUND")
