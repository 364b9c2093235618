"""The request pipeline every sandbox endpoint runs through.

Order, as a real CRM answers: method check → authentication (the CRM's 401) → rate limit
(the CRM's 429 and headers) → injected faults (latency, timeout, 429/423/5xx) → the
emulated endpoint → rate-limit headers → request log. Each CRM's shapes live in its
Dialect; the pipeline never branches on the kind.
"""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ClassVar

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.views.decorators.csrf import csrf_exempt

from core.logging import SECRET_KEYS, redact
from sandbox.config import MAX_TIMEOUT_SECONDS, config_get
from sandbox.faults import (
    FAULT_HEADER,
    FaultHeaderInvalid,
    Faults,
    faults_draw,
    faults_merge,
    faults_parse,
    faults_scripted,
)
from sandbox.models import SandboxConfig, SandboxRequestLog
from sandbox.ratelimit import BucketState, rate_limit_hit

LOG_BODY_BYTES = 4096
LOG_KEEP = 5000
LOG_PRUNE_EVERY = 200


class SandboxReject(Exception):
    """Stop the endpoint and answer `status` in the CRM's error shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra or {}


@dataclass
class Context:
    request: HttpRequest
    config: SandboxConfig
    dialect: "Dialect"
    faults: Faults = field(default_factory=Faults)
    principal: str | None = None
    auth_method: str = ""
    states: list[BucketState] = field(default_factory=list)
    started: float = 0.0
    secret_body: bool = False
    logged: bool = False

    def option(self, name: str, default: Any = None) -> Any:
        return (self.config.options or {}).get(name, default)

    def json(self, *, expect: type | tuple = (dict,)) -> Any:
        """The JSON body, or a 400 in the CRM's shape when absent, malformed or of the wrong type."""
        try:
            data = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise SandboxReject(
                400, "Invalid input JSON: the request body is not valid JSON.", code="invalid_json"
            )
        if not isinstance(data, expect):
            names = " or ".join(t.__name__ for t in (expect if isinstance(expect, tuple) else (expect,)))
            wanted = names.replace("dict", "a JSON object").replace("list", "a JSON array")
            raise SandboxReject(400, f"Invalid input JSON: the body must be {wanted}.", code="invalid_json")
        return data


class Dialect:
    """How one CRM speaks: its authentication, error bodies, rate-limit headers."""

    kind: ClassVar[str]

    def authenticate(self, ctx: Context) -> str | None:
        """Return who is calling, or None for the CRM's 401 (may raise SandboxReject for a special 401)."""
        raise NotImplementedError

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        raise NotImplementedError

    def unauthorized(self, ctx: Context) -> HttpResponse:
        return self.error(401, "Authentication failed.", code="unauthorized")

    def rate_limited(self, state: BucketState | None, ctx: Context) -> HttpResponse:
        return self.error(429, "Too many requests.", code="rate_limited")

    def locked(self, ctx: Context) -> HttpResponse:
        return self.error(423, "The resource is locked; retry in 2 seconds.", code="locked")

    def server_error(self, status: int, ctx: Context) -> HttpResponse:
        return self.error(status, "Internal error (injected by the sandbox).", code="internal_error")

    def rate_headers(self, states: Sequence[BucketState], ctx: Context) -> dict[str, str]:
        return {}

    def base_headers(self, ctx: Context) -> dict[str, str]:
        return {}


def _timeout_seconds(config: SandboxConfig) -> float:
    return max(0.0, min(float(config.timeout_seconds), MAX_TIMEOUT_SECONDS))


def _fault_response(ctx: Context, faults: Faults) -> HttpResponse | None:
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    if faults.timeout:
        time.sleep(_timeout_seconds(ctx.config))
        return ctx.dialect.server_error(504, ctx)
    if faults.status is None:
        return None
    if faults.status == 429:
        response = ctx.dialect.rate_limited(None, ctx)
        if faults.retry_after is not None:
            response["Retry-After"] = str(faults.retry_after)
        return response
    if faults.status == 423:
        return ctx.dialect.locked(ctx)
    if faults.status >= 500:
        return ctx.dialect.server_error(faults.status, ctx)
    return ctx.dialect.error(faults.status, "Error injected by the sandbox.", code="injected")


