"""Brevo contact lists and folders (/v3/contacts/lists..., /v3/contacts/folders...).

Spec: ../shared/specs/brevo-v3-openapi.yml (getLists, createList, getList, updateList,
deleteList, getContactsFromList, addContactToList, removeContactFromList, getFolders,
createFolder, getFolder, updateFolder, deleteFolder, getFolderLists). Lists and folders are
SandboxRecords (object types "list" and "folder") whose primary key is the id Brevo reports;
a contact's lists are its data["listIds"], as GET /contacts shows them. Everything here is
under /v3/contacts, so it shares the contacts' rate-limit buckets.
"""

from django.utils import timezone

from sandbox.emulators.brevo import (
    CONTACT_BUCKETS,
    DIALECT,
    KIND,
    _contacts,
    _ts,
    contact_json,
    page_of,
    page_params,
    since_filter,
)
from sandbox.models import SandboxRecord
from sandbox.ratelimit import now_ms
from sandbox.runtime import Context, SandboxReject, dispatch, endpoint, json_response, no_content
from sandbox.store import json_array_has_any, parse_instant, records_write

LIST, FOLDER = "list", "folder"
MEMBERS_MAX = 150  # addContactToListByEmails & co: maxItems 150
# The member arrays of add/remove and the type of their items.
MEMBER_KEYS = {"emails": str, "ids": int, "extIds": str}


def _records(object_type: str):
    return SandboxRecord.objects.filter(kind=KIND, object_type=object_type)


def _by_path_id(object_type: str, raw: str, what: str) -> SandboxRecord:
    """The list or folder named in the path: 400 when the id is not an integer, 404 when unknown."""
    if not raw.isdigit():
        raise SandboxReject(400, f"{what} ID must be an integer", code="invalid_parameter")
    record = _records(object_type).filter(pk=int(raw)).first()
    if record is None:
        raise SandboxReject(404, f"{what} ID not found", code="document_not_found")
    return record


def _name(body: dict, *, required: bool) -> str | None:
    name = body.get("name")
    if name is None and not required:
        return None
    if name is None:
        raise SandboxReject(400, "name is missing", code="missing_parameter")
    if not isinstance(name, str) or not name.strip():
        raise SandboxReject(400, "name must be a non-empty string", code="invalid_parameter")
    return name.strip()


