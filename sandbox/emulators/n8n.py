"""n8n Webhook node as a push target: /sandbox/n8n/webhook/<path> and /webhook-test/<path>.

From ../shared/CRM-APIS.md §4. The node itself: a path registered for POST while the
workflow is active (else the 404 "not registered" body with its hint); header or basic
auth answered in plain text (401 "Authorization is required!", 403 "Authorization data is
wrong!"); respond "Immediately" → 200 {"message": "Workflow was started"}. A GET or HEAD
on the POST path answers 404 "This webhook is not registered for GET requests..." and runs
nothing, so a credential test can probe the URL without starting a workflow.

The workflow behind it (what a user would build): verify the HMAC-SHA256 signature
(`<signature_header>: sha256=<hex of HMAC(secret, raw body)>`, 401 otherwise), then
store each contact once per idempotency key (the item's `idempotency_key` /
`idempotencyKey`, else the request's Idempotency-Key header) and count repeats. With
options.respond = "last_node" it answers {received, duplicates, results: [{contact_id?,
idempotency_key, ok, duplicate}]} instead of n8n's "Workflow was started".
Accepted bodies: a JSON array of contacts, or an object with `contacts`, `items` or
`records`, or a single contact object.
"""

import base64
import binascii
import hashlib
import hmac
import json

from django.db import IntegrityError, transaction
from django.http import HttpResponse

from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import Context, Dialect, SandboxReject, endpoint, json_response
from sandbox.store import constant_in

KIND = Kind.N8N
HINT = (
    "The workflow must be active for a production URL to run successfully. You can activate the workflow "
    "using "
    "the toggle in the top-right of the editor. Note that unlike test URL calls, production URL calls aren't "
    "shown on the canvas (only in the executions list)"
)
TEST_HINT = (
    "Click the 'Execute workflow' button on the canvas, then try again. (In test mode, the workflow only "
    "works for one call after you click this button)"
)


class N8nDialect(Dialect):
    kind = KIND

    def authenticate(self, ctx: Context) -> str | None:
        credentials = ctx.config.credentials or {}
        mode = credentials.get("auth", "header")
        request = ctx.request
        if mode == "none":
            return "anonymous"
        if mode == "basic":
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic":
                raise _Plain(401, "Authorization is required!", basic=True)
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _Plain(403, "Authorization data is wrong!", basic=True)
            if constant_in(user, [credentials.get("basic_username", "")]) and constant_in(
                password, [credentials.get("basic_password", "")]
            ):
                return user
            raise _Plain(403, "Authorization data is wrong!", basic=True)
        value = request.headers.get(credentials.get("header_name", ""), "")
        if not value:
            raise _Plain(403, "Authorization data is wrong!")
        if constant_in(value, [credentials.get("header_value", "")]):
            return "header"
        raise _Plain(403, "Authorization data is wrong!")

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        return json_response({"code": status, "message": message, **(extra or {})}, status=status)

    def rate_limited(self, state, ctx: Context) -> HttpResponse:
        return self.error(429, "Too many requests (injected by the sandbox: n8n has no rate limit).")


class _Plain(SandboxReject):
    def __init__(self, status: int, message: str, *, basic: bool = False):
        super().__init__(status, message, code="plain", extra={"basic": basic})


DIALECT = N8nDialect()


def _plain(exc: _Plain) -> HttpResponse:
    response = HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    if exc.extra.get("basic"):
        response["WWW-Authenticate"] = 'Basic realm="Webhook"'
    return response


def _items(body) -> list:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for name in ("contacts", "items", "records"):
            if isinstance(body.get(name), list):
                return body[name]
        return [body]
    raise SandboxReject(400, "The body must be JSON: an array of contacts or an object.")


