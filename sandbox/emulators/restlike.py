"""The generic REST CRM (seed 002) and the Brivity and TopProducer sandboxes built on it.

Brivity and TopProducer publish no API reference (../shared/CRM-APIS.md §5, §6): their
sandboxes are modelled on seed 004 (contacts and deals / transactions, batches of 100,
`Authorization: Token token=…` for Brivity, OAuth2 client credentials for TopProducer),
not on a vendor contract. The generic REST CRM follows seed 002: JWT login with refresh,
OAuth client credentials or an API key; entity endpoints with page/per_page,
offset/limit or cursor paging; `updated_since`; 100 requests a minute with
X-RateLimit-* headers and Retry-After on 429. Errors: {"error", "code", "details"}.
"""

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

from sandbox.models import Kind, SandboxRecord, SandboxToken
from sandbox.ratelimit import BucketState
from sandbox.runtime import Context, Dialect, SandboxReject, endpoint, json_response, no_content
from sandbox.store import (
    constant_in,
    email_valid,
    parse_instant,
    token_expired_seconds,
    token_find,
    token_issue,
)

BUCKETS = ("api",)
# Seed 002's task actions and the field each one sets.
TASK_ACTIONS = {"assign": "assignee_id", "status": "status"}
PAGING_STYLES = ("page", "offset", "cursor")


@dataclass(frozen=True)
class Flavour:
    """What differs between the generic REST CRM, Brivity and TopProducer."""

    kind: str
    entities: tuple[str, ...]
    keyed_entities: tuple[str, ...]  # entities unique by email
    auth_schemes: tuple[str, ...]  # api_key | bearer | token_token
    created_name: str
    updated_name: str


class RestLikeDialect(Dialect):
    def __init__(self, flavour: Flavour):
        self.flavour = flavour
        self.kind = flavour.kind

    def authenticate(self, ctx: Context) -> str | None:
        request, credentials = ctx.request, ctx.config.credentials or {}
        if "api_key" in self.flavour.auth_schemes:
            key = request.headers.get(credentials.get("api_key_header", "X-API-Key"), "")
            if key and constant_in(key, credentials.get("api_keys", [])):
                return "api_key"
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        value = value.strip()
        if "token_token" in self.flavour.auth_schemes and scheme.lower() == "token":
            token = value.removeprefix("token=").strip('"')
            return "api_token" if token and constant_in(token, credentials.get("api_tokens", [])) else None
        if "bearer" in self.flavour.auth_schemes and scheme.lower() == "bearer" and value:
            issued = token_find(kind=self.kind, token_type=SandboxToken.TokenType.ACCESS, raw=value)
            if issued is None:
                return None
            if token_expired_seconds(issued) > 0:
                raise SandboxReject(401, "The access token has expired.", code="token_expired")
            return issued.subject
        return None

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        default = {
            400: "bad_request",
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            423: "locked",
            429: "rate_limited",
        }.get(status, "server_error")
        return json_response(
            {"error": message, "code": code or default, "details": extra or {}}, status=status
        )

    def unauthorized(self, ctx: Context) -> HttpResponse:
        return self.error(
            401, "Authentication required: missing or invalid credentials.", code="unauthorized"
        )

    def rate_limited(self, state: BucketState | None, ctx: Context) -> HttpResponse:
        response = self.error(429, "Rate limit exceeded.", code="rate_limited")
        if state is not None:
            response["Retry-After"] = str(max(1, math.ceil(state.reset_ms / 1000)))
        return response

    def rate_headers(self, states: Sequence[BucketState], ctx: Context) -> dict[str, str]:
        if not states:
            return {}
        state = states[0]
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
            "X-RateLimit-Reset": str(math.ceil(state.reset_ms / 1000)),
        }


