"""HubSpot search: POST /crm/v3/objects/{contacts|deals}/search.

../shared/CRM-APIS.md §1.5: groups ORed, filters ANDed (≤5 groups, ≤6 filters each, ≤18
in all), one sort, limit ≤ 200, `after` is an offset written as digits, a 3,000-character
body cap, 10,000 results per query (paging past it is a 400), 5 requests a second, no
rate-limit headers. Dates filter as epoch milliseconds or ISO 8601.
"""

from django.db.models import Q

from sandbox.emulators.hubspot import DIALECT, SEARCH_BUCKETS
from sandbox.emulators.hubspot_records import ReadSpec, records_of, render
from sandbox.emulators.hubspot_schema import ObjectType, object_type_get
from sandbox.models import SandboxRecord
from sandbox.runtime import Context, SandboxReject, endpoint, json_response
from sandbox.store import parse_instant

MAX_BODY_CHARS = 3000
MAX_LIMIT = 200
_COMPARE = {"LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte", "EQ": "exact"}


def _bad(message: str) -> SandboxReject:
    return SandboxReject(400, message, code="VALIDATION_ERROR")


def _column(otype: ObjectType, name: str) -> tuple[str, str]:
    """(model lookup, value kind) for a property: timestamps and ids are columns, the rest JSON."""
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return "updated_at", "instant"
    if name in ("createdate", "hs_createdate"):
        return "created_at", "instant"
    if name == "hs_object_id":
        return "pk", "int"
    if name == "email" and otype.email_keyed:
        return "key", "email"
    return f"data__{name}", "text"


def _value(kind: str, raw):
    if kind == "instant":
        value = parse_instant(raw)
        if value is None:
            raise _bad(f"{raw!r} is not a valid date (epoch milliseconds or ISO 8601).")
        return value
    if kind == "int":
        try:
            return int(str(raw))
        except ValueError:
            raise _bad(f"{raw!r} is not a valid record id.")
    if kind == "email":
        return str(raw).lower()
    return raw if isinstance(raw, str) else str(raw)


def _filter(otype: ObjectType, item: dict) -> Q:
    name, operator = item.get("propertyName"), str(item.get("operator", "EQ")).upper()
    if not isinstance(name, str) or not name:
        raise _bad("Each filter needs a propertyName.")
    column, kind = _column(otype, name)
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        present = Q() if kind != "text" else Q(data__has_key=name) & ~Q(**{column: ""})
        if kind == "email":
            present = Q(key__isnull=False)
        return present if operator == "HAS_PROPERTY" else ~present
    if operator in ("IN", "NOT_IN"):
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise _bad(f"Operator {operator} needs a non-empty values array.")
        condition = Q(**{f"{column}__in": [_value(kind, v) for v in values]})
        return condition if operator == "IN" else ~condition
    if operator == "BETWEEN":
        low, high = item.get("value"), item.get("highValue")
        if low is None or high is None:
            raise _bad("Operator BETWEEN needs value and highValue.")
        return Q(**{f"{column}__gte": _value(kind, low), f"{column}__lte": _value(kind, high)})
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        condition = Q(**{f"{column}__icontains": str(item.get("value", "")).strip("*")})
        return condition if operator == "CONTAINS_TOKEN" else ~condition
    if operator == "NEQ":
        return ~Q(**{column: _value(kind, item.get("value"))})
    if operator not in _COMPARE:
        raise _bad(f"Unknown operator {operator}.")
    if kind == "text" and operator != "EQ":
        raise _bad(f"The sandbox compares {operator} only on dates and ids, not on {name}.")
    return Q(**{f"{column}__{_COMPARE[operator]}": _value(kind, item.get("value"))})


def _where(otype: ObjectType, groups) -> Q:
    if groups in (None, []):
        return Q()
    if not isinstance(groups, list) or len(groups) > 5:
        raise _bad("filterGroups must be an array of at most 5 groups.")
    total = 0
    condition = Q()
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > 6:
            raise _bad("Each filter group needs a filters array of at most 6 filters.")
        total += len(filters)
        group_q = Q()
        for item in filters:
            if not isinstance(item, dict):
                raise _bad("Each filter must be an object.")
            group_q &= _filter(otype, item)
        condition |= group_q
    if total > 18:
        raise _bad("A search may hold at most 18 filters in total.")
    return condition


def _ordering(otype: ObjectType, sorts) -> list[str]:
    if not sorts:
        return ["created_at", "pk"]
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise _bad("Only one sorting rule can be applied to any search.")
    sort = sorts[0]
    if isinstance(sort, str):
        name, descending = sort.lstrip("-"), sort.startswith("-")
    elif isinstance(sort, dict):
        name, descending = (
            sort.get("propertyName", ""),
            str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING",
        )
    else:
        raise _bad("A sort is a {propertyName, direction} object or a property name.")
    column, _kind = _column(otype, name)
    column = column.replace("pk", "id") if column == "pk" else column
    prefix = "-" if descending else ""
    return [f"{prefix}{column}", f"{prefix}id"]


@endpoint(DIALECT, methods=("POST",), buckets=SEARCH_BUCKETS)
def search(request, ctx: Context, object_type: str):
    otype = object_type_get(object_type)
    if len(request.body) > MAX_BODY_CHARS:
        raise _bad(f"The search request body is over {MAX_BODY_CHARS} characters.")
    body = ctx.json()
    try:
        limit = int(body.get("limit", 10))
        after = int(str(body.get("after") or 0))
    except ValueError:
        raise _bad("limit must be an integer and after an integer written as a string.")
    if not 0 < limit <= MAX_LIMIT:
        raise _bad(f"limit must be between 1 and {MAX_LIMIT}.")
    cap = int(ctx.option("search_max_results", 10_000))
    if after >= cap:
        raise _bad(
            f"The search endpoints are limited to {cap} total results for any given query; "
            "refine the query instead of paging further."
        )
    properties = body.get("properties") or list(otype.default_properties)
    if not isinstance(properties, list):
        raise _bad("properties must be an array of property names.")
    queryset = records_of(otype).filter(_where(otype, body.get("filterGroups")))
    if query := body.get("query"):
        queryset = queryset.filter(
            Q(key__icontains=query) | Q(data__firstname__icontains=query) | Q(data__lastname__icontains=query)
        )
    total = queryset.count()
    end = min(after + limit, cap)
    page = []
    if after < total:
        # The page's ids first, then their rows: the ids of a page deep into the results come
        # from the index alone, where reading whole rows would read every row skipped too.
        ids = list(
            queryset.order_by(*_ordering(otype, body.get("sorts"))).values_list("pk", flat=True)[after:end]
        )
        rows = SandboxRecord.objects.in_bulk(ids)
        page = [rows[pk] for pk in ids]
    spec = ReadSpec(properties=properties, with_history=[], archived=False)
    answer = {"total": total, "results": render(page, otype, spec)}
    if after + len(page) < total and page:
        answer["paging"] = {"next": {"after": str(after + len(page)), "link": None}}
    return json_response(answer)
