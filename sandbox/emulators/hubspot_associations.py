"""HubSpot associations (v4): read them in batches, create them on object create or by default type.

POST /crm/v4/associations/{from}/{to}/batch/read {inputs: [{id, after?}]}: per input the
associated ids, oldest first, at most `options.associations_page_size` (500) a page with
`paging.next.after`; at most 1,000 inputs (HubSpot's changelog "Batch Read Limit for HubSpot
Associations API"). An id with no association is left out of `results` and named in a 207's
`errors[]` (category OBJECT_NOT_FOUND, subCategory crm.associations.NO_ASSOCIATIONS_FOUND: the
shape is a guess, HubSpot's reference shows only the generic error).
PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}: the default (unlabeled)
type, both directions, answered as a batch result of the two (a guess from the reference's
schema). Object create (single and batch) takes `associations: [{to: {id}, types:
[{associationCategory, associationTypeId}]}]`.

Associations are bidirectional: each is kept as two SandboxRecords, one per direction, of
type `hs_association:<from>:<to>` keyed `<fromId>:<toId>`, data {from, to, types}. Only the
pairs the connectors use are emulated (deals and contacts); others are a 400.
"""

from django.db import transaction
from django.utils import timezone

from sandbox.emulators.hubspot import API_BUCKETS, DIALECT
from sandbox.emulators.hubspot_records import merged_into, record_find, records_of
from sandbox.emulators.hubspot_schema import CONTACTS, DEALS, ObjectType, object_type_get
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import Context, SandboxReject, endpoint, json_response
from sandbox.store import iso_ms

KIND = Kind.HUBSPOT
READ_BATCH_MAX = 1000
READ_PAGE_SIZE = 500
CATEGORY = "HUBSPOT_DEFINED"
# HubSpot-defined type ids (HubSpot's v4 associations guide, "association type id values"):
# 3 deal to contact, 4 contact to deal.
TYPES: dict[int, tuple[ObjectType, ObjectType]] = {3: (DEALS, CONTACTS), 4: (CONTACTS, DEALS)}
DEFAULT_TYPE = {(DEALS.name, CONTACTS.name): 3, (CONTACTS.name, DEALS.name): 4}
INVERSE = {3: 4, 4: 3}


class AssociationInvalid(ValueError):
    pass


def association_record_type(from_type: ObjectType, to_type: ObjectType) -> str:
    return f"hs_association:{from_type.name}:{to_type.name}"


def _default_type(from_type: ObjectType, to_type: ObjectType) -> int:
    type_id = DEFAULT_TYPE.get((from_type.name, to_type.name))
    if type_id is None:
        raise SandboxReject(
            400,
            f"The sandbox has no association type from {from_type.name} to {to_type.name}.",
            code="VALIDATION_ERROR",
        )
    return type_id


