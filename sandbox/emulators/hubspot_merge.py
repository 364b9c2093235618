"""HubSpot merge: POST /crm/v3/objects/{type}/merge {primaryObjectId, objectIdToMerge}.

HubSpot's changelog "Updated merge functionality for contacts and companies": the merge
creates a new record with a new id, the primary's values win and the merged one's fill
the gaps, property history of both carries over, and both old ids keep answering the new
record. The survivor's `hs_merged_object_ids` lists the ids merged into it
(`;`-separated, as multi-value properties are; its exact format is a guess). The old
records leave no trace in the recycle bin (a guess too); each old id is kept as a
`<record_type>:merged` row pointing at the survivor.
"""

from django.db import transaction
from django.utils import timezone

from sandbox.emulators.hubspot import API_BUCKETS, DIALECT
from sandbox.emulators.hubspot_history import histories_load, history_merged, history_type
from sandbox.emulators.hubspot_records import ReadSpec, merge_type, record_find, render
from sandbox.emulators.hubspot_schema import ObjectType, object_type_get
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import Context, SandboxReject, endpoint, json_response
from sandbox.store import iso_ms

KIND = Kind.HUBSPOT
MERGED_IDS = "hs_merged_object_ids"
DEFAULT_READ = ReadSpec(properties=None, with_history=[], archived=False)


def _id(body: dict, field: str) -> str:
    value = body.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise SandboxReject(400, f"{field} must be a record id.", code="VALIDATION_ERROR")
    return value


def _merged_values(primary: SandboxRecord, other: SandboxRecord) -> dict:
    values = {**other.data, **{k: v for k, v in primary.data.items() if v not in (None, "")}}
    ids = [
        *str(primary.data.get(MERGED_IDS) or "").split(";"),
        *str(other.data.get(MERGED_IDS) or "").split(";"),
        str(primary.pk),
        str(other.pk),
    ]
    values[MERGED_IDS] = ";".join(sorted({i for i in ids if i}, key=int))
    return values


@transaction.atomic
def records_merge(*, object_type: ObjectType, primary: SandboxRecord, other: SandboxRecord) -> SandboxRecord:
    """Replace two records by one new record; their ids and histories point to it."""
    now = timezone.now()
    values = _merged_values(primary, other)
    histories = histories_load(object_type.record_type, [primary.pk, other.pk])
    entries = history_merged(histories.get(primary.pk), histories.get(other.pk))
    entries[MERGED_IDS] = [[values[MERGED_IDS], iso_ms(now)], *entries.get(MERGED_IDS, [])]
    key = primary.key or other.key
    old = [primary.pk, other.pk]
    SandboxRecord.objects.filter(pk__in=old).delete()
    SandboxRecord.objects.filter(
        kind=KIND, object_type=history_type(object_type.record_type), key__in=[str(pk) for pk in old]
    ).delete()
    survivor = SandboxRecord.objects.create(
        kind=KIND,
        object_type=object_type.record_type,
        key=key,
        data=values,
        created_at=min(primary.created_at, other.created_at),
        updated_at=now,
        write_count=primary.write_count + other.write_count,
    )
    SandboxRecord.objects.create(
        kind=KIND,
        object_type=history_type(object_type.record_type),
        key=str(survivor.pk),
        data=entries,
        created_at=now,
        updated_at=now,
    )
    SandboxRecord.objects.bulk_create(
        [
            SandboxRecord(
                kind=KIND, object_type=merge_type(object_type), key=str(pk), data={"into": survivor.pk}
            )
            for pk in old
        ]
    )
    return survivor


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def merge(request, ctx: Context, object_type: str):
    """200 with the new record; the same record twice is a 400, an unknown id a 404."""
    otype = object_type_get(object_type)
    body = ctx.json()
    primary_id, other_id = _id(body, "primaryObjectId"), _id(body, "objectIdToMerge")
    primary = record_find(otype, primary_id, id_property=None)
    other = record_find(otype, other_id, id_property=None)
    if primary.pk == other.pk:
        raise SandboxReject(400, "An object cannot be merged with itself.", code="VALIDATION_ERROR")
    survivor = records_merge(object_type=otype, primary=primary, other=other)
    return json_response(render([survivor], otype, DEFAULT_READ)[0])
