"""Mautic REST API: contacts (batch new/edit/delete, CRUD, list/search), fields, users/self, OAuth2 token.

From ../shared/CRM-APIS.md §3: Basic or Bearer auth; errors `{"errors":[{code, message,
details, type}]}`; batch new ≤ api_batch_max_limit (200; more answers 500 as Mautic does),
merges on email, per-item `statusCodes` and `errors` keyed by input index; list answers
`{"total": "<n>", "contacts": {"<id>": {...}}}`; a `Mautic-Version` header on every answer.
Behaviour the developer docs leave open (multiselect input, minimal=1, batch delete) is listed
as a guess in docs/sandbox.md.
"""

import base64
import binascii
import re

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse, QueryDict
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
            "description": None,
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


def contact_json(record: SandboxRecord, fields: list[dict], *, minimal: bool = False) -> dict:
    """A contact as Mautic serialises it; `minimal` drops the list groups (tags, utmtags, doNotContact)."""
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
    contact = {
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
        # PHP's json_encode writes an empty array as [], so an empty group is a list, not {}.
        "fields": {**{name: group or [] for name, group in groups.items()}, "all": flat},
    }
    if not minimal:
        contact.update({"tags": [], "utmtags": [], "doNotContact": []})
    return contact


def _minimal(ctx: Context) -> bool:
    return ctx.request.GET.get("minimal", "").lower() in ("1", "true")


def _contacts():
    return SandboxRecord.objects.filter(kind=KIND, object_type="contact")


def _options(field: dict) -> list[str] | None:
    """A select/multiselect field's option values, or None when it has no list to check against."""
    properties = field.get("properties")
    items = properties.get("list") if isinstance(properties, dict) else None
    if isinstance(items, str):
        return [part for part in items.split("|") if part]
    if isinstance(items, list):
        return [str(item.get("value")) for item in items if isinstance(item, dict)]
    return None


def _multiselect(alias: str, field: dict, value) -> tuple[str, str | None]:
    """A multiselect value as Mautic stores it ("a|b"), from a JSON array or an "a|b" string."""
    if isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        parts = value.split("|")
    elif isinstance(value, dict):
        return "", f"{alias}: This value is not valid."
    else:
        parts = [value]
    if any(isinstance(part, dict | list) or part is None for part in parts):
        return "", f"{alias}: This value is not valid."
    parts = [str(part) for part in parts if str(part) != ""]
    options = _options(field)
    if options is not None and any(part not in options for part in parts):
        return "", f"{alias}: This value is not valid."
    return "|".join(parts), None


def _values(item: dict, fields: dict[str, dict], *, overwrite_blank: bool) -> tuple[dict, str | None]:
    """Known field values of one input and the first validation problem, if any.

    Like Mautic's form layer: a multiselect takes a JSON array or an "a|b" string and is
    stored "|"-joined; a select or multiselect value must be one of the field's options;
    every other field refuses an array or object.
    """
    values = {}
    for alias, value in item.items():
        field = fields.get(alias)
        if field is None:
            continue
        if field["type"] == "multiselect" and value is not None:
            value, problem = _multiselect(alias, field, value)
            if problem:
                return {}, problem
        elif isinstance(value, dict | list):
            return {}, f"{alias}: This value should be a scalar."
        elif field["type"] == "select" and value not in ("", None):
            options = _options(field)
            if options is not None and str(value) not in options:
                return {}, f"{alias}: This value is not valid."
        if value in ("", None) and not overwrite_blank:
            continue
        values[alias] = value
    email = values.get("email")
    if email not in (None, "") and not email_valid(email):
        return {}, "email: A valid email is required."
    return values, None


def _details(problem: str) -> dict[str, list[str]]:
    """A form problem ("alias: message") as Mautic's per-field error details."""
    alias, _, message = problem.partition(": ")
    return {alias: [message]} if message else {"": [problem]}


