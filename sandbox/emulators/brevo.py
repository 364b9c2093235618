"""Brevo v3: contacts (create/upsert, read, update, batch update, delete, list, import), processes.

Written from ../shared/specs/brevo-v3-openapi.yml and ../shared/CRM-APIS.md §2. Auth by the
`api-key` header; errors `{code, message[, metadata]}`; x-sib-ratelimit-* headers. The
contacts endpoints share a 10-per-second and 36,000-per-hour budget; /account and
/processes sit in the 100-per-hour bucket of "all other endpoints". Lists and folders are in
brevo_lists, attributes and the account in brevo_attributes.
"""

import csv
import io
import math
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

from sandbox.defaults import BREVO_ATTRIBUTES
from sandbox.models import Kind, SandboxRecord
from sandbox.ratelimit import BucketState, now_ms
from sandbox.runtime import (
    Context,
    Dialect,
    SandboxReject,
    dispatch,
    endpoint,
    json_response,
    no_content,
)
from sandbox.store import constant_in, email_valid, json_array_has_any, parse_instant, records_write

KIND = Kind.BREVO
CONTACT_BUCKETS = ("contacts", "contacts_hourly")
OTHER_BUCKETS = ("other_hourly",)
ERROR_CODES = {
    "invalid_parameter",
    "missing_parameter",
    "out_of_range",
    "document_not_found",
    "permission_denied",
    "duplicate_parameter",
    "duplicate_request",
    "method_not_allowed",
    "unauthorized",
    "not_acceptable",
    "bad_request",
    "unprocessable_entity",
    "account_in_process",
    # Not in the spec's enums: what the sandbox answers for a path or method it does not serve.
    "not_found",
}
_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "document_not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "bad_request",
    422: "unprocessable_entity",
    423: "too_early",
    429: "too_many_requests",
}


def _ts(value) -> str:
    return value.isoformat(timespec="milliseconds")


class BrevoDialect(Dialect):
    kind = KIND

    def authenticate(self, ctx: Context) -> str | None:
        key = ctx.request.headers.get("api-key", "")
        if key and constant_in(key, (ctx.config.credentials or {}).get("api_keys", [])):
            return "api-key"
        return None

    def error(
        self, status: int, message: str, *, code: str | None = None, extra: dict | None = None
    ) -> HttpResponse:
        if code not in ERROR_CODES:
            code = _CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
        return json_response({"code": code, "message": message, **(extra or {})}, status=status)

    def unauthorized(self, ctx: Context) -> HttpResponse:
        return self.error(401, "Key not found", code="unauthorized")

    def rate_limited(self, state: BucketState | None, ctx: Context) -> HttpResponse:
        return json_response(
            {"code": "too_many_requests", "message": "The expected rate limit is exceeded."}, status=429
        )

    def rate_headers(self, states: Sequence[BucketState], ctx: Context) -> dict[str, str]:
        if not states:
            return {}
        state = next((s for s in states if s.denied), None) or min(states, key=lambda s: s.remaining)
        return {
            "x-sib-ratelimit-limit": str(state.limit),
            "x-sib-ratelimit-remaining": str(state.remaining),
            "x-sib-ratelimit-reset": str(math.ceil(state.reset_ms / 1000)),
        }


DIALECT = BrevoDialect()


def _contacts():
    return SandboxRecord.objects.filter(kind=KIND, object_type="contact")


def _attributes() -> dict[str, dict]:
    found = {a["name"]: a for a in BREVO_ATTRIBUTES}
    for record in SandboxRecord.objects.filter(kind=KIND, object_type="attribute"):
        found[record.key] = record.data
    return found


def contact_json(record: SandboxRecord, *, extended: bool = False) -> dict:
    data = record.data
    body = {
        "email": data.get("email"),
        "id": record.pk,
        "emailBlacklisted": bool(data.get("emailBlacklisted", False)),
        "smsBlacklisted": bool(data.get("smsBlacklisted", False)),
        "createdAt": _ts(record.created_at),
        "modifiedAt": _ts(record.updated_at),
        "listIds": data.get("listIds", []),
        "attributes": data.get("attributes", {}),
        # Not in the spec file; brevo-python 5.x (built from Brevo's current API definition) requires it.
        "whatsappBlacklisted": bool(data.get("whatsappBlacklisted", False)),
    }
    if body["email"] is None:
        del body["email"]
    if extended:
        body["statistics"] = {}
    return body