def associations_parse(from_type: ObjectType, value) -> list[tuple[ObjectType, int, int]]:
    """[(to type, to id, type id)] from a create input's `associations` (AssociationInvalid: why not)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise AssociationInvalid("associations must be an array")
    parsed = []
    for item in value:
        to = item.get("to") if isinstance(item, dict) else None
        types = item.get("types") if isinstance(item, dict) else None
        to_id = str(to.get("id", "")) if isinstance(to, dict) else ""
        if not to_id.isdigit() or not isinstance(types, list) or not types:
            raise AssociationInvalid("each association needs to.id (a record id) and a non-empty types array")
        for spec in types:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            category = spec.get("associationCategory") if isinstance(spec, dict) else None
            if category != CATEGORY or type_id not in TYPES or TYPES[type_id][0] is not from_type:
                raise AssociationInvalid(
                    f"association type {category}/{type_id} does not start at {from_type.name}"
                )
            parsed.append((TYPES[type_id][1], int(to_id), type_id))
    return parsed


def associations_missing(specs: list[list[tuple[ObjectType, int, int]]]) -> set[tuple[str, int]]:
    """The (object type, id) targets of `specs` that are no live record (one query per target type)."""
    wanted: dict[str, tuple[ObjectType, set[int]]] = {}
    for spec in specs:
        for to_type, to_id, _ in spec:
            wanted.setdefault(to_type.name, (to_type, set()))[1].add(to_id)
    missing = set()
    for name, (to_type, ids) in wanted.items():
        live = set(records_of(to_type).filter(pk__in=ids).values_list("pk", flat=True))
        missing |= {(name, i) for i in ids - live}
    return missing


def associations_check(from_type: ObjectType, values: list) -> list:
    """Per input: its parsed associations, or the message saying why they are refused."""
    out: list = []
    for value in values:
        try:
            out.append(associations_parse(from_type, value))
        except AssociationInvalid as exc:
            out.append(str(exc))
    missing = associations_missing([spec for spec in out if isinstance(spec, list)])
    for index, spec in enumerate(out):
        if isinstance(spec, list):
            gone = sorted(i for to_type, i, _ in spec if (to_type.name, i) in missing)
            if gone:
                out[index] = f"associated records do not exist: {gone}"
    return out


@transaction.atomic
def associations_write(*, from_type: ObjectType, pairs: list[tuple[int, ObjectType, int, int]]) -> None:
    """Store (from id, to type, to id, type id) in both directions; an existing pair gains the type."""
    wanted: dict[tuple[str, str], set[int]] = {}
    rows_by_type: dict[str, list] = {}
    for from_id, to_type, to_id, type_id in pairs:
        for record_type, key, type_ in (
            (association_record_type(from_type, to_type), f"{from_id}:{to_id}", type_id),
            (association_record_type(to_type, from_type), f"{to_id}:{from_id}", INVERSE[type_id]),
        ):
            wanted.setdefault((record_type, key), set()).add(type_)
    for record_type, key in wanted:
        rows_by_type.setdefault(record_type, []).append(key)
    now = timezone.now()
    for record_type, keys in rows_by_type.items():
        existing = {
            r.key: r
            for r in SandboxRecord.objects.select_for_update().filter(
                kind=KIND, object_type=record_type, key__in=keys
            )
        }
        new, changed = [], []
        for key in keys:
            types = wanted[(record_type, key)]
            row = existing.get(key)
            if row is None:
                from_id, to_id = (int(part) for part in key.split(":"))
                new.append(
                    SandboxRecord(
                        kind=KIND,
                        object_type=record_type,
                        key=key,
                        data={"from": from_id, "to": to_id, "types": sorted(types)},
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif not types <= set(row.data.get("types", [])):
                row.data = {**row.data, "types": sorted(types | set(row.data.get("types", [])))}
                row.updated_at = now
                changed.append(row)
        SandboxRecord.objects.bulk_create(new)
        SandboxRecord.objects.bulk_update(changed, ["data", "updated_at"])


def _associated(
    from_type: ObjectType, to_type: ObjectType, from_ids: list[int]
) -> dict[int, dict[int, list]]:
    """{from id: {to id: [type ids]}} of live targets; a target merged away answers its survivor."""
    rows = list(
        SandboxRecord.objects.filter(
            kind=KIND, object_type=association_record_type(from_type, to_type), data__from__in=from_ids
        ).values_list("data", flat=True)
    )
    targets = {int(d["to"]) for d in rows}
    survivors = merged_into(to_type, list(targets))
    live = set(
        records_of(to_type).filter(pk__in={survivors.get(t, t) for t in targets}).values_list("pk", flat=True)
    )
    found: dict[int, dict[int, list]] = {}
    for data in rows:
        to_id = survivors.get(int(data["to"]), int(data["to"]))
        if to_id in live:
            types = found.setdefault(int(data["from"]), {}).setdefault(to_id, [])
            types.extend(t for t in data.get("types", []) if t not in types)
    return found


def _read_inputs(ctx: Context) -> list[tuple[str, int | None]]:
    inputs = ctx.json().get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise SandboxReject(
            400, "Invalid input JSON: inputs must be a non-empty array of {id}.", code="VALIDATION_ERROR"
        )
    if len(inputs) > READ_BATCH_MAX:
        raise SandboxReject(
            400, f"Batch input limit exceeded: at most {READ_BATCH_MAX} inputs.", code="VALIDATION_ERROR"
        )
    parsed = []
    for item in inputs:
        object_id, after = str(item.get("id") or ""), item.get("after")
        if not object_id.isdigit():
            raise SandboxReject(
                400, "Invalid input JSON: every input needs a record id.", code="VALIDATION_ERROR"
            )
        if after not in (None, "") and not str(after).isdigit():
            raise SandboxReject(
                400, f"after {after!r} is not a paging token of this endpoint.", code="VALIDATION_ERROR"
            )
        parsed.append((object_id, int(after) if after not in (None, "") else None))
    return parsed


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_read(request, ctx: Context, from_object_type: str, to_object_type: str):
    started = timezone.now()
    from_type, to_type = object_type_get(from_object_type, ctx), object_type_get(to_object_type, ctx)
    _default_type(from_type, to_type)
    inputs = _read_inputs(ctx)
    found = _associated(from_type, to_type, list({int(i) for i, _ in inputs}))
    page_size = int(ctx.option("associations_page_size", READ_PAGE_SIZE))
    results, errors = [], []
    from_name, to_name = from_type.label.lower(), to_type.label.lower()
    for object_id, after in inputs:
        targets = sorted(t for t in found.get(int(object_id), {}) if after is None or t > after)
        if not targets:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {to_name} is associated with {from_name} {object_id}.",
                    "context": {"fromObjectId": [object_id]},
                    "errors": [],
                    "links": {},
                }
            )
            continue
        page = targets[:page_size]
        result = {
            "from": {"id": object_id},
            "to": [
                {
                    "toObjectId": to_id,
                    "associationTypes": [
                        {"category": CATEGORY, "typeId": type_id, "label": None}
                        for type_id in found[int(object_id)][to_id]
                    ],
                }
                for to_id in page
            ],
        }
        if len(targets) > page_size:
            result["paging"] = {"next": {"after": str(page[-1])}}
        results.append(result)
    body = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(timezone.now()),
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return json_response(body, status=207 if errors else 200)


@endpoint(DIALECT, methods=("PUT",), buckets=API_BUCKETS)
def associate_default(
    request, ctx: Context, from_object_type: str, from_object_id: str, to_object_type: str, to_object_id: str
):
    started = timezone.now()
    from_type, to_type = object_type_get(from_object_type, ctx), object_type_get(to_object_type, ctx)
    type_id = _default_type(from_type, to_type)
    source = record_find(from_type, from_object_id, id_property=None)
    target = record_find(to_type, to_object_id, id_property=None)
    associations_write(from_type=from_type, pairs=[(source.pk, to_type, target.pk, type_id)])
    results = [
        {
            "associationSpec": {"associationCategory": CATEGORY, "associationTypeId": spec},
            "from": {"id": str(a)},
            "to": {"id": str(b)},
        }
        for spec, a, b in ((type_id, source.pk, target.pk), (INVERSE[type_id], target.pk, source.pk))
    ]
    return json_response(
        {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(started),
            "completedAt": iso_ms(timezone.now()),
        }
    )
