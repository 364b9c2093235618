"""HubSpot properties API: list, create, batch create, read, update, archive; groups (CRUD).

../shared/CRM-APIS.md §1.7. A duplicate name answers 409 with category
OBJECT_ALREADY_EXISTS (the document marks the real status UNVERIFIED; the sandbox keeps
to this one). Built-in properties (hubspotDefined) cannot be changed or archived.
"""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.emulators.hubspot import API_BUCKETS, DIALECT
from sandbox.emulators.hubspot_schema import (
    ObjectType,
    group_record_type,
    groups_load,
    object_type_get,
    properties_load,
    property_record_type,
)
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import Context, SandboxReject, dispatch, endpoint, json_response, no_content
from sandbox.store import iso_ms

KIND = Kind.HUBSPOT
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
VALID_FIELD_TYPES = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "phone_number": {"phonenumber"},
}
UPDATABLE = {
    "label",
    "type",
    "fieldType",
    "groupName",
    "description",
    "displayOrder",
    "hidden",
    "formField",
    "options",
    "calculationFormula",
    "numberDisplayHint",
    "textDisplayHint",
    "currencyPropertyName",
    "showCurrencySymbol",
}
GROUP_UPDATABLE = {"label", "displayOrder"}
CREATE_ONLY = {"name", "hasUniqueValue", "dataSensitivity", "externalOptions", "referencedObjectType"}


def _options_problem(options) -> str | None:
    if not isinstance(options, list):
        return "options must be an array"
    for option in options:
        if not isinstance(option, dict) or not {"label", "value"} <= set(option):
            return "each option needs label and value"
    return None


def _definition_problems(data: dict, groups: dict, *, partial: bool) -> list[str]:
    problems = []
    required = () if partial else ("name", "label", "type", "fieldType", "groupName")
    problems += [f"{name} is required" for name in required if not data.get(name)]
    if not partial and data.get("name") and not NAME_RE.match(str(data["name"])):
        problems.append("name must start with a lowercase letter and hold only a-z, 0-9 and _")
    type_, field_type = data.get("type"), data.get("fieldType")
    if type_ is not None and type_ not in VALID_FIELD_TYPES:
        problems.append(f"type {type_!r} is not one of {sorted(VALID_FIELD_TYPES)}")
    elif type_ and field_type and field_type not in VALID_FIELD_TYPES[type_]:
        problems.append(f"fieldType {field_type!r} is not valid for type {type_!r}")
    if data.get("groupName") and data["groupName"] not in groups:
        problems.append(f"property group {data['groupName']!r} does not exist")
    if "options" in data and (problem := _options_problem(data["options"])):
        problems.append(problem)
    if type_ == "enumeration" and not data.get("options") and not partial:
        problems.append("options are required for enumeration properties")
    return problems


def _property(data: dict, *, now: str) -> dict:
    prop = {
        "name": data["name"],
        "label": data["label"],
        "type": data["type"],
        "fieldType": data["fieldType"],
        "groupName": data["groupName"],
        "description": data.get("description", ""),
        "options": [{"hidden": False, **option} for option in data.get("options", [])],
        "displayOrder": data.get("displayOrder", -1),
        "hasUniqueValue": bool(data.get("hasUniqueValue", False)),
        "hidden": bool(data.get("hidden", False)),
        "formField": bool(data.get("formField", False)),
        "calculated": False,
        "externalOptions": bool(data.get("externalOptions", False)),
        "hubspotDefined": False,
        "archived": False,
        "createdAt": now,
        "updatedAt": now,
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
    }
    if "dataSensitivity" in data:
        prop["dataSensitivity"] = data["dataSensitivity"]
    return prop


def _validation(message: str, problems: list[str]) -> SandboxReject:
    errors = [
        {"message": problem, "code": "INVALID_PROPERTY_DEFINITION", "context": {}} for problem in problems
    ]
    return SandboxReject(
        400, f"{message}: {'; '.join(problems)}", code="VALIDATION_ERROR", extra={"errors": errors}
    )


def _exists(name: str) -> SandboxReject:
    return SandboxReject(409, f"Property named '{name}' already exists.", code="OBJECT_ALREADY_EXISTS")