def _signature_ok(ctx: Context) -> bool:
    secret = (ctx.config.credentials or {}).get("hmac_secret")
    if not secret:
        return True
    sent = ctx.request.headers.get(ctx.option("signature_header", "X-Signature-256"), "")
    sent = sent.split("=", 1)[1] if sent.lower().startswith("sha256=") else sent
    expected = hmac.new(secret.encode(), ctx.request.body, hashlib.sha256).hexdigest()
    return bool(sent) and hmac.compare_digest(sent.lower(), expected)


def _record(ctx: Context, path: str, items: list) -> dict:
    """Store each item once per idempotency key; return what the workflow saw."""
    header_key = ctx.request.headers.get(ctx.option("idempotency_header", "Idempotency-Key"), "")
    object_type = f"delivery:{path}"[:64]
    received, duplicates, keys = 0, 0, []
    rows = []
    for index, item in enumerate(items):
        key = None
        if isinstance(item, dict):
            key = item.get("idempotency_key") or item.get("idempotencyKey")
        if not key and header_key:
            key = f"{header_key}:{index}" if len(items) > 1 else header_key
        rows.append(
            SandboxRecord(
                kind=KIND,
                object_type=object_type,
                key=str(key)[:320] if key else None,
                data=item if isinstance(item, dict) else {"value": item},
            )
        )
        keys.append(key)
    present = set(
        SandboxRecord.objects.filter(
            kind=KIND, object_type=object_type, key__in=[k for k in keys if k]
        ).values_list("key", flat=True)
    )
    fresh, seen, results = [], set(), []
    for item, row in zip(items, rows, strict=True):
        duplicate = bool(row.key) and (row.key in present or row.key in seen)
        result = {"idempotency_key": row.key, "ok": True, "duplicate": duplicate}
        if isinstance(item, dict) and "contact_id" in item:
            result["contact_id"] = item["contact_id"]
        results.append(result)
        if duplicate:
            duplicates += 1
            continue
        seen.add(row.key)
        fresh.append(row)
    try:
        with transaction.atomic():
            SandboxRecord.objects.bulk_create(fresh)
        received = len(fresh)
    except IntegrityError:  # a concurrent delivery of the same keys: store what is still new
        received = len(SandboxRecord.objects.bulk_create(fresh, ignore_conflicts=True))
        duplicates += len(fresh) - received
    return {"received": received, "duplicates": duplicates, "results": results}


def _not_registered(method: str, path: str, *, test: bool) -> HttpResponse:
    return json_response(
        {
            "code": 404,
            "message": f'The requested webhook "{method} {path}" is not registered.',
            "hint": TEST_HINT if test else HINT,
        },
        status=404,
    )


def _webhook(request, ctx: Context, path: str, *, test: bool):
    paths = ctx.option("paths", [])
    registered = path in paths and (
        ctx.option("test_listening", False) if test else ctx.option("active", True)
    )
    if not registered:
        return _not_registered(request.method, path, test=test)
    if request.method != "POST":
        return json_response(
            {
                "code": 404,
                "message": f"This webhook is not registered for {request.method} "
                "requests. Did you mean to make a POST request?",
            },
            status=404,
        )
    try:
        ctx.principal = DIALECT.authenticate(ctx)
    except _Plain as exc:
        return _plain(exc)
    if len(request.body) > int(ctx.option("max_payload_bytes", 16 * 1024 * 1024)):
        return json_response({"code": 413, "message": "request entity too large"}, status=413)
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return json_response({"code": 400, "message": "Invalid JSON in request body"}, status=400)
    if not _signature_ok(ctx):
        return json_response({"message": "Invalid signature"}, status=401)
    summary = _record(ctx, path, _items(body))
    if ctx.option("respond", "immediately") == "last_node":  # a "Respond to Webhook" node with the outcome
        return json_response(summary)
    return json_response({"message": "Workflow was started"})


@endpoint(DIALECT, methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), auth=False)
def webhook(request, ctx: Context, path: str):
    return _webhook(request, ctx, path, test=False)


@endpoint(DIALECT, methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), auth=False)
def webhook_test(request, ctx: Context, path: str):
    return _webhook(request, ctx, path, test=True)
