"""HubSpot object reads: get one (by id or idProperty), list with paging, batch read.

../shared/CRM-APIS.md §1.2-§1.4. Each takes `properties`, `propertiesWithHistory` and
`archived`; batch read answers 207 with one OBJECT_NOT_FOUND error naming every id it
could not find (HubSpot's wording for the missing ids of its batch endpoints).
"""

from django.utils import timezone

from sandbox.emulators.hubspot import API_BUCKETS, DIALECT
from sandbox.emulators.hubspot_objects import object_archive, object_create, object_update
from sandbox.emulators.hubspot_records import (
    ReadSpec,
    flag_param,
    id_lookup,
    read_spec_from_query,
    record_find,
    records_find,
    records_of,
    render,
)
from sandbox.emulators.hubspot_schema import object_type_get
from sandbox.runtime import Context, SandboxReject, dispatch, endpoint, json_response
from sandbox.store import iso_ms

HISTORY_BATCH_MAX = (
    50  # "The maximum number of inputs supported in a batch request for property histories is 50"
)


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def object_list(request, ctx: Context, object_type: str):
    """GET /crm/v3/objects/{type}?limit&after&properties&propertiesWithHistory&archived: pages by id."""
    otype = object_type_get(object_type)
    spec = read_spec_from_query(request.GET)
    try:
        limit = int(request.GET.get("limit", 10))
        after = int(request.GET.get("after", 0) or 0)
    except ValueError:
        raise SandboxReject(400, "limit and after must be integers.", code="VALIDATION_ERROR")
    # The official SDKs page by 50 when they ask for history (the reference does not say why).
    most = HISTORY_BATCH_MAX if spec.with_history else 100
    if not 1 <= limit <= most:
        raise SandboxReject(400, f"limit must be between 1 and {most}.", code="VALIDATION_ERROR")
    page = list(records_of(otype, archived=spec.archived).filter(pk__gt=after).order_by("pk")[: limit + 1])
    body = {"results": render(page[:limit], otype, spec)}
    if len(page) > limit:
        after_id = str(page[limit - 1].pk)
        query = request.GET.copy()
        query["after"] = after_id
        body["paging"] = {"next": {"after": after_id, "link": f"{request.path}?{query.urlencode()}"}}
    return json_response(body)


@endpoint(DIALECT, methods=("GET",), buckets=API_BUCKETS)
def object_read(request, ctx: Context, object_type: str, object_id: str):
    otype = object_type_get(object_type)
    spec = read_spec_from_query(request.GET)
    record = record_find(otype, object_id, id_property=request.GET.get("idProperty"), archived=spec.archived)
    return json_response(render([record], otype, spec)[0])


def _names(body: dict, field: str) -> list[str]:
    names = body.get(field) or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise SandboxReject(400, f"{field} must be an array of property names.", code="VALIDATION_ERROR")
    return names


@endpoint(DIALECT, methods=("POST",), buckets=API_BUCKETS)
def batch_read(request, ctx: Context, object_type: str):
    """POST .../batch/read {inputs: [{id}], properties, propertiesWithHistory, idProperty}; ?archived."""
    started = timezone.now()
    otype = object_type_get(object_type)
    body = ctx.json()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise SandboxReject(
            400, "Invalid input JSON: inputs must be a non-empty array of {id}.", code="VALIDATION_ERROR"
        )
    ids = [str(item.get("id") or "") for item in inputs]
    if not all(ids):
        raise SandboxReject(400, "Invalid input JSON: every input needs an id.", code="VALIDATION_ERROR")
    spec = ReadSpec(
        properties=_names(body, "properties") or None,
        with_history=_names(body, "propertiesWithHistory"),
        archived=flag_param(request.GET, "archived"),
    )
    limit = HISTORY_BATCH_MAX if spec.with_history else int(ctx.option("batch_max", 100))
    if len(inputs) > limit:
        raise SandboxReject(
            400, f"Batch input limit exceeded: at most {limit} inputs.", code="VALIDATION_ERROR"
        )
    id_property = body.get("idProperty")
    if id_property is not None and not isinstance(id_property, str):
        raise SandboxReject(400, "idProperty must be a property name.", code="VALIDATION_ERROR")
    found = records_find(otype, ids, lookup=id_lookup(otype, id_property), archived=spec.archived)
    records = list({found[i].pk: found[i] for i in ids if i in found}.values())
    answer = {
        "status": "COMPLETE",
        "results": render(records, otype, spec),
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(timezone.now()),
    }
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if not missing:
        return json_response(answer)
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {otype.label} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": missing},
            "errors": [],
            "links": {},
        }
    ]
    return json_response(answer, status=207)


object_collection = dispatch(get=object_list, post=object_create)
object_detail = dispatch(get=object_read, patch=object_update, delete=object_archive)