def _store(otype: ObjectType, props: list[dict]) -> None:
    SandboxRecord.objects.bulk_create(
        [
            SandboxRecord(kind=KIND, object_type=property_record_type(otype), key=p["name"], data=p)
            for p in props
        ]
    )


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def property_list(request, ctx: Context, object_type: str):
    otype = object_type_get(object_type, ctx)
    archived = request.GET.get("archived", "false").lower() == "true"
    results = [p for p in properties_load(otype).values() if bool(p.get("archived")) == archived]
    return json_response({"results": results})


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def property_create(request, ctx: Context, object_type: str):
    otype = object_type_get(object_type, ctx)
    data = ctx.json()
    problems = _definition_problems(data, groups_load(otype), partial=False)
    if problems:
        raise _validation("Invalid property definition", problems)
    if data["name"] in properties_load(otype):
        raise _exists(data["name"])
    prop = _property(data, now=iso_ms(timezone.now()))
    try:
        with transaction.atomic():
            _store(otype, [prop])
    except IntegrityError:
        raise _exists(data["name"])
    return json_response(prop, status=201)


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def property_batch_create(request, ctx: Context, object_type: str):
    """201 when every input is created, 207 with per-input errors otherwise."""
    started = timezone.now()
    otype = object_type_get(object_type, ctx)
    inputs = ctx.json().get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise SandboxReject(
            400, "inputs must be a non-empty array of property definitions.", code="VALIDATION_ERROR"
        )
    existing, groups = properties_load(otype), groups_load(otype)
    now = iso_ms(started)
    created, errors, seen = [], [], set()
    for data in inputs:
        problems = _definition_problems(data, groups, partial=False)
        name = data.get("name")
        if problems:
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "; ".join(problems),
                    "context": {"name": [str(name)]},
                    "errors": [],
                    "links": {},
                }
            )
        elif name in existing or name in seen:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_ALREADY_EXISTS",
                    "message": f"Property named '{name}' already exists.",
                    "context": {"name": [name]},
                    "errors": [],
                    "links": {},
                }
            )
        else:
            seen.add(name)
            created.append(_property(data, now=now))
    try:
        with transaction.atomic():
            _store(otype, created)
    except IntegrityError:
        raise SandboxReject(409, "A property in this batch was created concurrently; retry.", code="CONFLICT")
    body = {"status": "COMPLETE", "results": created, "startedAt": now, "completedAt": iso_ms(timezone.now())}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
        return json_response(body, status=207)
    return json_response(body, status=201)


def _custom(otype: ObjectType, name: str) -> SandboxRecord:
    record = SandboxRecord.objects.filter(
        kind=KIND, object_type=property_record_type(otype), key=name
    ).first()
    if record is None:
        if name in properties_load(otype):
            raise SandboxReject(
                400,
                f"Property '{name}' is defined by HubSpot and cannot be changed.",
                code="VALIDATION_ERROR",
            )
        raise SandboxReject(404, f"Property {name} does not exist", code="OBJECT_NOT_FOUND")
    return record


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def property_read(request, ctx: Context, object_type: str, name: str):
    prop = properties_load(object_type_get(object_type, ctx)).get(name)
    if prop is None:
        raise SandboxReject(404, f"Property {name} does not exist", code="OBJECT_NOT_FOUND")
    return json_response(prop)


@endpoint(DIALECT, methods=("PATCH",), buckets=API_BUCKETS)
def property_update(request, ctx: Context, object_type: str, name: str):
    otype = object_type_get(object_type, ctx)
    data = ctx.json()
    fixed = sorted(set(data) & CREATE_ONLY)
    if fixed:
        raise _validation(
            "These fields cannot be changed after creation", [f"{f} is immutable" for f in fixed]
        )
    unknown = sorted(set(data) - UPDATABLE)
    if unknown:
        raise _validation("Unknown fields", [f"{f} is not a property field" for f in unknown])
    record = _custom(otype, name)
    merged = {**record.data, **data}
    problems = _definition_problems(merged, groups_load(otype), partial=True)
    if problems:
        raise _validation("Invalid property definition", problems)
    if "options" in data:
        merged["options"] = [{"hidden": False, **option} for option in data["options"]]
    merged["updatedAt"] = iso_ms(timezone.now())
    record.data = merged
    record.save(update_fields=["data"])
    return json_response(merged)


