"""Mautic REST API: contacts (batch new/edit, CRUD, list/search), contact fields, users/self, OAuth2 token.

From ../shared/CRM-APIS.md §3: Basic or Bearer auth; errors `{"errors":[{code, message,
details, type}]}`; batch new ≤ api_batch_max_limit (200; more answers 500 as Mautic does),
merges on email, per-item `statusCodes` and `errors` keyed by input index; list answers
`{"total": "<n>", "contacts": {"<id>": {...}}}`; a `Mautic-Version` header on every answer.
"""

import base64
import binascii
import re

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

from sandbox.defaults import MAUTIC_FIELDS
from sandbox.models import Kind, SandboxRecord, SandboxToken
from sandbox.runtime import Context, Dialect, SandboxReject, dispatch, endpoint, json_response
from sandbox.store import (
    constant_in,
    email_valid,
    parse_instant,
    records_write,
    token_expired_seconds,
    token_find,
)

KIND = Kind.MAUTIC
BUCKETS = ("api",)
CUSTOM_FIELD_ID_OFFSET = 1000
FIELD_TYPES = {
    "text",
    "textarea",
    "multiselect",
    "select",
    "boolean",
    "lookup",
    "date",
    "datetime",
    "time",
    "timezone",
    "email",
    "html",
    "number",
    "tel",
    "url",
    "country",
    "region",
    "locale",
}
_WHERE = re.compile(r"^where\[(\d+)\]\[(col|expr|val)\](\[\])?$")


class MauticDialect(Dialect):
    kind = KIND

    def authenticate(self, ctx: Context) -> str | None:
        scheme, _, value = ctx.request.headers.get("Authorization", "").partition(" ")
        credentials = ctx.config.credentials or {}
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            for user in credentials.get("basic", []):
                if constant_in(username, [user.get("username", "")]) and constant_in(
                    password, [user.get("password", "")]
                ):
                    return username
            return None
        if scheme.lower() == "bearer":
            token = token_find(kind=KIND, token_type=SandboxToken.TokenType.ACCESS, raw=value.strip())
            if token is None:
                return None
            if token_expired_seconds(token) > 0:
                raise SandboxReject(401, "The access token provided has expired.", code="invalid_grant")
            return token.subject
        return None

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        error = {
            "code": status,
            "message": message,
            "details": (extra or {}).get("details", []),
            "type": code if code in ("invalid_grant", "access_denied") else None,
        }
        return json_response({"errors": [error]}, status=status)

    def unauthorized(self, ctx: Context) -> HttpResponse:
        return self.error(401, "API authorization denied.", code="access_denied")

    def rate_limited(self, state, ctx: Context) -> HttpResponse:
        return self.error(429, "API rate limit exceeded.")

    def base_headers(self, ctx: Context) -> dict[str, str]:
        return {"Mautic-Version": str((ctx.config.options or {}).get("version", "5.1.1"))}


DIALECT = MauticDialect()


def _stamp(value) -> str:
    return value.isoformat(timespec="seconds")


def fields_all() -> list[dict]:
    """Core fields (ids 1..n) then created ones (ids above 1000), as GET /api/fields/contact lists them."""
    fields = [
        {
            "id": index,
            "isPublished": True,
            "label": label,
            "alias": alias,
            "type": type_,
            "group": group,
            "order": index,
            "object": "lead",
            "defaultValue": None,
            "isRequired": False,
            "isPubliclyUpdatable": False,
            "isUniqueIdentifier": alias == "email",
            "properties": [],
        }
        for index, (alias, label, type_, group) in enumerate(MAUTIC_FIELDS, start=1)
    ]
    for record in SandboxRecord.objects.filter(kind=KIND, object_type="field").order_by("pk"):
        fields.append({**record.data, "id": record.pk + CUSTOM_FIELD_ID_OFFSET})
    return fields