def _folder_id(value) -> int:
    """A folder id given in a body: 400 when it is not an integer or names no folder."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise SandboxReject(400, "folderId must be an integer", code="invalid_parameter")
    if not _records(FOLDER).filter(pk=value).exists():
        raise SandboxReject(400, f"Folder ID {value} does not exist", code="invalid_parameter")
    return value


def list_store_create(*, name, folder_id) -> int:
    """Store a new list (import's newList too); returns its id."""
    if not isinstance(name, str) or not name.strip():
        raise SandboxReject(400, "the list name must be a non-empty string", code="invalid_parameter")
    if folder_id is None:
        raise SandboxReject(400, "folderId is missing", code="missing_parameter")
    record = SandboxRecord.objects.create(
        kind=KIND, object_type=LIST, data={"name": name.strip(), "folderId": _folder_id(folder_id)}
    )
    return record.pk


def _stats(groups: dict[int, set[int]]) -> dict[int, dict]:
    """Subscriber counts for groups of list ids (one list, or the lists of a folder), in one query.

    uniqueSubscribers counts each contact of the group once, totalBlacklisted those with
    emailBlacklisted, totalSubscribers the others. The spec does not define the three; every
    example in it has unique = total + blacklisted, which this follows.
    """
    wanted = sorted(set().union(*groups.values())) if groups else []
    counts = {key: [0, 0] for key in groups}
    rows = (
        _contacts()
        .filter(json_array_has_any(key="listIds", values=wanted))
        .values_list("data__listIds", "data__emailBlacklisted")
    )
    for list_ids, blacklisted in rows:
        mine = set(list_ids or [])
        for key, group in groups.items():
            if mine & group:
                counts[key][0] += 1
                counts[key][1] += bool(blacklisted)
    return {
        key: {"totalBlacklisted": black, "totalSubscribers": total - black, "uniqueSubscribers": total}
        for key, (total, black) in counts.items()
    }


def _list_json(record: SandboxRecord, stats: dict, *, with_folder: bool = True) -> dict:
    body = {"id": record.pk, "name": record.data.get("name", ""), **stats}
    if with_folder:
        body["folderId"] = record.data.get("folderId")
    return body


def _lists_json(records: list[SandboxRecord], *, with_folder: bool = True) -> list[dict]:
    stats = _stats({r.pk: {r.pk} for r in records})
    return [_list_json(r, stats[r.pk], with_folder=with_folder) for r in records]


def _unlink(list_ids: list[int]) -> int:
    """Take these lists out of every contact's listIds (a list or folder is being deleted)."""
    members = list(_contacts().filter(json_array_has_any(key="listIds", values=list_ids)))
    now, gone = timezone.now(), set(list_ids)
    for record in members:
        record.data = {**record.data, "listIds": sorted(set(record.data.get("listIds", [])) - gone)}
        record.updated_at, record.write_count = now, record.write_count + 1
    records_write(new=[], changed=members, fields=["data", "updated_at", "write_count"])
    return len(members)


# -- lists ------------------------------------------------------------------------------------


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def list_index(request, ctx: Context):
    """GET /v3/contacts/lists?limit(≤50, default 10)&offset&sort → {lists, count}."""
    limit, offset, sort = page_params(request, default_limit=10, max_limit=50)
    queryset = _records(LIST)
    page = page_of(queryset, limit=limit, offset=offset, sort=sort)
    return json_response({"lists": _lists_json(page), "count": queryset.count()})


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def list_create(request, ctx: Context):
    """POST /v3/contacts/lists {name, folderId} → 201 {id}."""
    body = ctx.json()
    name = _name(body, required=True)
    return json_response({"id": list_store_create(name=name, folder_id=body.get("folderId"))}, status=201)


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def list_read(request, ctx: Context, list_id: str):
    """GET /v3/contacts/lists/{listId}[?startDate&endDate] → getExtendedList.

    The sandbox sends no campaigns, so the campaign statistics asked for with the two dates
    are an empty array.
    """
    record = _by_path_id(LIST, list_id, "List")
    start, end = request.GET.get("startDate"), request.GET.get("endDate")
    if (start is None) != (end is None):
        raise SandboxReject(400, "startDate and endDate must be given together", code="missing_parameter")
    body = {
        **_lists_json([record])[0],
        "createdAt": _ts(record.created_at),
        "dynamicList": False,
    }
    if start is not None:
        first, last = parse_instant(start), parse_instant(end)
        if first is None or last is None:
            raise SandboxReject(
                400, "startDate and endDate must be YYYY-MM-DDTHH:mm:ss.SSSZ", code="invalid_parameter"
            )
        if first > last:
            raise SandboxReject(400, "startDate must not be after endDate", code="invalid_parameter")
        body["campaignStats"] = []
    return json_response(body)


@endpoint(DIALECT, methods=("PUT",), buckets=CONTACT_BUCKETS)
def list_update(request, ctx: Context, list_id: str):
    """PUT /v3/contacts/lists/{listId} → 204; the spec: name or folderId, one at a time."""
    record = _by_path_id(LIST, list_id, "List")
    body = ctx.json()
    given = [key for key in ("name", "folderId") if body.get(key) is not None]
    if not given:
        raise SandboxReject(400, "name or folderId is required", code="missing_parameter")
    if len(given) > 1:
        raise SandboxReject(
            400, "Either name or folderId can be updated, not both at a time", code="invalid_parameter"
        )
    if given == ["name"]:
        record.data = {**record.data, "name": _name(body, required=True)}
    else:
        record.data = {**record.data, "folderId": _folder_id(body["folderId"])}
    record.updated_at, record.write_count = timezone.now(), record.write_count + 1
    record.save(update_fields=["data", "updated_at", "write_count"])
    return no_content()


@endpoint(DIALECT, methods=("DELETE",), buckets=CONTACT_BUCKETS)
def list_delete(request, ctx: Context, list_id: str):
    """DELETE /v3/contacts/lists/{listId} → 204; its contacts stay, without the list."""
    record = _by_path_id(LIST, list_id, "List")
    _unlink([record.pk])
    record.delete()
    return no_content()


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def list_contacts(request, ctx: Context, list_id: str):
    """GET /v3/contacts/lists/{listId}/contacts?modifiedSince&limit(≤500, default 50)&offset&sort."""
    record = _by_path_id(LIST, list_id, "List")
    limit, offset, sort = page_params(request, default_limit=50, max_limit=500)
    queryset = since_filter(
        _contacts().filter(json_array_has_any(key="listIds", values=[record.pk])),
        request.GET,
        names=("modifiedSince",),
    )
    page = page_of(queryset, limit=limit, offset=offset, sort=sort)
    return json_response({"contacts": [contact_json(r) for r in page], "count": queryset.count()})


def _members(body: dict, *, allow_all: bool) -> tuple[str, list]:
    """Which contacts an add/remove names: ("emails"|"ids"|"extIds", values) or ("all", [])."""
    given = [key for key in MEMBER_KEYS if body.get(key) is not None]
    if allow_all and not given and body.get("all") is not None:
        if body["all"] is not True:
            raise SandboxReject(400, "all must be true", code="invalid_parameter")
        return "all", []
    wanted = "emails, ids or extIds" + (" (or all: true)" if allow_all else "")
    if not given:
        raise SandboxReject(400, f"{wanted} is required", code="missing_parameter")
    if len(given) > 1:
        raise SandboxReject(400, f"Pass only one of {wanted}", code="invalid_parameter")
    key = given[0]
    values = body[key]
    item_type = MEMBER_KEYS[key]
    if not isinstance(values, list) or not all(
        isinstance(v, item_type) and not isinstance(v, bool) for v in values
    ):
        kind = "integers" if item_type is int else "strings"
        raise SandboxReject(400, f"{key} must be an array of {kind}", code="invalid_parameter")
    if not 1 <= len(values) <= MEMBERS_MAX:
        raise SandboxReject(400, f"{key} must hold between 1 and {MEMBERS_MAX} items", code="out_of_range")
    return key, values


def _find_members(key: str, values: list) -> dict:
    """The stored contacts the values name, keyed as the values are (emails lower-cased)."""
    if key == "emails":
        return {r.key: r for r in _contacts().filter(key__in=[v.lower() for v in values])}
    if key == "ids":
        return {r.pk: r for r in _contacts().filter(pk__in=values)}
    return {r.data.get("ext_id"): r for r in _contacts().filter(data__ext_id__in=values)}


def _change_membership(list_pk: int, key: str, values: list, *, add: bool) -> dict:
    """Add or remove the named contacts; a contact that does not exist, or is already in
    (or out of) the list, is a failure, as the spec's postContactInfo describes."""
    found = _find_members(key, values)
    success, failure, changed = [], [], {}
    now = timezone.now()
    for value in dict.fromkeys(values):
        record = found.get(value.lower() if key == "emails" else value)
        record = changed.get(record.pk, record) if record is not None else None
        current = set(record.data.get("listIds", [])) if record is not None else set()
        if record is None or (list_pk in current) == add:
            failure.append(value)
            continue
        lists = current | {list_pk} if add else current - {list_pk}
        record.data = {**record.data, "listIds": sorted(lists)}
        record.updated_at, record.write_count = now, record.write_count + 1
        changed[record.pk] = record
        success.append(value)
    records_write(new=[], changed=list(changed.values()), fields=["data", "updated_at", "write_count"])
    # An empty array would match both of the spec's oneOf alternatives (emails, ids) and so
    # neither: empty halves are left out.
    return {name: values for name, values in (("success", success), ("failure", failure)) if values}


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def list_add(request, ctx: Context, list_id: str):
    """POST /v3/contacts/lists/{listId}/contacts/add {emails|ids|extIds} → 201 {contacts: {success, failure}}.

    Only existing contacts are added ("Add existing contacts to a list").
    """
    record = _by_path_id(LIST, list_id, "List")
    key, values = _members(ctx.json(), allow_all=False)
    return json_response({"contacts": _change_membership(record.pk, key, values, add=True)}, status=201)


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def list_remove(request, ctx: Context, list_id: str):
    """POST /v3/contacts/lists/{listId}/contacts/remove {emails|ids|extIds|all: true} → 201.

    `all: true` answers {contacts: {total, processId}}; Brevo runs it as a background process,
    the sandbox removes at once and reports the process completed.
    """
    record = _by_path_id(LIST, list_id, "List")
    key, values = _members(ctx.json(), allow_all=True)
    if key != "all":
        return json_response({"contacts": _change_membership(record.pk, key, values, add=False)}, status=201)
    total = _unlink([record.pk])
    process = SandboxRecord.objects.create(
        kind=KIND,
        object_type="process",
        data={"name": "REMOVE_LIST_CONTACTS", "ready_at_ms": now_ms(), "rows": total},
    )
    return json_response({"contacts": {"total": total, "processId": process.pk}}, status=201)


# -- folders ----------------------------------------------------------------------------------


def _folders_json(records: list[SandboxRecord]) -> list[dict]:
    lists = (
        _records(LIST).filter(data__folderId__in=[r.pk for r in records]).values_list("pk", "data__folderId")
    )
    groups: dict[int, set[int]] = {r.pk: set() for r in records}
    for list_pk, folder_pk in lists:
        groups[folder_pk].add(list_pk)
    stats = _stats(groups)
    return [{"id": r.pk, "name": r.data.get("name", ""), **stats[r.pk]} for r in records]


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def folder_index(request, ctx: Context):
    """GET /v3/contacts/folders?limit(≤50, default 10)&offset&sort → {folders, count}."""
    limit, offset, sort = page_params(request, default_limit=10, max_limit=50)
    queryset = _records(FOLDER)
    page = page_of(queryset, limit=limit, offset=offset, sort=sort)
    return json_response({"folders": _folders_json(page), "count": queryset.count()})


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def folder_create(request, ctx: Context):
    """POST /v3/contacts/folders {name} → 201 {id}."""
    name = _name(ctx.json(), required=True)
    record = SandboxRecord.objects.create(kind=KIND, object_type=FOLDER, data={"name": name})
    return json_response({"id": record.pk}, status=201)


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def folder_read(request, ctx: Context, folder_id: str):
    return json_response(_folders_json([_by_path_id(FOLDER, folder_id, "Folder")])[0])


@endpoint(DIALECT, methods=("PUT",), buckets=CONTACT_BUCKETS)
def folder_update(request, ctx: Context, folder_id: str):
    record = _by_path_id(FOLDER, folder_id, "Folder")
    record.data = {**record.data, "name": _name(ctx.json(), required=True)}
    record.updated_at, record.write_count = timezone.now(), record.write_count + 1
    record.save(update_fields=["data", "updated_at", "write_count"])
    return no_content()


@endpoint(DIALECT, methods=("DELETE",), buckets=CONTACT_BUCKETS)
def folder_delete(request, ctx: Context, folder_id: str):
    """DELETE /v3/contacts/folders/{folderId} → 204: "Delete a folder (and all its lists)"."""
    record = _by_path_id(FOLDER, folder_id, "Folder")
    lists = _records(LIST).filter(data__folderId=record.pk)
    _unlink(list(lists.values_list("pk", flat=True)))
    lists.delete()
    record.delete()
    return no_content()


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def folder_lists(request, ctx: Context, folder_id: str):
    """GET /v3/contacts/folders/{folderId}/lists?limit(≤50, default 10)&offset&sort → {lists, count}."""
    record = _by_path_id(FOLDER, folder_id, "Folder")
    limit, offset, sort = page_params(request, default_limit=10, max_limit=50)
    queryset = _records(LIST).filter(data__folderId=record.pk)
    page = page_of(queryset, limit=limit, offset=offset, sort=sort)
    return json_response({"lists": _lists_json(page, with_folder=False), "count": queryset.count()})


list_collection = dispatch(get=list_index, post=list_create)
list_detail = dispatch(get=list_read, put=list_update, delete=list_delete)
folder_collection = dispatch(get=folder_index, post=folder_create)
folder_detail = dispatch(get=folder_read, put=folder_update, delete=folder_delete)