def _pipeline(view: Callable, ctx: Context, buckets: Sequence[str], auth: bool, inject: bool, args, kwargs):
    request = ctx.request
    try:
        header_faults = faults_parse(request.headers.get(FAULT_HEADER, ""))
    except FaultHeaderInvalid as exc:
        raise SandboxReject(400, str(exc), code="invalid_fault_header")
    ctx.faults = header_faults
    if auth:
        principal = ctx.dialect.authenticate(ctx)
        if principal is None:
            return ctx.dialect.unauthorized(ctx)
        ctx.principal = principal
    if ctx.config.rate_limit_enabled and buckets:
        ctx.states = rate_limit_hit(kind=ctx.config.kind, buckets=ctx.config.rate_limits or {}, names=buckets)
        denied = next((state for state in ctx.states if state.denied), None)
        if denied is not None:
            response = ctx.dialect.rate_limited(denied, ctx)
            for name, value in ctx.dialect.rate_headers(ctx.states, ctx).items():
                response[name] = value
            return response
    if inject:
        ctx.faults = faults_merge(header_faults, faults_draw(ctx.config))
        ctx.faults = faults_scripted(ctx.config, request.path) or ctx.faults
    if (response := _fault_response(ctx, ctx.faults)) is not None:
        return response
    # The endpoint's writes and its log line commit together: one commit per request, not two.
    with transaction.atomic():
        response = view(request, ctx, *args, **kwargs)
        for name, value in ctx.dialect.rate_headers(ctx.states, ctx).items():
            response[name] = value
        if ctx.faults.malformed and response.content:
            response.content = response.content[: max(1, len(response.content) // 2)]
        for name, value in ctx.dialect.base_headers(ctx).items():
            response[name] = value
        _log(ctx, response, ctx.started, secret_body=ctx.secret_body)
        ctx.logged = True
    return response


def _log(ctx: Context, response: HttpResponse, started: float, *, secret_body: bool) -> None:
    if not ctx.option("log_requests", True):
        return
    request = ctx.request
    headers = {
        name: ("[REDACTED]" if SECRET_KEYS.search(name) else value)
        for name, value in request.headers.items()
        if name.lower() not in ("cookie", "host", "content-length", "connection")
    }
    try:
        raw = request.body
    except (RawPostDataException, RequestDataTooBig):
        raw = b""
    body = raw[: ctx.option("log_body_bytes", LOG_BODY_BYTES)].decode("utf-8", errors="replace")
    entry = SandboxRequestLog.objects.create(
        kind=ctx.config.kind,
        method=request.method,
        path=request.path[:500],
        query=redact(request.META.get("QUERY_STRING", "")),
        headers=headers,
        # Only token endpoints carry secrets in the body; scrubbing each 100-contact batch costs ms.
        body=redact(body) if secret_body else body,
        status=response.status_code,
        fault=",".join(ctx.faults.labels)[:100],
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    if entry.pk % LOG_PRUNE_EVERY == 0:
        keep = int(ctx.option("log_keep", LOG_KEEP))
        SandboxRequestLog.objects.filter(kind=ctx.config.kind, pk__lte=entry.pk - keep).delete()


def endpoint(
    dialect: Dialect,
    *,
    methods: Sequence[str],
    buckets: Sequence[str] = (),
    auth: bool = True,
    inject: bool = True,
) -> Callable:
    """Wrap a view `view(request, ctx, **kwargs)` in the sandbox pipeline for `dialect`'s CRM.

    `methods` maps to handlers when a dict is needed: pass one view per method through
    `dispatch()` instead.
    """

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            started = time.perf_counter()
            ctx = Context(request=request, config=config_get(kind=dialect.kind), dialect=dialect)
            ctx.started, ctx.secret_body = started, not auth
            try:
                try:
                    request.body  # noqa: B018 - read now so the log can still see it after form parsing
                except RequestDataTooBig:
                    raise SandboxReject(413, "The request body is too large.", code="request_too_large")
                if request.method not in methods:
                    response = dialect.error(
                        405, f"{request.method} is not allowed here.", code="method_not_allowed"
                    )
                else:
                    response = _pipeline(view, ctx, buckets, auth, inject, args, kwargs)
            except SandboxReject as exc:
                response = dialect.error(exc.status, exc.message, code=exc.code, extra=exc.extra)
            if not ctx.logged:
                for name, value in dialect.base_headers(ctx).items():
                    response[name] = value
                _log(ctx, response, started, secret_body=not auth)
            return response

        return wrapper

    return decorate


def dispatch(**handlers: Callable) -> Callable:
    """One view for a path that answers several methods, each handler already wrapped by `endpoint`."""

    @csrf_exempt
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        handler = handlers.get(request.method.lower())
        if handler is None:
            handler = next(iter(handlers.values()))  # its pipeline answers the CRM's 405
        return handler(request, *args, **kwargs)

    return view


ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def unknown_path(dialect: Dialect) -> Callable:
    """The catch-all view of one sandbox: an unknown path answers the CRM's own JSON 404.

    Real CRMs route before they authenticate, so the 404 needs no credentials; it is logged
    like any other call. Without it Django would answer its HTML page (in DEBUG, the URL list).
    """

    @endpoint(dialect, methods=ALL_METHODS, auth=False, inject=False)
    def view(request: HttpRequest, ctx: Context, **kwargs) -> HttpResponse:
        raise SandboxReject(404, f"Requested URL not found: {request.path}", code="not_found")

    return view


def json_response(data: Any, *, status: int = 200, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(
        data, status=status, safe=False, headers=headers, json_dumps_params={"separators": (",", ":")}
    )


def no_content(status: int = 204) -> HttpResponse:
    return HttpResponse(status=status)