def _save_batch(items: list, fields: dict[str, dict], *, overwrite_blank: bool):
    """Apply a batch of creates/merges in bulk: returns (records or None, status codes, errors)."""
    parsed = [
        (
            _values(item, fields, overwrite_blank=overwrite_blank)
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
    by_alias = {f["alias"]: f for f in fields}
    if ctx.faults.batch and any(
        not isinstance(i, dict) or _values(i, by_alias, overwrite_blank=False)[1] for i in items
    ):
        raise SandboxReject(400, "The batch was rejected as a whole: one item is invalid.")
    try:
        outcome = _save_batch(items, by_alias, overwrite_blank=False)
    except IntegrityError:
        raise SandboxReject(409, "A contact of this batch was created concurrently; retry.")
    return _batch_body(outcome, fields, whole_status=201)


@endpoint(DIALECT, methods=("PATCH", "PUT"), buckets=BUCKETS)
def contact_batch_edit(request, ctx: Context):
    """PATCH|PUT /api/contacts/batch/edit: each item has an id; unknown ids are 404 items."""
    items = _batch_items(ctx)
    fields = fields_all()
    by_alias = {f["alias"]: f for f in fields}
    ids = [item.get("id") for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
    found = {r.pk: r for r in _contacts().filter(pk__in=ids)}
    now = timezone.now()
    outcome, changed = [], []
    for item in items:
        record = found.get(item.get("id")) if isinstance(item, dict) else None
        if record is None:
            outcome.append((None, 404, "Item was not found."))
            continue
        values, problem = _values(item, by_alias, overwrite_blank=request.method == "PUT")
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
            [body], {f["alias"]: f for f in fields}, overwrite_blank=body.get("overwriteWithBlank") is True
        )
    except IntegrityError:
        raise SandboxReject(409, "The contact was created concurrently; retry.")
    if problem:
        raise SandboxReject(400, problem, extra={"details": _details(problem)})
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
    minimal = _minimal(ctx)
    contacts = {
        str(r.pk): contact_json(r, fields, minimal=minimal) for r in page
    } or []  # PHP serialises an empty map as []
    return json_response({"total": str(total), "contacts": contacts})


def _contact(contact_id: int) -> SandboxRecord:
    record = _contacts().filter(pk=contact_id).first()
    if record is None:
        raise SandboxReject(404, "Item was not found.")
    return record


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def contact_read(request, ctx: Context, contact_id: int):
    return json_response({"contact": contact_json(_contact(contact_id), fields_all(), minimal=_minimal(ctx))})


@endpoint(DIALECT, methods=("PATCH", "PUT"), buckets=BUCKETS)
def contact_edit(request, ctx: Context, contact_id: int):
    """PATCH edits (404 when absent); PUT replaces, creating the contact when absent (201)."""
    fields = fields_all()
    body = ctx.json()
    record = _contacts().filter(pk=contact_id).first()
    if record is None and request.method == "PATCH":
        raise SandboxReject(404, "Item was not found.")
    values, problem = _values(body, {f["alias"]: f for f in fields}, overwrite_blank=request.method == "PUT")
    if problem:
        raise SandboxReject(400, problem, extra={"details": _details(problem)})
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


def _delete_ids(ctx: Context) -> list:
    """`ids` from the query (`?ids=1,2,3` or `ids[]=1&ids[]=2`), else from a JSON or form body."""
    request = ctx.request
    ids = request.GET.getlist("ids[]") or request.GET.get("ids")
    if ids is None and request.body:
        if request.content_type == "application/json":
            body = ctx.json(expect=(dict, list))
            ids = body.get("ids") if isinstance(body, dict) else body
        else:
            ids = QueryDict(request.body).getlist("ids[]") or QueryDict(request.body).get("ids")
    if isinstance(ids, str):
        ids = [part.strip() for part in ids.split(",") if part.strip()]
    if not isinstance(ids, list) or not ids:
        raise SandboxReject(400, "ids: a comma-separated list of contact ids is required.")
    limit = int(ctx.option("batch_max", 200))
    if len(ids) > limit:
        raise SandboxReject(500, f"A max of {limit} entities are supported at a time.")
    return ids


@endpoint(DIALECT, methods=("DELETE",), buckets=BUCKETS)
def contact_batch_delete(request, ctx: Context):
    """DELETE /api/contacts/batch/delete?ids=1,2: the deleted contacts by input index; 404 items in errors."""
    ids = _delete_ids(ctx)
    wanted = {index: int(raw) for index, raw in enumerate(ids) if str(raw).isdigit()}
    found = {record.pk: record for record in _contacts().filter(pk__in=set(wanted.values()))}
    fields = fields_all()
    contacts, errors, deleted = {}, {}, set()
    for index in range(len(ids)):
        record = found.get(wanted.get(index))
        if record is None or record.pk in deleted:
            errors[str(index)] = {"message": "Item was not found.", "code": 404, "type": "api"}
            continue
        contacts[index] = contact_json(record, fields)
        deleted.add(record.pk)
    _contacts().filter(pk__in=deleted).delete()
    listed = (
        list(contacts.values()) if len(contacts) == len(ids) else {str(k): v for k, v in contacts.items()}
    )
    body = {"contacts": listed}
    if errors:
        body["errors"] = errors
    return json_response(body)


contact_collection = dispatch(get=contact_list)
contact_edit_view = dispatch(patch=contact_edit, put=contact_edit)
