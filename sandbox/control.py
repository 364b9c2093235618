"""The control API of each sandbox, for tests, benchmarks and demos (not part of any CRM).

/sandbox/<kind>/_control/           GET the config, PUT changes (merged; 400 names bad fields)
/sandbox/<kind>/_control/reset      POST: forget objects, tokens, rate windows, log (?config=1: config too)
/sandbox/<kind>/_control/requests   GET the request log, newest first (?limit=100&after_id=)
/sandbox/<kind>/_control/records    GET stored objects (?object_type=&limit=); POST seeds objects
    (HubSpot: a record {data, associations} is associated as HubSpot's create input says)
Errors use the project's body: {"error", "code", "details"}.
"""

import json

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.config import (
    ConfigInvalid,
    config_as_dict,
    config_get,
    config_update,
    known_kind,
    sandbox_reset,
)
from sandbox.models import Kind, SandboxRecord, SandboxRequestLog
from sandbox.store import iso_ms, parse_instant

MAX_LIST = 1000
MAX_SEED = 10_000


def _error(status: int, message: str, code: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": message, "code": code, "details": details or {}}, status=status)


def _body(request):
    try:
        return json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None


def _limit(request, default: int = 100) -> int | None:
    try:
        value = int(request.GET.get("limit", default))
    except ValueError:
        return None
    return value if 1 <= value <= MAX_LIST else None


def _guard(view):
    @csrf_exempt
    def wrapper(request, kind: str, *args, **kwargs):
        if not known_kind(kind):
            return _error(404, f"There is no sandbox {kind!r}.", "not_found")
        return view(request, kind, *args, **kwargs)

    return wrapper


@_guard
def config_view(request, kind: str):
    if request.method == "GET":
        return JsonResponse(config_as_dict(config_get(kind=kind)))
    if request.method not in ("PUT", "PATCH"):
        return _error(405, "Use GET or PUT.", "method_not_allowed")
    changes = _body(request)
    if changes is None:
        return _error(400, "The body is not valid JSON.", "invalid_json")
    try:
        config = config_update(kind=kind, changes=changes)
    except ConfigInvalid as exc:
        return _error(400, "The sandbox configuration was not changed.", "validation_error", exc.errors)
    return JsonResponse(config_as_dict(config))


@_guard
def reset_view(request, kind: str):
    if request.method != "POST":
        return _error(405, "Use POST.", "method_not_allowed")
    counts = sandbox_reset(kind=kind, reset_config=request.GET.get("config") in ("1", "true"))
    return JsonResponse({"reset": kind, "deleted": counts})


@_guard
def requests_view(request, kind: str):
    if request.method != "GET":
        return _error(405, "Use GET.", "method_not_allowed")
    limit = _limit(request)
    if limit is None:
        return _error(400, f"limit must be between 1 and {MAX_LIST}.", "validation_error")
    queryset = SandboxRequestLog.objects.filter(kind=kind).order_by("-id")
    if after := request.GET.get("after_id"):
        if not after.isdigit():
            return _error(400, "after_id must be an integer.", "validation_error")
        queryset = queryset.filter(id__gt=int(after))
    rows = [
        {
            "id": r.id,
            "method": r.method,
            "path": r.path,
            "query": r.query,
            "status": r.status,
            "fault": r.fault,
            "headers": r.headers,
            "body": r.body,
            "duration_ms": r.duration_ms,
            "at": iso_ms(r.created_at),
        }
        for r in queryset[:limit]
    ]
    return JsonResponse({"count": len(rows), "results": rows})


def _record_json(record: SandboxRecord) -> dict:
    return {
        "id": record.pk,
        "object_type": record.object_type,
        "key": record.key,
        "data": record.data,
        "archived": record.archived,
        "write_count": record.write_count,
        "created_at": iso_ms(record.created_at),
        "updated_at": iso_ms(record.updated_at),
    }


def _seed_row(kind: str, object_type: str, item, now) -> SandboxRecord | str:
    if not isinstance(item, dict):
        return "each record must be an object"
    whole = {k: v for k, v in item.items() if k != "associations"} if kind == Kind.HUBSPOT else item
    data = item.get("data", whole if "data" not in item else None)
    if not isinstance(data, dict):
        return "data must be an object"
    key = item.get("key")
    if key is None and isinstance(data.get("email"), str) and object_type == "contact":
        key = data["email"].lower()
    stamps = {}
    for name in ("created_at", "updated_at"):
        if name in item:
            stamps[name] = parse_instant(item[name])
            if stamps[name] is None:
                return f"{name} must be an ISO 8601 date-time or epoch milliseconds"
    return SandboxRecord(
        kind=kind,
        object_type=object_type,
        key=key,
        data=data,
        created_at=stamps.get("created_at", now),
        updated_at=stamps.get("updated_at", now),
    )


def _seed_associations(kind: str, object_type: str, records: list, errors: dict) -> list | None:
    """HubSpot records seeded with `associations` (HubSpot's create shape): per record, its
    parsed associations; a refused one is added to `errors`. None when no record has any."""
    if kind != Kind.HUBSPOT or not any(isinstance(r, dict) and "associations" in r for r in records):
        return None
    from sandbox.emulators.hubspot_associations import associations_check
    from sandbox.emulators.hubspot_schema import object_type_by_record_type

    otype = object_type_by_record_type(object_type)
    if otype is None:
        errors["object_type"] = f"{object_type!r} has no associations (use contact, deal or lead)"
        return None
    links = associations_check(
        otype, [r.get("associations") if isinstance(r, dict) else None for r in records]
    )
    for index, link in enumerate(links):
        if isinstance(link, str):
            errors[str(index)] = f"associations: {link}"
    return links


def _seed_associate(object_type: str, created: list[SandboxRecord], links: list) -> None:
    from sandbox.emulators.hubspot_associations import associations_write
    from sandbox.emulators.hubspot_schema import object_type_by_record_type

    pairs = [
        (record.pk, to_type, to_id, type_id)
        for record, link in zip(created, links, strict=True)
        for to_type, to_id, type_id in link
    ]
    if pairs:
        associations_write(from_type=object_type_by_record_type(object_type), pairs=pairs)


@_guard
def records_view(request, kind: str):
    if request.method == "GET":
        limit = _limit(request)
        if limit is None:
            return _error(400, f"limit must be between 1 and {MAX_LIST}.", "validation_error")
        queryset = SandboxRecord.objects.filter(kind=kind).order_by("id")
        if object_type := request.GET.get("object_type"):
            queryset = queryset.filter(object_type=object_type)
        total = queryset.count()
        return JsonResponse({"count": total, "results": [_record_json(r) for r in queryset[:limit]]})
    if request.method != "POST":
        return _error(405, "Use GET or POST.", "method_not_allowed")
    body = _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("object_type"), str) or not body["object_type"]:
        return _error(400, "Send {object_type, records: [...]}.", "validation_error")
    records = body.get("records")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_SEED:
        return _error(400, f"records must be an array of 1 to {MAX_SEED} objects.", "validation_error")
    now = timezone.now()
    rows, errors = [], {}
    for index, item in enumerate(records):
        row = _seed_row(kind, body["object_type"][:64], item, now)
        if isinstance(row, str):
            errors[str(index)] = row
        else:
            rows.append(row)
    links = _seed_associations(kind, body["object_type"], records, errors)
    if errors:
        return _error(400, "No record was stored.", "validation_error", errors)
    try:
        with transaction.atomic():
            created = SandboxRecord.objects.bulk_create(rows)
            if links:
                _seed_associate(body["object_type"], created, links)
    except IntegrityError:
        return _error(409, "A record with one of these keys already exists; nothing was stored.", "conflict")
    return JsonResponse({"created": len(created), "ids": [r.pk for r in created]}, status=201)
