"""HubSpot CRM object writes: batch upsert/create/update/archive, single create/update/archive.

../shared/CRM-APIS.md §1.2-§1.4 (reads are in hubspot_reads). Batch writes are a handful of
bulk queries whatever the batch size, property history included. Per-input failures give
207 with `errors[]` (context `ids` and, when sent, `objectWriteTraceId`); with the `batch`
fault (or config whole_batch_failure_rate) one invalid input fails the whole batch, as
HubSpot does for `idProperty=email` upserts.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.emulators.hubspot import API_BUCKETS, DIALECT, hubspot_error_body
from sandbox.emulators.hubspot_associations import associations_check, associations_write
from sandbox.emulators.hubspot_history import history_rows
from sandbox.emulators.hubspot_records import hs_object, record_find, records_find, records_of
from sandbox.emulators.hubspot_schema import (
    ObjectType,
    object_type_get,
    properties_load,
    properties_validate,
    validation_error,
)
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import Context, SandboxReject, endpoint, json_response, no_content
from sandbox.store import email_valid, iso_ms, records_write

KIND = Kind.HUBSPOT


def _key(object_type: ObjectType, values: dict, current: str | None = None) -> str | None:
    if not object_type.email_keyed:
        return None
    if "email" in values:
        return values["email"].lower() or None
    return current


def _batch_inputs(ctx: Context) -> list:
    body = ctx.json()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise SandboxReject(
            400, "Invalid input JSON: inputs must be a non-empty array.", code="VALIDATION_ERROR"
        )
    limit = int(ctx.option("batch_max", 100))
    if len(inputs) > limit:
        raise SandboxReject(
            400, f"Batch input limit exceeded: at most {limit} inputs.", code="VALIDATION_ERROR"
        )
    if not all(isinstance(item, dict) for item in inputs):
        raise SandboxReject(
            400, "Invalid input JSON: every input must be an object.", code="VALIDATION_ERROR"
        )
    return inputs


def _input_error(errors: list[dict], item: dict, input_id: str | None) -> dict:
    context = {"ids": [input_id]} if input_id else {}
    if item.get("objectWriteTraceId"):
        context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
    return validation_error(errors, context=context)


def _simple_error(category: str, message: str, item: dict, input_id: str | None) -> dict:
    error = {"status": "error", "category": category, "message": message, "errors": [], "links": {}}
    error["context"] = {"ids": [input_id]} if input_id else {}
    if item.get("objectWriteTraceId"):
        error["context"]["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
    return error


def _whole_batch(error: dict, status: int = 400):
    body = hubspot_error_body(status, error["message"], category=error["category"])
    body.update({k: error[k] for k in ("errors", "context") if error.get(k)})
    return json_response(body, status=status)


def _batch_answer(results: list, errors: list, started: datetime, *, ok_status: int):
    body = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(timezone.now()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return json_response(body, status=207)
    return json_response(body, status=ok_status)


def _write(object_type: ObjectType, creates: list[dict], updates: list[tuple[SandboxRecord, dict]]):
    """Create and update in bulk inside one transaction, with their property history.

    Returns the created records in order."""
    now = timezone.now()
    new = [
        SandboxRecord(
            kind=KIND,
            object_type=object_type.record_type,
            key=_key(object_type, values),
            data=values,
            created_at=now,
            updated_at=now,
        )
        for values in creates
    ]
    changes = []
    for record, values in updates:
        changes.append((record, record.data, values, record.updated_at))
        record.data = {**record.data, **values}
        record.key = _key(object_type, values, record.key)
        record.updated_at = now
        record.write_count += 1
    with transaction.atomic():
        records_write(
            new=new, changed=[r for r, _ in updates], fields=["data", "key", "updated_at", "write_count"]
        )
        history_new, history_changed = history_rows(
            object_type.record_type, created=new, updated=changes, now=now
        )
        records_write(new=history_new, changed=history_changed, fields=["data", "updated_at"])
    return new


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_upsert(request, ctx: Context, object_type: str):
    """POST /crm/v3/objects/{type}/batch/upsert (idProperty=email, or record ids)."""
    started = timezone.now()
    otype = object_type_get(object_type)
    inputs = _batch_inputs(ctx)
    definitions = properties_load(otype)
    strict = bool(ctx.option("strict_properties", True))
    ids = [str(item.get("id", "")) for item in inputs]
    by_email = [item.get("idProperty") == "email" for item in inputs]
    if any(by_email) and not otype.email_keyed:
        raise SandboxReject(400, "idProperty email is only unique for contacts.", code="VALIDATION_ERROR")
    normalised = [i.lower() if e else i for i, e in zip(ids, by_email, strict=True)]
    duplicates = sorted({i for i in normalised if normalised.count(i) > 1})
    if duplicates:
        raise SandboxReject(
            400,
            f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
            code="VALIDATION_ERROR",
        )
    for attempt in range(2):
        emails = [n for n, e in zip(normalised, by_email, strict=True) if e]
        pks = [int(n) for n, e in zip(normalised, by_email, strict=True) if not e and n.isdigit()]
        existing = {}
        for record in records_of(otype).filter(key__in=emails) if emails else []:
            existing[record.key] = record
        for record in records_of(otype).filter(pk__in=pks) if pks else []:
            existing[str(record.pk)] = record
        plan, errors = [], []
        for item, input_id, key, email_id in zip(inputs, ids, normalised, by_email, strict=True):
            values, problems = properties_validate(item.get("properties"), definitions, strict=strict)
            if email_id and not email_valid(input_id):
                problems.append(
                    {
                        "message": f"Email address {input_id} is invalid",
                        "code": "INVALID_EMAIL",
                        "context": {"propertyName": ["email"]},
                    }
                )
            if "email" in values and email_id and values["email"].lower() != key:
                problems.append(
                    {
                        "message": "email must match the id when idProperty is email",
                        "code": "INVALID_EMAIL",
                        "context": {"propertyName": ["email"]},
                    }
                )
            if problems:
                errors.append(_input_error(problems, item, input_id))
                continue
            record = existing.get(key)
            if record is None and not email_id:
                errors.append(
                    _simple_error("OBJECT_NOT_FOUND", f"No {otype.label} with id {input_id}.", item, input_id)
                )
                continue
            if email_id:
                values["email"] = values.get("email") or input_id
            plan.append((item, record, values))
        if errors and ctx.faults.batch:
            return _whole_batch(errors[0])
        try:
            created = iter(
                _write(otype, [v for _, r, v in plan if r is None], [(r, v) for _, r, v in plan if r])
            )
            break
        except IntegrityError:  # another request created one of these emails meanwhile: reload and retry
            if attempt:
                raise SandboxReject(409, "Concurrent writes to the same contacts; retry.", code="CONFLICT")
    results = []
    for item, record, _values in plan:
        target = record or next(created)
        result = hs_object(target, otype)
        result["new"] = record is None
        if item.get("objectWriteTraceId"):
            result["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        results.append(result)
    return _batch_answer(results, errors, started, ok_status=200)


def _conflict(otype: ObjectType, existing_id: int) -> str:
    return f"{otype.label.title()} already exists. Existing ID: {existing_id}"


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_create(request, ctx: Context, object_type: str):
    """POST .../batch/create: 201, or 207 when every input has an objectWriteTraceId (multi-status opt-in)."""
    started = timezone.now()
    otype = object_type_get(object_type)
    inputs = _batch_inputs(ctx)
    definitions = properties_load(otype)
    strict = bool(ctx.option("strict_properties", True))
    multi_status = all(item.get("objectWriteTraceId") for item in inputs) and not ctx.faults.batch
    candidates = [properties_validate(item.get("properties"), definitions, strict=strict) for item in inputs]
    links = associations_check(otype, [item.get("associations") for item in inputs])
    for (_, problems), link in zip(candidates, links, strict=True):
        if isinstance(link, str):
            problems.append(_association_problem(link))
    emails = [v.get("email", "").lower() for v, _ in candidates if v.get("email")]
    existing = (
        dict(records_of(otype).filter(key__in=emails).values_list("key", "pk")) if otype.email_keyed else {}
    )
    plan, errors, seen = [], [], set()
    for item, (values, problems), link in zip(inputs, candidates, links, strict=True):
        email = values.get("email", "").lower()
        if not problems and not values and otype.email_keyed:
            problems = [
                {
                    "message": "A contact needs email, firstname or lastname.",
                    "code": "REQUIRED_PROPERTY",
                    "context": {"propertyName": ["email"]},
                }
            ]
        if problems:
            errors.append((400, _input_error(problems, item, None)))
        elif email and (email in existing or email in seen):
            message = (
                _conflict(otype, existing.get(email, 0)) if email in existing else "Duplicate email in batch"
            )
            errors.append((409, _simple_error("CONFLICT", message, item, None)))
        else:
            seen.add(email)
            plan.append((item, values, link))
    if errors and not multi_status:
        status, error = errors[0]
        return _whole_batch(error, status)
    try:
        with transaction.atomic():
            created = _write(otype, [values for _, values, _ in plan], [])
            _associate(otype, [(record, link) for (_, _, link), record in zip(plan, created, strict=True)])
    except IntegrityError:
        raise SandboxReject(409, "Concurrent create of the same contact; retry.", code="CONFLICT")
    results = []
    for (item, _values, _link), record in zip(plan, created, strict=True):
        result = hs_object(record, otype)
        if item.get("objectWriteTraceId"):
            result["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        results.append(result)
    return _batch_answer(results, [error for _, error in errors], started, ok_status=201)


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_update(request, ctx: Context, object_type: str):
    """POST .../batch/update by record id (or idProperty=email)."""
    started = timezone.now()
    otype = object_type_get(object_type)
    inputs = _batch_inputs(ctx)
    definitions = properties_load(otype)
    strict = bool(ctx.option("strict_properties", True))
    ids = [str(item.get("id", "")) for item in inputs]
    by_email = [item.get("idProperty") == "email" for item in inputs]
    records = records_of(otype)
    found = {
        str(r.pk): r
        for r in records.filter(
            pk__in=[int(i) for i, e in zip(ids, by_email, strict=True) if not e and i.isdigit()]
        )
    }
    found.update(
        {
            r.key: r
            for r in records.filter(key__in=[i.lower() for i, e in zip(ids, by_email, strict=True) if e])
        }
    )
    plan, errors = [], []
    for item, input_id, email_id in zip(inputs, ids, by_email, strict=True):
        record = found.get(input_id.lower() if email_id else input_id)
        values, problems = properties_validate(item.get("properties"), definitions, strict=strict)
        if record is None:
            errors.append(
                _simple_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {otype.label} objects, they may "
                    "be deleted or not exist. Check that ids are valid.",
                    item,
                    input_id,
                )
            )
        elif problems:
            errors.append(_input_error(problems, item, input_id))
        else:
            plan.append((item, record, values))
    if errors and ctx.faults.batch:
        return _whole_batch(errors[0])
    try:
        _write(otype, [], [(record, values) for _, record, values in plan])
    except IntegrityError:
        raise SandboxReject(409, "An email in this batch belongs to another contact.", code="CONFLICT")
    results = []
    for item, record, _values in plan:
        result = hs_object(record, otype)
        if item.get("objectWriteTraceId"):
            result["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        results.append(result)
    return _batch_answer(results, errors, started, ok_status=200)


def _association_problem(message: str) -> dict:
    # HubSpot's code for a refused association on create is not documented: the sandbox's own.
    return {"message": f"Invalid associations: {message}", "code": "INVALID_ASSOCIATION", "context": {}}


def _associate(otype: ObjectType, created: list[tuple[SandboxRecord, list]]) -> None:
    pairs = [
        (record.pk, to_type, to_id, type_id) for record, link in created for to_type, to_id, type_id in link
    ]
    if pairs:
        associations_write(from_type=otype, pairs=pairs)


def _single_values(ctx: Context, otype: ObjectType) -> dict:
    body = ctx.json()
    values, problems = properties_validate(
        body.get("properties"), properties_load(otype), strict=bool(ctx.option("strict_properties", True))
    )
    if problems:
        error = validation_error(problems)
        raise SandboxReject(400, error["message"], code="VALIDATION_ERROR", extra={"errors": problems})
    return values


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def object_create(request, ctx: Context, object_type: str):
    """POST /crm/v3/objects/{type}: 201, or 409 "already exists. Existing ID: n"."""
    otype = object_type_get(object_type)
    values = _single_values(ctx, otype)
    (link,) = associations_check(otype, [ctx.json().get("associations")])
    if isinstance(link, str):
        problem = _association_problem(link)
        raise SandboxReject(400, problem["message"], code="VALIDATION_ERROR", extra={"errors": [problem]})
    email = values.get("email", "").lower()
    if email and (existing := records_of(otype).filter(key=email).values_list("pk", flat=True).first()):
        raise SandboxReject(409, _conflict(otype, existing), code="CONFLICT")
    try:
        with transaction.atomic():
            (record,) = _write(otype, [values], [])
            _associate(otype, [(record, link)])
    except IntegrityError:
        raise SandboxReject(409, f"{otype.label.title()} already exists.", code="CONFLICT")
    return json_response(hs_object(record, otype), status=201)


@endpoint(DIALECT, methods=("PATCH",), buckets=API_BUCKETS)
def object_update(request, ctx: Context, object_type: str, object_id: str):
    otype = object_type_get(object_type)
    record = record_find(otype, object_id, id_property=request.GET.get("idProperty"))
    values = _single_values(ctx, otype)
    email = values.get("email", "").lower()
    if email and email != record.key and records_of(otype).filter(key=email).exists():
        raise SandboxReject(409, _conflict(otype, records_of(otype).get(key=email).pk), code="CONFLICT")
    _write(otype, [], [(record, values)])
    return json_response(hs_object(record, otype))


@endpoint(DIALECT, methods=("DELETE",), buckets=API_BUCKETS)
def object_archive(request, ctx: Context, object_type: str, object_id: str):
    otype = object_type_get(object_type)
    record = record_find(otype, object_id, id_property=request.GET.get("idProperty"))
    SandboxRecord.objects.filter(pk=record.pk).update(archived=True, key=None, updated_at=timezone.now())
    return no_content()


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_archive(request, ctx: Context, object_type: str):
    """POST .../batch/archive {inputs: [{id}]}: 204, ids that do not exist (or are archived) are skipped.

    HubSpot documents only the 204; that it answers 204 for unknown ids too is a guess
    (its properties batch archive documents "regardless of the initial state")."""
    otype = object_type_get(object_type)
    inputs = _batch_inputs(ctx)
    ids = [str(item.get("id", "")) for item in inputs]
    if not all(ids):
        raise SandboxReject(400, "Invalid input JSON: every input needs an id.", code="VALIDATION_ERROR")
    found = records_find(otype, ids, lookup="pk", archived=False)
    pks = {record.pk for record in found.values()}
    if pks:
        SandboxRecord.objects.filter(pk__in=pks).update(archived=True, key=None, updated_at=timezone.now())
    return no_content()