def contact_json(record: SandboxRecord, fields: list[dict]) -> dict:
    values = record.data
    groups: dict[str, dict] = {"core": {}, "social": {}, "personal": {}, "professional": {}}
    for field in fields:
        groups.setdefault(field["group"], {})[field["alias"]] = {
            "id": str(field["id"]),
            "label": field["label"],
            "alias": field["alias"],
            "type": field["type"],
            "group": field["group"],
            "value": values.get(field["alias"]),
        }
    flat = {"id": record.pk, **{field["alias"]: values.get(field["alias"]) for field in fields}}
    return {
        "id": record.pk,
        "isPublished": True,
        "dateAdded": _stamp(record.created_at),
        "dateModified": _stamp(record.updated_at),
        "createdBy": None,
        "createdByUser": None,
        "modifiedBy": None,
        "modifiedByUser": None,
        "owner": None,
        "points": 0,
        "lastActive": None,
        "dateIdentified": _stamp(record.created_at),
        "color": None,
        "ipAddresses": [],
        "fields": {**groups, "all": flat},
        "tags": [],
        "utmtags": [],
        "doNotContact": [],
    }


def _contacts():
    return SandboxRecord.objects.filter(kind=KIND, object_type="contact")


def _values(item: dict, aliases: set[str], *, overwrite_blank: bool) -> tuple[dict, str | None]:
    """Known field values of one input and the first validation problem, if any."""
    values = {}
    for alias, value in item.items():
        if alias not in aliases or (value in ("", None) and not overwrite_blank):
            continue
        if isinstance(value, dict | list):
            return {}, f"{alias}: This value should be a scalar."
        values[alias] = value
    email = values.get("email")
    if email not in (None, "") and not email_valid(email):
        return {}, "email: A valid email is required."
    return values, None


def _save_batch(items: list, aliases: set[str], *, overwrite_blank: bool):
    """Apply a batch of creates/merges in bulk: returns (records or None, status codes, errors)."""
    parsed = [
        (
            _values(item, aliases, overwrite_blank=overwrite_blank)
            if isinstance(item, dict)
            else ({}, "Each item must be an object.")
        )
        for item in items
    ]
    emails = {v.get("email", "").lower() for v, problem in parsed if not problem and v.get("email")}
    existing = {r.key: r for r in _contacts().filter(key__in=emails)}
    now = timezone.now()
    outcome, created, updated = [], [], {}
    for values, problem in parsed:
        if problem:
            outcome.append((None, 400, problem))
            continue
        key = values["email"].lower() if values.get("email") else None
        record = existing.get(key) if key else None
        if record is None:
            record = SandboxRecord(
                kind=KIND, object_type="contact", key=key, data=values, created_at=now, updated_at=now
            )
            created.append(record)
            if key:
                existing[key] = record
            outcome.append((record, 201, None))
        else:
            record.data = {**record.data, **values}
            record.updated_at = now
            if record.pk:
                record.write_count += 1
                updated[record.pk] = record
            outcome.append((record, 200, None))
    with transaction.atomic():
        records_write(
            new=created, changed=list(updated.values()), fields=["data", "updated_at", "write_count"]
        )
    return outcome


def _batch_body(outcome, fields, *, whole_status: int):
    contacts, codes, errors = {}, [], {}
    for index, (record, status, problem) in enumerate(outcome):
        codes.append(status)
        if problem:
            errors[str(index)] = {"message": problem, "code": status, "type": "api"}
        else:
            contacts[index] = contact_json(record, fields)
    listed = (
        list(contacts.values()) if len(contacts) == len(outcome) else {str(k): v for k, v in contacts.items()}
    )
    body = {"contacts": listed, "statusCodes": codes}
    if errors:
        body["errors"] = errors
    return json_response(body, status=whole_status)


def _batch_items(ctx: Context) -> list:
    items = ctx.json(expect=list)
    limit = int(ctx.option("batch_max", 200))
    if len(items) > limit:
        raise SandboxReject(500, f"A max of {limit} entities are supported at a time.")
    return items