REST = Flavour(
    Kind.REST,
    ("contacts", "deals", "projects", "tasks", "users", "clients", "comments"),
    ("contacts",),
    ("api_key", "bearer"),
    "created_at",
    "updated_at",
)
BRIVITY = Flavour(
    Kind.BRIVITY, ("contacts", "deals"), ("contacts",), ("token_token",), "created_at", "updated_at"
)
TOPPRODUCER = Flavour(
    Kind.TOPPRODUCER, ("contacts", "transactions"), ("contacts",), ("bearer",), "createdAt", "updatedAt"
)


def _encode_cursor(record: SandboxRecord) -> str:
    return base64.urlsafe_b64encode(f"{record.updated_at.isoformat()}|{record.pk}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple:
    try:
        stamp, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        instant = parse_instant(stamp)
        if instant is None:
            raise ValueError
        return instant, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SandboxReject(400, "cursor is not one this API issued", code="invalid_cursor")


class RestLikeApi:
    """The views of one flavour; `urls()` in sandbox/urls.py mounts them."""

    def __init__(self, flavour: Flavour):
        self.flavour = flavour
        self.dialect = RestLikeDialect(flavour)
        wrap = endpoint(self.dialect, methods=("GET", "POST"), buckets=BUCKETS)
        self.collection = wrap(self._collection)
        self.detail = endpoint(self.dialect, methods=("GET", "PUT", "PATCH", "DELETE"), buckets=BUCKETS)(
            self._detail
        )
        self.action = endpoint(self.dialect, methods=("PATCH",), buckets=BUCKETS)(self._action)
        self.me = endpoint(self.dialect, methods=("GET",), buckets=BUCKETS)(self._me)
        self.oauth_token = endpoint(self.dialect, methods=("POST",), auth=False, inject=False)(
            self._oauth_token
        )
        self.login = endpoint(self.dialect, methods=("POST",), auth=False, inject=False)(self._login)
        self.refresh = endpoint(self.dialect, methods=("POST",), auth=False, inject=False)(self._refresh)
        self.health = endpoint(self.dialect, methods=("GET",), auth=False, inject=False)(self._health)

    # -- records -------------------------------------------------------------------------
    def _entity(self, entity: str) -> str:
        if entity not in self.flavour.entities:
            raise SandboxReject(404, f"Unknown resource {entity!r}.", code="not_found")
        return entity

    def _records(self, entity: str):
        return SandboxRecord.objects.filter(kind=self.flavour.kind, object_type=entity)

    def as_json(self, record: SandboxRecord) -> dict:
        return {
            **record.data,
            "id": record.pk,
            self.flavour.created_name: record.created_at.isoformat(),
            self.flavour.updated_name: record.updated_at.isoformat(),
        }

    def _values(self, ctx: Context, entity: str) -> tuple[dict, str | None]:
        body = ctx.json()
        reserved = {"id", self.flavour.created_name, self.flavour.updated_name}
        values = {k: v for k, v in body.items() if k not in reserved}
        if not values:
            raise SandboxReject(400, "The body holds no fields.", code="validation_error")
        key = None
        if entity in self.flavour.keyed_entities and values.get("email") not in (None, ""):
            if not email_valid(values["email"]):
                raise SandboxReject(
                    400,
                    "email is not a valid email address.",
                    code="validation_error",
                    extra={"email": ["Enter a valid email address."]},
                )
            key = values["email"].lower()
        return values, key

    # -- paging --------------------------------------------------------------------------
    def _style(self, ctx: Context) -> str:
        params = ctx.request.GET
        style = params.get("paging")
        if style is None:
            if "cursor" in params:
                style = "cursor"
            elif "offset" in params or "limit" in params:
                style = "offset"
            elif "page" in params or "per_page" in params:
                style = "page"
            else:
                style = ctx.option("paging_style", "page")
        if style not in PAGING_STYLES:
            raise SandboxReject(400, f"paging must be one of {PAGING_STYLES}.", code="validation_error")
        return style

    def _int(self, ctx: Context, name: str, default: int, *, low: int, high: int | None = None) -> int:
        try:
            value = int(ctx.request.GET.get(name, default))
        except ValueError:
            raise SandboxReject(400, f"{name} must be an integer.", code="validation_error")
        if value < low or (high is not None and value > high):
            raise SandboxReject(400, f"{name} must be between {low} and {high}.", code="validation_error")
        return value

    def _list(self, ctx: Context, entity: str):
        params = ctx.request.GET
        queryset = self._records(entity)
        since_raw = params.get("updated_since") or params.get("updatedSince") or params.get("modified_since")
        if since_raw:
            since = parse_instant(since_raw)
            if since is None:
                raise SandboxReject(
                    400, "updated_since must be an ISO 8601 date-time.", code="validation_error"
                )
            queryset = queryset.filter(updated_at__gte=since)
        if entity in self.flavour.keyed_entities and params.get("email"):
            queryset = queryset.filter(key=params["email"].lower())  # lookup before update (seed 004 pushes)
        style, high = self._style(ctx), int(ctx.option("per_page_max", 100))
        by_update = bool(since_raw) or params.get("sort") in ("updated_at", "updatedAt") or style == "cursor"
        ordered = queryset.order_by(*(("updated_at", "id") if by_update else ("id",)))
        if style == "cursor":
            limit = self._int(ctx, "limit", 50, low=1, high=high)
            if params.get("cursor"):
                stamp, pk = _decode_cursor(params["cursor"])
                ordered = ordered.filter(Q(updated_at__gt=stamp) | Q(updated_at=stamp, id__gt=pk))
            rows = list(ordered[: limit + 1])
            next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
            return {
                "data": [self.as_json(r) for r in rows[:limit]],
                "meta": {"limit": limit, "next_cursor": next_cursor},
            }
        total = queryset.count()
        if style == "offset":
            limit = self._int(ctx, "limit", 50, low=1, high=high)
            offset = self._int(ctx, "offset", 0, low=0)
            rows = ordered[offset : offset + limit]
            return {
                "data": [self.as_json(r) for r in rows],
                "meta": {"offset": offset, "limit": limit, "total": total},
            }
        per_page = self._int(ctx, "per_page", 20, low=1, high=high)
        page = self._int(ctx, "page", 1, low=1)
        rows = ordered[(page - 1) * per_page : page * per_page]
        return {
            "data": [self.as_json(r) for r in rows],
            "meta": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "total_pages": math.ceil(total / per_page) if total else 0,
            },
        }

    # -- views ---------------------------------------------------------------------------
    def _collection(self, request, ctx: Context, entity: str):
        entity = self._entity(entity)
        if request.method == "GET":
            return json_response(self._list(ctx, entity))
        values, key = self._values(ctx, entity)
        if key and (existing := self._records(entity).filter(key=key).values_list("pk", flat=True).first()):
            raise SandboxReject(
                409, "A record with this email already exists.", code="conflict", extra={"id": existing}
            )
        try:
            with transaction.atomic():
                record = SandboxRecord.objects.create(
                    kind=self.flavour.kind, object_type=entity, key=key, data=values
                )
        except IntegrityError:
            raise SandboxReject(409, "A record with this email already exists.", code="conflict")
        return json_response(self.as_json(record), status=201)

    def _detail(self, request, ctx: Context, entity: str, record_id: int):
        entity = self._entity(entity)
        record = self._records(entity).filter(pk=record_id).first()
        if record is None:
            raise SandboxReject(404, f"No {entity} record with id {record_id}.", code="not_found")
        if request.method == "GET":
            return json_response(self.as_json(record))
        if request.method == "DELETE":
            record.delete()
            return no_content()
        values, key = self._values(ctx, entity)
        record.data = values if request.method == "PUT" else {**record.data, **values}
        if entity in self.flavour.keyed_entities:
            record.key = key if "email" in values else record.key
        record.updated_at, record.write_count = timezone.now(), record.write_count + 1
        try:
            with transaction.atomic():
                record.save()
        except IntegrityError:
            raise SandboxReject(409, "A record with this email already exists.", code="conflict")
        return json_response(self.as_json(record))

    def _action(self, request, ctx: Context, entity: str, record_id: int, action: str):
        """Seed 002's task actions: PATCH /tasks/{id}/assign {"assignee_id": N} (an existing
        user) and PATCH /tasks/{id}/status {"status": "..."}; each sets that one field."""
        entity = self._entity(entity)
        field = TASK_ACTIONS.get(action) if entity == "tasks" else None
        if field is None:
            raise SandboxReject(404, f"No action {action!r} on {entity}.", code="not_found")
        record = self._records(entity).filter(pk=record_id).first()
        if record is None:
            raise SandboxReject(404, f"No {entity} record with id {record_id}.", code="not_found")
        body = ctx.json()
        value = body.get(field) if isinstance(body, dict) else None
        if field == "assignee_id":
            valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
            if valid and "users" in self.flavour.entities:
                valid = self._records("users").filter(pk=value).exists()
            message = "assignee_id must be the id of an existing user."
        else:
            valid = isinstance(value, str) and 0 < len(value.strip()) <= 64
            message = "status must be a non-empty string of at most 64 characters."
        if not valid:
            raise SandboxReject(400, message, code="validation_error", extra={field: [message]})
        record.data = {**record.data, field: value}
        record.updated_at, record.write_count = timezone.now(), record.write_count + 1
        record.save()
        return json_response(self.as_json(record))

    def _me(self, request, ctx: Context):
        return json_response(
            {"id": 1, "name": f"{self.flavour.kind} sandbox account", "principal": ctx.principal}
        )

    def _health(self, request, ctx: Context):
        return json_response({"status": "ok"})

    # -- tokens --------------------------------------------------------------------------
    def _form_or_json(self, ctx: Context) -> dict:
        if ctx.request.content_type == "application/json":
            return ctx.json()
        return ctx.request.POST.dict()

    def _pair(self, ctx: Context, subject: str, *, with_refresh: bool) -> dict:
        ttl = int(ctx.option("access_token_ttl_seconds", 3600))
        body = {
            "access_token": token_issue(
                kind=self.flavour.kind, token_type="access", subject=subject, ttl_seconds=ttl
            ),
            "token_type": "Bearer",
            "expires_in": ttl,
        }
        if with_refresh:
            body["refresh_token"] = token_issue(
                kind=self.flavour.kind,
                token_type="refresh",
                subject=subject,
                ttl_seconds=int(ctx.option("refresh_token_ttl_seconds", 14 * 86400)),
            )
        return body

    def _oauth_token(self, request, ctx: Context):
        data = self._form_or_json(ctx)
        if data.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, status=400)
        client_id = str(data.get("client_id", ""))
        clients = (ctx.config.credentials or {}).get("oauth_clients", [])
        if not any(
            constant_in(client_id, [c.get("client_id", "")])
            and constant_in(str(data.get("client_secret", "")), [c.get("client_secret", "")])
            for c in clients
        ):
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client credentials"}, status=401
            )
        return json_response(self._pair(ctx, client_id, with_refresh=False))

    def _login(self, request, ctx: Context):
        data = ctx.json()
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        users = (ctx.config.credentials or {}).get("users", [])
        if not any(
            constant_in(username, [u.get("username", "")]) and constant_in(password, [u.get("password", "")])
            for u in users
        ):
            raise SandboxReject(401, "Invalid username or password.", code="invalid_credentials")
        return json_response(self._pair(ctx, username, with_refresh=True))

    def _refresh(self, request, ctx: Context):
        raw = str(ctx.json().get("refresh_token", ""))
        token = token_find(kind=self.flavour.kind, token_type=SandboxToken.TokenType.REFRESH, raw=raw)
        if token is None or token_expired_seconds(token) > 0:
            raise SandboxReject(401, "The refresh token is invalid or expired.", code="invalid_refresh_token")
        token.delete()  # refresh tokens rotate: each is good once
        return json_response(self._pair(ctx, token.subject, with_refresh=True))


REST_API = RestLikeApi(REST)
BRIVITY_API = RestLikeApi(BRIVITY)
TOPPRODUCER_API = RestLikeApi(TOPPRODUCER)
