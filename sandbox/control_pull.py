"""Control endpoints a pull needs (tests, benchmarks, demos; not part of any CRM).

/sandbox/<kind>/_control/records/edit      POST {object_type, ids, set?, archive?}: edit stored records
    as a CRM user would: `set` is merged into each record's data (dicts merged one level deep,
    e.g. Brevo's "attributes"), `archive: true` archives them (HubSpot's DELETE: the email is
    freed); either way the record's modified time moves to now, so modified-since filters and
    HubSpot's lastmodifieddate see the change.
/sandbox/<kind>/_control/records/merge     POST {object_type, primary, merged: [ids]}: HubSpot's merge:
    the merged records are archived, the primary lists them in hs_merged_object_ids and is modified.
/sandbox/<kind>/_control/records/generate  POST {object_type, count, data, updated_at?, step_ms?,
    key?}: bulk-create `count` records (at most 200,000 a call) from a template: every string in
    `data` and `key` has "{n}" replaced by the record's number (from `start`, default 1);
    modified times start at `updated_at` (default now) and move `step_ms` per record (0: all equal).
Errors use the project's body: {"error", "code", "details"}.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone

from sandbox.control import _body, _error, _guard
from sandbox.models import SandboxRecord
from sandbox.store import parse_instant

MAX_EDIT = 10_000
MAX_GENERATE = 200_000
GENERATE_BATCH = 5_000


def _ids(value) -> list[int] | None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EDIT:
        return None
    try:
        return [int(str(v)) for v in value]
    except ValueError:
        return None


def _merged(data: dict, changes: dict) -> dict:
    out = dict(data)
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(name), dict):
            out[name] = {**out[name], **value}
        else:
            out[name] = value
    return out


@_guard
def edit_view(request, kind: str):
    if request.method != "POST":
        return _error(405, "Use POST.", "method_not_allowed")
    body = _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("object_type"), str):
        return _error(400, "Send {object_type, ids, set?, archive?}.", "validation_error")
    ids = _ids(body.get("ids"))
    if ids is None:
        return _error(400, f"ids must be an array of 1 to {MAX_EDIT} record ids.", "validation_error")
    changes = body.get("set") or {}
    if not isinstance(changes, dict):
        return _error(400, "set must be an object.", "validation_error")
    archive = bool(body.get("archive"))
    now = timezone.now()
    with transaction.atomic():
        records = list(
            SandboxRecord.objects.select_for_update().filter(
                kind=kind, object_type=body["object_type"], pk__in=ids
            )
        )
        missing = sorted(set(ids) - {r.pk for r in records})
        if missing:
            return _error(
                404, "Some records do not exist; nothing was changed.", "not_found", {"ids": missing[:100]}
            )
        for record in records:
            old_email = str(record.data.get("email") or "").lower()
            record.data = _merged(record.data, changes)
            new_email = changes.get("email")
            if isinstance(new_email, str) and record.key and record.key == old_email:
                record.key = new_email.lower()
            if archive:
                record.archived, record.key = True, None
            record.updated_at = now
            record.write_count += 1
        SandboxRecord.objects.bulk_update(
            records, ["data", "key", "archived", "updated_at", "write_count"], batch_size=1000
        )
    return JsonResponse({"edited": len(records), "updated_at": now.isoformat()})


@_guard
def merge_view(request, kind: str):
    if request.method != "POST":
        return _error(405, "Use POST.", "method_not_allowed")
    body = _body(request)
    merged_ids = _ids(body.get("merged")) if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("object_type"), str) or merged_ids is None:
        return _error(400, "Send {object_type, primary, merged: [ids]}.", "validation_error")
    try:
        primary_id = int(str(body.get("primary")))
    except ValueError:
        return _error(400, "primary must be a record id.", "validation_error")
    if primary_id in merged_ids:
        return _error(400, "A record cannot be merged into itself.", "validation_error")
    now = timezone.now()
    with transaction.atomic():
        rows = {
            r.pk: r
            for r in SandboxRecord.objects.select_for_update().filter(
                kind=kind, object_type=body["object_type"], pk__in=[primary_id, *merged_ids], archived=False
            )
        }
        if set(rows) != {primary_id, *merged_ids}:
            return _error(404, "Some records do not exist or are archived; nothing was merged.", "not_found")
        primary = rows.pop(primary_id)
        listed = [p for p in str(primary.data.get("hs_merged_object_ids") or "").split(";") if p]
        primary.data = {**primary.data, "hs_merged_object_ids": ";".join([*listed, *map(str, merged_ids)])}
        primary.updated_at, primary.write_count = now, primary.write_count + 1
        for record in rows.values():
            record.archived, record.key, record.updated_at = True, None, now
        SandboxRecord.objects.bulk_update(
            [primary, *rows.values()], ["data", "key", "archived", "updated_at", "write_count"]
        )
    return JsonResponse({"primary": primary_id, "merged": merged_ids})


def _fill(value, n: int):
    if isinstance(value, str):
        return value.replace("{n}", str(n))
    if isinstance(value, dict):
        return {k: _fill(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, n) for v in value]
    return value


@_guard
def generate_view(request, kind: str):
    if request.method != "POST":
        return _error(405, "Use POST.", "method_not_allowed")
    body = _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("object_type"), str) or not body["object_type"]:
        return _error(400, "Send {object_type, count, data}.", "validation_error")
    count, start, step = body.get("count"), body.get("start", 1), body.get("step_ms", 0)
    if not isinstance(count, int) or not 1 <= count <= MAX_GENERATE:
        return _error(400, f"count must be an integer from 1 to {MAX_GENERATE}.", "validation_error")
    if not isinstance(start, int) or not isinstance(step, int) or step < 0:
        return _error(400, "start and step_ms must be integers (step_ms >= 0).", "validation_error")
    template = body.get("data")
    if not isinstance(template, dict):
        return _error(400, "data must be an object (the record template).", "validation_error")
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        return _error(400, "key must be a string template.", "validation_error")
    first = timezone.now()
    if body.get("updated_at") is not None:
        first = parse_instant(body["updated_at"])
        if first is None:
            return _error(
                400, "updated_at must be an ISO 8601 date-time or epoch milliseconds.", "validation_error"
            )
    created = 0
    try:
        with transaction.atomic():
            for offset in range(0, count, GENERATE_BATCH):
                rows = []
                for i in range(offset, min(offset + GENERATE_BATCH, count)):
                    n = start + i
                    stamp = first + timedelta(milliseconds=step * i)
                    rows.append(
                        SandboxRecord(
                            kind=kind,
                            object_type=body["object_type"][:64],
                            key=_fill(key, n) if key else None,
                            data=_fill(template, n),
                            created_at=stamp,
                            updated_at=stamp,
                        )
                    )
                SandboxRecord.objects.bulk_create(rows)
                created += len(rows)
    except IntegrityError:
        return _error(409, "A generated key already exists; nothing was stored.", "conflict")
    return JsonResponse({"created": created}, status=201)