def _coerce(definition: dict, value):
    """The value as the attribute's type, or None when it does not fit (Brevo ignores those)."""
    kind = definition.get("type", "text")
    if kind == "float":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return value if isinstance(value, str) and parse_instant(value) else None
    return value if isinstance(value, str | int | float | bool | list) else None


def _clean_attributes(raw, known: dict[str, dict], *, strict: bool, allow_email: bool = False) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SandboxReject(400, "attributes must be an object", code="invalid_parameter")
    clean = {}
    for name, value in raw.items():
        upper = str(name).upper()
        if allow_email and upper == "EMAIL":
            clean[upper] = value
            continue
        definition = known.get(upper)
        if definition is None:
            if strict:
                raise SandboxReject(
                    400, f"Attribute {upper} does not exist in your account", code="invalid_parameter"
                )
            continue
        coerced = _coerce(definition, value)
        if coerced is not None:
            clean[upper] = coerced
    return clean


def _flags(body: dict) -> dict:
    flags = {}
    for name in ("emailBlacklisted", "smsBlacklisted"):
        if name in body:
            if not isinstance(body[name], bool):
                raise SandboxReject(400, f"{name} must be a boolean", code="invalid_parameter")
            flags[name] = body[name]
    if body.get("ext_id") is not None:
        flags["ext_id"] = str(body["ext_id"])
    return flags