@endpoint(DIALECT, methods=("DELETE",), buckets=API_BUCKETS)
def property_archive(request, ctx: Context, object_type: str, name: str):
    _custom(object_type_get(object_type, ctx), name).delete()
    return no_content()


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def group_list(request, ctx: Context, object_type: str):
    return json_response({"results": list(groups_load(object_type_get(object_type, ctx)).values())})


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def group_create(request, ctx: Context, object_type: str):
    otype = object_type_get(object_type, ctx)
    data = ctx.json()
    name, label = data.get("name"), data.get("label")
    if not isinstance(name, str) or not NAME_RE.match(name) or not isinstance(label, str) or not label:
        raise _validation("Invalid property group", ["name (lowercase identifier) and label are required"])
    if name in groups_load(otype):
        raise SandboxReject(
            409, f"Property group named '{name}' already exists.", code="OBJECT_ALREADY_EXISTS"
        )
    group = {"name": name, "label": label, "displayOrder": data.get("displayOrder", -1), "archived": False}
    try:
        with transaction.atomic():
            SandboxRecord.objects.create(
                kind=KIND, object_type=group_record_type(otype), key=name, data=group
            )
    except IntegrityError:
        raise SandboxReject(
            409, f"Property group named '{name}' already exists.", code="OBJECT_ALREADY_EXISTS"
        )
    return json_response(group, status=201)


def _group_missing(name: str) -> SandboxReject:
    return SandboxReject(404, f"Property group {name} does not exist", code="OBJECT_NOT_FOUND")


def _custom_group(otype: ObjectType, name: str) -> SandboxRecord:
    """A group this account created; HubSpot's own groups are read-only here (a guess: undocumented)."""
    record = SandboxRecord.objects.filter(kind=KIND, object_type=group_record_type(otype), key=name).first()
    if record is None:
        if name in groups_load(otype):
            raise SandboxReject(
                400,
                f"Property group '{name}' is defined by HubSpot and cannot be changed.",
                code="VALIDATION_ERROR",
            )
        raise _group_missing(name)
    return record


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def group_read(request, ctx: Context, object_type: str, name: str):
    group = groups_load(object_type_get(object_type, ctx)).get(name)
    if group is None:
        raise _group_missing(name)
    return json_response(group)


@endpoint(DIALECT, methods=("PATCH",), buckets=API_BUCKETS)
def group_update(request, ctx: Context, object_type: str, name: str):
    """PropertyGroupUpdate: label and displayOrder, nothing else."""
    otype = object_type_get(object_type, ctx)
    data = ctx.json()
    problems = [f"{field} is not a property group field" for field in sorted(set(data) - GROUP_UPDATABLE)]
    if "label" in data and (not isinstance(data["label"], str) or not data["label"]):
        problems.append("label must be a non-empty string")
    if "displayOrder" in data and (
        not isinstance(data["displayOrder"], int) or isinstance(data["displayOrder"], bool)
    ):
        problems.append("displayOrder must be an integer")
    if problems:
        raise _validation("Invalid property group", problems)
    record = _custom_group(otype, name)
    record.data = {**record.data, **data}
    record.save(update_fields=["data"])
    return json_response(record.data)


@endpoint(DIALECT, methods=("DELETE",), buckets=API_BUCKETS)
def group_archive(request, ctx: Context, object_type: str, name: str):
    """204; a group still holding properties is refused (HubSpot's answer here is a guess)."""
    otype = object_type_get(object_type, ctx)
    record = _custom_group(otype, name)
    holding = sorted(
        prop["name"]
        for prop in properties_load(otype).values()
        if prop.get("groupName") == name and not prop.get("archived")
    )
    if holding:
        raise _validation(
            "Property group is not empty", [f"move or archive its properties first: {', '.join(holding)}"]
        )
    record.delete()
    return no_content()


property_collection = dispatch(get=property_list, post=property_create)
property_detail = dispatch(get=property_read, patch=property_update, delete=property_archive)
group_collection = dispatch(get=group_list, post=group_create)
group_detail = dispatch(get=group_read, patch=group_update, delete=group_archive)