@endpoint(DIALECT, methods=("POST",), buckets=BUCKETS)
def contact_batch_new(request, ctx: Context):
    """POST /api/contacts/batch/new: 201 even with failed items; an existing email merges (200)."""
    items = _batch_items(ctx)
    fields = fields_all()
    aliases = {f["alias"] for f in fields}
    if ctx.faults.batch and any(
        not isinstance(i, dict) or _values(i, aliases, overwrite_blank=False)[1] for i in items
    ):
        raise SandboxReject(400, "The batch was rejected as a whole: one item is invalid.")
    try:
        outcome = _save_batch(items, aliases, overwrite_blank=False)
    except IntegrityError:
        raise SandboxReject(409, "A contact of this batch was created concurrently; retry.")
    return _batch_body(outcome, fields, whole_status=201)


@endpoint(DIALECT, methods=("PATCH", "PUT"), buckets=BUCKETS)
def contact_batch_edit(request, ctx: Context):
    """PATCH|PUT /api/contacts/batch/edit: each item has an id; unknown ids are 404 items."""
    items = _batch_items(ctx)
    fields = fields_all()
    aliases = {f["alias"] for f in fields}
    ids = [item.get("id") for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
    found = {r.pk: r for r in _contacts().filter(pk__in=ids)}
    now = timezone.now()
    outcome, changed = [], []
    for item in items:
        record = found.get(item.get("id")) if isinstance(item, dict) else None
        if record is None:
            outcome.append((None, 404, "Item was not found."))
            continue
        values, problem = _values(item, aliases, overwrite_blank=request.method == "PUT")
        if problem:
            outcome.append((None, 400, problem))
            continue
        record.data = values if request.method == "PUT" else {**record.data, **values}
        record.key = (record.data.get("email") or "").lower() or None
        record.updated_at, record.write_count = now, record.write_count + 1
        changed.append(record)
        outcome.append((record, 200, None))
    try:
        with transaction.atomic():
            records_write(new=[], changed=changed, fields=["data", "key", "updated_at", "write_count"])
    except IntegrityError:
        raise SandboxReject(409, "An email of this batch belongs to another contact.")
    return _batch_body(outcome, fields, whole_status=200)


@endpoint(DIALECT, methods=("POST",), buckets=BUCKETS)
def contact_new(request, ctx: Context):
    """POST /api/contacts/new: 201 created, 200 when merged into the contact with that email."""
    fields = fields_all()
    body = ctx.json()
    try:
        ((record, status, problem),) = _save_batch(
            [body], {f["alias"] for f in fields}, overwrite_blank=body.get("overwriteWithBlank") is True
        )
    except IntegrityError:
        raise SandboxReject(409, "The contact was created concurrently; retry.")
    if problem:
        raise SandboxReject(400, problem, extra={"details": {"email": [problem]}})
    return json_response({"contact": contact_json(record, fields)}, status=status)


def _where(params) -> Q:
    clauses: dict[str, dict] = {}
    for name in params:
        if match := _WHERE.match(name):
            value = params.getlist(name) if match.group(3) else params.get(name)
            clauses.setdefault(match.group(1), {})[match.group(2)] = value
    condition = Q()
    columns = {
        "datemodified": "updated_at",
        "date_modified": "updated_at",
        "dateadded": "created_at",
        "date_added": "created_at",
        "id": "pk",
        "email": "key",
    }
    for clause in clauses.values():
        col, expr, val = clause.get("col", ""), clause.get("expr", "eq"), clause.get("val")
        column = columns.get(col.lower(), f"data__{col}")
        if column in ("updated_at", "created_at") and expr not in ("isNull", "isNotNull"):
            instant = parse_instant(val)
            if instant is None:
                raise SandboxReject(400, f"where value {val!r} is not a date-time (YYYY-mm-dd HH:ii:ss)")
            val = instant
        elif column == "key" and isinstance(val, str):
            val = val.lower()
        lookups = {
            "eq": "exact",
            "neq": "exact",
            "lt": "lt",
            "lte": "lte",
            "gt": "gt",
            "gte": "gte",
            "in": "in",
            "notIn": "in",
            "like": "icontains",
            "notLike": "icontains",
        }
        if expr in ("isNull", "isNotNull"):
            clause_q = Q(**{f"{column}__isnull": True})
            condition &= clause_q if expr == "isNull" else ~clause_q
        elif expr in lookups:
            if expr in ("in", "notIn") and isinstance(val, str):
                val = val.split(",")
            if expr in ("like", "notLike"):
                val = str(val).strip("%")
            clause_q = Q(**{f"{column}__{lookups[expr]}": val})
            condition &= ~clause_q if expr in ("neq", "notIn", "notLike") else clause_q
        else:
            raise SandboxReject(400, f"where expression {expr!r} is not supported")
    return condition


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def contact_list(request, ctx: Context):
    """GET /api/contacts?search&start&limit&orderBy&orderByDir&where[n][col|expr|val]."""
    params = request.GET
    try:
        start, limit = int(params.get("start", 0)), int(params.get("limit", 30))
    except ValueError:
        raise SandboxReject(400, "start and limit must be integers")
    queryset = _contacts().filter(_where(params))
    if search := params.get("search", "").strip():
        if search.startswith("email:"):
            queryset = queryset.filter(key=search[6:].lower())
        else:
            queryset = queryset.filter(
                Q(key__icontains=search)
                | Q(data__firstname__icontains=search)
                | Q(data__lastname__icontains=search)
            )
    order = {
        "date_modified": "updated_at",
        "datemodified": "updated_at",
        "date_added": "created_at",
        "dateadded": "created_at",
        "id": "id",
        "email": "key",
    }.get(params.get("orderBy", "id").lower(), "id")
    prefix = "-" if params.get("orderByDir", "asc").lower() == "desc" else ""
    total = queryset.count()
    page = list(
        queryset.order_by(f"{prefix}{order}", f"{prefix}id")[start : start + max(0, min(limit, 1000))]
    )
    fields = fields_all()
    contacts = {str(r.pk): contact_json(r, fields) for r in page} or []  # PHP serialises an empty map as []
    return json_response({"total": str(total), "contacts": contacts})


def _contact(contact_id: int) -> SandboxRecord:
    record = _contacts().filter(pk=contact_id).first()
    if record is None:
        raise SandboxReject(404, "Item was not found.")
    return record


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def contact_read(request, ctx: Context, contact_id: int):
    return json_response({"contact": contact_json(_contact(contact_id), fields_all())})


@endpoint(DIALECT, methods=("PATCH", "PUT"), buckets=BUCKETS)
def contact_edit(request, ctx: Context, contact_id: int):
    """PATCH edits (404 when absent); PUT replaces, creating the contact when absent (201)."""
    fields = fields_all()
    body = ctx.json()
    record = _contacts().filter(pk=contact_id).first()
    if record is None and request.method == "PATCH":
        raise SandboxReject(404, "Item was not found.")
    values, problem = _values(body, {f["alias"] for f in fields}, overwrite_blank=request.method == "PUT")
    if problem:
        raise SandboxReject(400, problem, extra={"details": {"email": [problem]}})
    status = 200
    if record is None:
        record, status = SandboxRecord(kind=KIND, object_type="contact", data={}), 201
    record.data = values if request.method == "PUT" else {**record.data, **values}
    record.key = (record.data.get("email") or "").lower() or None
    record.updated_at = timezone.now()
    record.write_count += 0 if status == 201 else 1
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise SandboxReject(409, "email: This email is already used by another contact.")
    return json_response({"contact": contact_json(record, fields)}, status=status)


@endpoint(DIALECT, methods=("DELETE",), buckets=BUCKETS)
def contact_delete(request, ctx: Context, contact_id: int):
    record = _contact(contact_id)
    body = {"contact": contact_json(record, fields_all())}
    record.delete()
    return json_response(body)


contact_collection = dispatch(get=contact_list)
contact_edit_view = dispatch(patch=contact_edit, put=contact_edit)