def list_ids_param(body: dict, name: str) -> list[int]:
    """`body[name]` as list ids (absent = none), or a 400 when it is not an array of integers."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise SandboxReject(400, f"{name} must be an array of integers", code="invalid_parameter")
    return value


def _contact_apply(
    record: SandboxRecord, body: dict, *, known: dict, strict: bool, allow_email: bool
) -> None:
    """Apply an updateContact-shaped body to `record` in memory (the caller saves it).

    Attributes merge; `listIds` adds lists and `unlinkListIds` removes them (the spec: "Ids
    of the lists to add the contact to" / "to remove the contact from"); with `allow_email`,
    attributes.EMAIL changes the email unless another contact has it.
    """
    attributes = _clean_attributes(body.get("attributes"), known, strict=strict, allow_email=allow_email)
    flags = _flags(body)
    added, removed = list_ids_param(body, "listIds"), list_ids_param(body, "unlinkListIds")
    new_email = attributes.pop("EMAIL", None)
    if new_email is not None:
        if not email_valid(new_email):
            raise SandboxReject(400, "Invalid email address", code="invalid_parameter")
        if _contacts().filter(key=new_email.lower()).exclude(pk=record.pk).exists():
            raise SandboxReject(
                400,
                "Unable to update contact, email is already associated with another Contact",
                code="duplicate_parameter",
                extra={"metadata": {"duplicate_identifiers": ["email"]}},
            )
        record.key, flags["email"] = new_email.lower(), new_email
    lists = (set(record.data.get("listIds", [])) | set(added)) - set(removed)
    record.data = {
        **record.data,
        **flags,
        "listIds": sorted(lists),
        "attributes": {**record.data.get("attributes", {}), **attributes},
    }
    record.updated_at = timezone.now()
    record.write_count += 1


def page_params(request, *, default_limit: int, max_limit: int) -> tuple[int, int, str]:
    """`limit`, `offset` and `sort` of a Brevo list endpoint, or a 400 naming the bad one."""
    params = request.GET
    try:
        limit = int(params.get("limit", default_limit))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise SandboxReject(400, "limit and offset must be integers", code="invalid_parameter")
    if not 0 <= limit <= max_limit or offset < 0:
        raise SandboxReject(
            400, f"limit must be between 0 and {max_limit} and offset positive", code="out_of_range"
        )
    sort = params.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise SandboxReject(400, "sort must be asc or desc", code="invalid_parameter")
    return limit, offset, sort


def page_of(queryset, *, limit: int, offset: int, sort: str) -> list:
    """One page in creation order (ids grow with creation), newest first unless sort=asc."""
    if not limit:
        return []
    return list(queryset.order_by("id" if sort == "asc" else "-id")[offset : offset + limit])


def since_filter(queryset, params, names: Sequence[str] = ("modifiedSince", "createdSince")):
    for name, column in (("modifiedSince", "updated_at__gte"), ("createdSince", "created_at__gte")):
        if name in names and params.get(name):
            instant = parse_instant(params[name])
            if instant is None:
                raise SandboxReject(
                    400,
                    f"{name} is not a valid date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)",
                    code="invalid_parameter",
                )
            queryset = queryset.filter(**{column: instant})
    return queryset


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def contact_create(request, ctx: Context):
    """POST /v3/contacts: 201 {id} when created, 204 when updated (updateEnabled), 400 duplicate."""
    body = ctx.json()
    email = body.get("email")
    attributes = _clean_attributes(
        body.get("attributes"), _attributes(), strict=ctx.option("strict_attributes", True)
    )
    if email is None and not body.get("ext_id") and not attributes.get("SMS"):
        raise SandboxReject(400, "email is missing", code="missing_parameter")
    if email is not None and not email_valid(email):
        raise SandboxReject(400, "Invalid email address", code="invalid_parameter")
    flags = _flags(body)
    list_ids = list_ids_param(body, "listIds")
    existing = _contacts().filter(key=email.lower()).first() if email else None
    if existing is not None:
        if body.get("updateEnabled") is not True:
            raise SandboxReject(
                400,
                "Unable to create contact, email is already associated with another Contact",
                code="duplicate_parameter",
                extra={"metadata": {"duplicate_identifiers": ["email"]}},
            )
        _contact_apply(
            existing,
            {**body, "attributes": attributes},
            known=_attributes(),
            strict=False,
            allow_email=False,
        )
        existing.save(update_fields=["data", "updated_at", "write_count"])
        return no_content()
    try:
        with transaction.atomic():
            record = SandboxRecord.objects.create(
                kind=KIND,
                object_type="contact",
                key=email.lower() if email else None,
                data={"email": email, "attributes": attributes, "listIds": sorted(set(list_ids)), **flags},
            )
    except IntegrityError:
        raise SandboxReject(
            425, "The contact is being created by another request; retry.", code="account_in_process"
        )
    return json_response({"id": record.pk}, status=201)


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def contact_list(request, ctx: Context):
    """GET /v3/contacts?limit&offset&modifiedSince&createdSince&sort&listIds&ids (sorted by creation).

    Segments and `filter` are not emulated: they answer a 400 rather than every contact.
    """
    limit, offset, sort = page_params(request, default_limit=50, max_limit=1000)
    queryset = since_filter(_contacts(), request.GET)
    for name in ("segmentId", "filter"):
        if request.GET.get(name):
            raise SandboxReject(400, f"{name} is not emulated by the sandbox", code="invalid_parameter")
    list_ids, ids = _query_ints(request.GET, "listIds"), _query_ints(request.GET, "ids")
    if list_ids:
        queryset = queryset.filter(json_array_has_any(key="listIds", values=list_ids))
    if ids:
        if len(ids) > 20:
            raise SandboxReject(400, "ids takes at most 20 contact ids", code="out_of_range")
        queryset = queryset.filter(pk__in=ids)
    count = queryset.count()
    page = page_of(queryset, limit=limit, offset=offset, sort=sort)
    return json_response({"contacts": [contact_json(r) for r in page], "count": count})


def _query_ints(params, name: str) -> list[int]:
    """A query array of integers, repeated (OpenAPI's form style: `listIds=1&listIds=2`) or
    comma-separated."""
    values = [part.strip() for raw in params.getlist(name) for part in raw.split(",") if part.strip()]
    if not all(value.isdigit() for value in values):
        raise SandboxReject(400, f"{name} must be integers", code="invalid_parameter")
    return [int(value) for value in values]


def _resolve(ctx: Context, identifier: str) -> SandboxRecord:
    kind = ctx.request.GET.get("identifierType")
    contacts = _contacts()
    if kind == "contact_id" or (kind is None and identifier.isdigit()):
        record = contacts.filter(pk=int(identifier)).first() if identifier.isdigit() else None
    elif kind == "email_id" or (kind is None and "@" in identifier):
        record = contacts.filter(key=identifier.lower()).first()
    elif kind == "ext_id":
        record = contacts.filter(data__ext_id=identifier).first()
    elif kind in ("phone_id", None):
        record = contacts.filter(data__attributes__SMS=identifier).first()
    else:
        raise SandboxReject(
            400, f"identifierType {kind} is not supported by the sandbox", code="invalid_parameter"
        )
    if record is None:
        raise SandboxReject(404, "Contact does not exist", code="document_not_found")
    return record


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def contact_read(request, ctx: Context, identifier: str):
    return json_response(contact_json(_resolve(ctx, identifier), extended=True))


@endpoint(DIALECT, methods=("PUT",), buckets=CONTACT_BUCKETS)
def contact_update(request, ctx: Context, identifier: str):
    """PUT /v3/contacts/{identifier}: 204; attributes.EMAIL changes the email."""
    body = ctx.json()
    record = _resolve(ctx, identifier)
    _contact_apply(
        record, body, known=_attributes(), strict=ctx.option("strict_attributes", True), allow_email=True
    )
    record.save(update_fields=["data", "key", "updated_at", "write_count"])
    return no_content()


@endpoint(DIALECT, methods=("DELETE",), buckets=CONTACT_BUCKETS)
def contact_delete(request, ctx: Context, identifier: str):
    _resolve(ctx, identifier).delete()
    return no_content()


_BATCH_IDENTIFIERS = {"email": str, "id": int, "sms": str}


def _batch_identifier(index: int, item) -> tuple[str, object]:
    if not isinstance(item, dict):
        raise SandboxReject(400, f"contacts[{index}] must be an object", code="invalid_parameter")
    given = [name for name in _BATCH_IDENTIFIERS if item.get(name) is not None]
    if len(given) != 1:
        raise SandboxReject(
            400, f"contacts[{index}]: pass exactly one of email, id or sms", code="invalid_parameter"
        )
    name = given[0]
    value = item[name]
    if not isinstance(value, _BATCH_IDENTIFIERS[name]) or isinstance(value, bool):
        raise SandboxReject(400, f"contacts[{index}].{name} has the wrong type", code="invalid_parameter")
    return name, value


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def contact_batch_update(request, ctx: Context):
    """POST /v3/contacts/batch: 204 once every contact is updated, else nothing is written.

    The spec declares 204 and 400 only. An unknown contact fails the whole call with the 404
    Brevo was seen to answer (CRM-APIS.md §2.4): "No contact found for indexes 3,4".
    """
    items = ctx.json().get("contacts")
    if items is None:
        raise SandboxReject(400, "contacts is missing", code="missing_parameter")
    if not isinstance(items, list) or not items:
        raise SandboxReject(400, "contacts must be a non-empty array", code="invalid_parameter")
    identifiers = [_batch_identifier(index, item) for index, item in enumerate(items)]
    emails = [str(value).lower() for name, value in identifiers if name == "email"]
    ids = [value for name, value in identifiers if name == "id"]
    smses = [value for name, value in identifiers if name == "sms"]
    found = list(_contacts().filter(Q(key__in=emails) | Q(pk__in=ids) | Q(data__attributes__SMS__in=smses)))
    lookup = {
        "email": {r.key: r for r in found},
        "id": {r.pk: r for r in found},
        "sms": {(r.data.get("attributes") or {}).get("SMS"): r for r in found},
    }
    targets = []
    for name, value in identifiers:
        key = value.lower() if name == "email" else value
        targets.append(lookup[name].get(key))
    missing = [str(index) for index, record in enumerate(targets) if record is None]
    known, strict = _attributes(), ctx.option("strict_attributes", True)
    for item, record in zip(items, targets, strict=True):
        if record is not None:
            _contact_apply(record, item, known=known, strict=strict, allow_email=True)
    if missing:
        raise SandboxReject(
            404, f"No contact found for indexes {','.join(missing)}", code="document_not_found"
        )
    changed = list({record.pk: record for record in targets}.values())
    try:
        with transaction.atomic():
            records_write(new=[], changed=changed, fields=["data", "key", "updated_at", "write_count"])
    except IntegrityError:
        raise SandboxReject(
            400,
            "Unable to update contacts, an email is already associated with another Contact",
            code="duplicate_parameter",
            extra={"metadata": {"duplicate_identifiers": ["email"]}},
        )
    return no_content()


def _import_rows(body: dict) -> list[dict]:
    sources = [name for name in ("fileUrl", "fileBody", "jsonBody") if body.get(name) not in (None, "", [])]
    if len(sources) != 1:
        raise SandboxReject(
            400, "Exactly one of fileUrl, fileBody or jsonBody is required", code="missing_parameter"
        )
    if sources[0] == "fileUrl":
        raise SandboxReject(
            400, "The sandbox cannot fetch fileUrl; send jsonBody or fileBody", code="invalid_parameter"
        )
    if sources[0] == "jsonBody":
        rows = body["jsonBody"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise SandboxReject(400, "jsonBody must be an array of objects", code="invalid_parameter")
        return rows
    reader = csv.DictReader(io.StringIO(str(body["fileBody"])), delimiter=";")
    return [
        {
            "email": row.pop("EMAIL", None) or row.pop("email", None),
            "attributes": {k: v for k, v in row.items() if k},
        }
        for row in reader
    ]


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def contact_import(request, ctx: Context):
    """POST /v3/contacts/import: 202 {processId}; rows are applied now, the process reports completion."""
    if len(request.body) > int(ctx.option("import_max_bytes", 10 * 1024 * 1024)):
        raise SandboxReject(400, "Maximum allowed body size is 10MB", code="out_of_range")
    body = ctx.json()
    rows = _import_rows(body)
    list_ids = list_ids_param(body, "listIds")
    new_list = body.get("newList")
    if new_list is not None and not isinstance(new_list, dict):
        raise SandboxReject(400, "newList must be an object", code="invalid_parameter")
    if not list_ids and not (new_list or {}).get("listName"):
        raise SandboxReject(400, "listIds is mandatory unless newList is given", code="missing_parameter")
    known = _attributes()
    update_existing = body.get("updateExistingContacts", True) is not False
    empty_erases = body.get("emptyContactsAttributes", False) is True
    blacklists = {
        flag: True
        for flag, option in (("emailBlacklisted", "emailBlacklist"), ("smsBlacklisted", "smsBlacklist"))
        if body.get(option) is True
    }
    valid: dict[str, dict] = {}
    invalid = 0
    for row in rows:
        email = row.get("email")
        if not email_valid(email):
            invalid += 1
            continue
        attributes = _clean_attributes(row.get("attributes"), known, strict=False)
        if not empty_erases:
            attributes = {k: v for k, v in attributes.items() if v not in ("", None)}
        valid[email.lower()] = {"email": email, "attributes": attributes}
    now = timezone.now()
    with transaction.atomic():
        if (new_list or {}).get("listName"):
            from sandbox.emulators.brevo_lists import list_store_create

            list_ids = [
                *list_ids,
                list_store_create(name=new_list["listName"], folder_id=new_list.get("folderId")),
            ]
        existing = {r.key: r for r in _contacts().filter(key__in=list(valid))}
        updates = []
        for key, row in valid.items():
            record = existing.get(key)
            if record is not None and update_existing:
                lists = sorted(set(record.data.get("listIds", [])) | set(list_ids))
                record.data = {
                    **record.data,
                    **blacklists,
                    "listIds": lists,
                    "attributes": {**record.data.get("attributes", {}), **row["attributes"]},
                }
                record.updated_at, record.write_count = now, record.write_count + 1
                updates.append(record)
        records_write(new=[], changed=updates, fields=["data", "updated_at", "write_count"])
        SandboxRecord.objects.bulk_create(
            [
                SandboxRecord(
                    kind=KIND,
                    object_type="contact",
                    key=key,
                    created_at=now,
                    updated_at=now,
                    data={**row, **blacklists, "listIds": sorted(set(list_ids))},
                )
                for key, row in valid.items()
                if key not in existing
            ],
            ignore_conflicts=True,
        )
        process = SandboxRecord.objects.create(
            kind=KIND,
            object_type="process",
            data={
                "name": "IMPORTUSER",
                "ready_at_ms": now_ms() + int(ctx.option("import_processing_ms", 0)),
                "rows": len(rows),
                "imported": len(valid),
                "invalid": invalid,
            },
        )
    return json_response({"processId": process.pk}, status=202)


@endpoint(DIALECT, methods=("GET",), buckets=OTHER_BUCKETS)
def process_read(request, ctx: Context, process_id: str):
    process = SandboxRecord.objects.filter(kind=KIND, object_type="process", pk=int(process_id)).first()
    if process is None:
        raise SandboxReject(404, "processId is invalid", code="invalid_parameter")
    status = "completed" if now_ms() >= process.data.get("ready_at_ms", 0) else "in_process"
    return json_response({"id": process.pk, "status": status, "name": process.data.get("name", "IMPORTUSER")})


@endpoint(
    DIALECT, methods=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), auth=False, inject=False
)
def unknown_path(request, ctx: Context, **kwargs):
    """Any path the sandbox does not serve: Brevo's error body, never Django's HTML page.

    Brevo does not document this answer; the code `not_found` is the sandbox's choice.
    """
    raise SandboxReject(
        404, f"{request.method} {request.path} is not an endpoint of the Brevo sandbox", code="not_found"
    )


contacts_collection = dispatch(get=contact_list, post=contact_create)
contact_detail = dispatch(get=contact_read, put=contact_update, delete=contact_delete)
