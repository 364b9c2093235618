"""HubSpot objects as the API shows them, and how a request names them.

../shared/CRM-APIS.md §1.2-§1.4. A read names its properties (`properties`,
`propertiesWithHistory`); names the account does not define are left out of the answer,
as HubSpot documents that it ignores them. `archived=true` reads the recycle bin instead
of the live records. An id merged away (POST .../merge) still finds the record it went into.
"""

from dataclasses import dataclass

from django.http import QueryDict

from sandbox.emulators.hubspot_history import histories_load, history_render
from sandbox.emulators.hubspot_schema import ObjectType, properties_load
from sandbox.models import Kind, SandboxRecord
from sandbox.runtime import SandboxReject
from sandbox.store import iso_ms

KIND = Kind.HUBSPOT
MERGE_HOPS = 20  # a chain of merges longer than this is not followed further


@dataclass(frozen=True)
class ReadSpec:
    """What a read asks for: property names (None = the object type's defaults), history names, bin."""

    properties: list[str] | None
    with_history: list[str]
    archived: bool


def hs_object(record: SandboxRecord, object_type: ObjectType, *, only: list[str] | None = None) -> dict:
    """SimplePublicObject: every value a string, system properties filled in."""
    properties = dict(record.data)
    properties["createdate"] = iso_ms(record.created_at)
    properties[object_type.modified_property] = iso_ms(record.updated_at)
    properties["hs_object_id"] = str(record.pk)
    if only is not None:
        properties = {name: properties.get(name) for name in only}
    body = {
        "id": str(record.pk),
        "properties": properties,
        "createdAt": iso_ms(record.created_at),
        "updatedAt": iso_ms(record.updated_at),
        "archived": record.archived,
    }
    if record.archived:
        body["archivedAt"] = iso_ms(record.updated_at)  # archiving is the record's last change
    return body


def records_of(object_type: ObjectType, *, archived: bool = False):
    return SandboxRecord.objects.filter(kind=KIND, object_type=object_type.record_type, archived=archived)


def merge_type(object_type: ObjectType) -> str:
    return f"{object_type.record_type}:merged"


def merged_into(object_type: ObjectType, ids: list[int]) -> dict[int, int]:
    """{merged-away id: the id of the record it lives on in now}, following merges of merges."""
    resolved: dict[int, int] = {}
    pending = {i: i for i in ids}
    for _hop in range(MERGE_HOPS):
        if not pending:
            break
        rows = SandboxRecord.objects.filter(
            kind=KIND, object_type=merge_type(object_type), key__in=[str(i) for i in pending.values()]
        ).values_list("key", "data")
        into = {int(key): int(data["into"]) for key, data in rows}
        following = {}
        for original, current in pending.items():
            if current in into:
                resolved[original] = into[current]
                following[original] = into[current]
        pending = following
    return resolved


def names_param(query: QueryDict, name: str) -> list[str]:
    return [n.strip() for value in query.getlist(name) for n in value.split(",") if n.strip()]


def flag_param(query: QueryDict, name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise SandboxReject(400, f"{name} must be true or false.", code="VALIDATION_ERROR")
    return value == "true"


def read_spec_from_query(query: QueryDict) -> ReadSpec:
    return ReadSpec(
        properties=names_param(query, "properties") or None,
        with_history=names_param(query, "propertiesWithHistory"),
        archived=flag_param(query, "archived"),
    )


def _known(names: list[str], definitions: dict) -> list[str]:
    return [name for name in dict.fromkeys(names) if name in definitions]


def render(records: list[SandboxRecord], object_type: ObjectType, spec: ReadSpec) -> list[dict]:
    """The objects as a read with `spec` shows them: unknown names left out, history when asked."""
    definitions = properties_load(object_type)
    names = _known(spec.properties or list(object_type.default_properties), definitions)
    history_names = _known(spec.with_history, definitions)
    rows = histories_load(object_type.record_type, [r.pk for r in records]) if history_names else {}
    answers = []
    for record in records:
        body = hs_object(record, object_type, only=names)
        if spec.with_history:
            current = hs_object(record, object_type)["properties"]
            body["propertiesWithHistory"] = history_render(
                record, rows.get(record.pk), history_names, current
            )
        answers.append(body)
    return answers


def id_lookup(object_type: ObjectType, id_property: str | None) -> str:
    """The column an id is matched on: pk, the email key, or a unique property's value."""
    if id_property in (None, "", "hs_object_id"):
        return "pk"
    if id_property == "email" and object_type.email_keyed:
        return "email"
    definition = properties_load(object_type).get(id_property)
    if definition is None or not definition.get("hasUniqueValue"):
        raise SandboxReject(
            400,
            f"{id_property} is not a unique identifier property of {object_type.name}.",
            code="VALIDATION_ERROR",
        )
    return f"data__{id_property}"


def records_find(
    object_type: ObjectType, ids: list[str], *, lookup: str, archived: bool
) -> dict[str, SandboxRecord]:
    """{requested id: record} for the ids that exist (merged-away ids answer their survivor)."""
    queryset = records_of(object_type, archived=archived)
    if lookup == "pk":
        numeric = [int(i) for i in ids if i.isdigit()]
        found = {str(r.pk): r for r in queryset.filter(pk__in=numeric)}
        survivors = merged_into(object_type, [i for i in numeric if str(i) not in found])
        if survivors:
            by_pk = {r.pk: r for r in queryset.filter(pk__in=set(survivors.values()))}
            found.update({str(old): by_pk[new] for old, new in survivors.items() if new in by_pk})
        return found
    if lookup == "email":
        if archived:  # an archived contact gives up its unique email key; its data keeps the address
            lowered = {i.lower() for i in ids}
            matches = [r for r in queryset.filter(data__email__in=list(lowered | set(ids)))]
            by_email = {str(r.data.get("email", "")).lower(): r for r in matches}
        else:
            by_email = {r.key: r for r in queryset.filter(key__in=[i.lower() for i in ids])}
        return {i: by_email[i.lower()] for i in ids if i.lower() in by_email}
    by_value = {
        str(r.data.get(lookup.removeprefix("data__"))): r for r in queryset.filter(**{f"{lookup}__in": ids})
    }
    return {i: by_value[i] for i in ids if i in by_value}


def record_find(object_type: ObjectType, object_id: str, *, id_property: str | None, archived: bool = False):
    found = records_find(
        object_type, [object_id], lookup=id_lookup(object_type, id_property), archived=archived
    )
    if object_id not in found:
        raise SandboxReject(
            404,
            "Object not found.  objectId are usually numeric.",
            code="OBJECT_NOT_FOUND",
            extra={"context": {"id": [object_id]}},
        )
    return found[object_id]
