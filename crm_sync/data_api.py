"""The CRM data API under /api/v1/integrations/ (seed 004): cached records, search, status, sync-now.

Scopes: GETs need `read`; starting pulls and clearing need `sync`. Views parse, call one
selector or service, render; the rules are in crm_sync/sources.py, search.py,
data_selectors.py and the services they call.
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actors import Actor
from accounts.models import Scope
from core.api import LimitOffsetTotalPagination, OrganizationScopedMixin
from crm_sync import data_presenters as present
from crm_sync.data_selectors import (
    local_contacts,
    records_page,
    source_records,
    sources_status,
    updated_range,
)
from crm_sync.search import search_run, search_validate
from crm_sync.services.pull_start import source_pull_start, sources_pull_start
from crm_sync.services.records_clear import records_clear
from crm_sync.sources import source_get, sources_select

TAGS = ["crm data"]
SOURCE_PARAM = OpenApiParameter(
    "source", str, description="`local`, a connection's kind (when the organization has one) or its id; "
    "omit for every source.",
)  # fmt: skip
PAGE_PARAMS = [
    OpenApiParameter("limit", int, description="Records per source (default 50, at most 500)."),
    OpenApiParameter("offset", int, description="Records skipped per source."),
]
UPDATED_PARAMS = [
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Updated at or after (ISO 8601)."),
    OpenApiParameter("updated_before", OpenApiTypes.DATETIME, description="Updated before (ISO 8601)."),
]
ERRORS = {
    400: OpenApiResponse(
        description="Bad input: unknown or ambiguous source, bad paging or filter (error body)",
        examples=[
            OpenApiExample(
                "Unknown source",
                value={
                    "error": "Unknown source 'x'; valid: local, hubspot.",
                    "code": "invalid_source",
                    "details": {"source": "x", "valid": ["local", "hubspot"]},
                },
            )  # fmt: skip
        ],
    ),
    404: OpenApiResponse(description="No such source in this organization (another organization's is a 404)"),
}
RECORD_EXAMPLE = {
    "id": 42, "source": "brivity", "object_type": "contacts", "remote_id": "c-981", "name": "Ana Núñez",
    "email": "ana@example.com", "fields": {"first_name": "Ana", "last_name": "Núñez"}, "archived": False,
    "merged_into_remote_id": None, "contact_id": "5f0c…", "remote_updated_at": "2026-01-20T10:00:00Z",
    "fetched_at": "2026-01-20T10:01:00Z",
}  # fmt: skip
STATUS_EXAMPLE = {
    "status": "idle", "lastSync": "2026-01-20T10:00:00Z", "contactCount": 245, "dealCount": 48,
    "lastError": None, "runningRuns": [],
}  # fmt: skip


class SearchPaging(LimitOffsetTotalPagination):
    default_limit = 20
    max_limit = 100


class DataApi(OrganizationScopedMixin, APIView):
    read_scope = Scope.READ
    write_scope = Scope.SYNC
    paging_class = LimitOffsetTotalPagination

    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def paging(self) -> tuple[int, int]:
        paginator = self.paging_class()
        return paginator.get_limit(self.request), paginator.get_offset(self.request)

    def sources(self):
        return sources_select(organization=self.organization, source=self.request.query_params.get("source"))


class CachedDataApi(DataApi):
    """Per source, the contacts and deals pulled from it (paged per source), its last sync and sync status."""

    @extend_schema(
        summary="Cached records of every source (or one), paginated per source",
        parameters=[SOURCE_PARAM, *PAGE_PARAMS],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Two sources",
                        value={
                            "success": True,
                            "timestamp": "2026-01-20T10:30:00Z",
                            "data": {
                                "local": {
                                    "contacts": [],
                                    "deals": [],
                                    "lastSync": None,
                                    "syncStatus": "idle",
                                    "contactCount": 0,
                                    "dealCount": 0,
                                    "limit": 50,
                                    "offset": 0,
                                },
                                "brivity": {
                                    "contacts": [RECORD_EXAMPLE],
                                    "deals": [],
                                    "lastSync": "2026-01-20T10:00:00Z",
                                    "syncStatus": "idle",
                                    "contactCount": 1,
                                    "dealCount": 0,
                                    "limit": 50,
                                    "offset": 0,
                                },
                            },
                        },
                    )  # fmt: skip
                ],
            ),
            **ERRORS,
        },
        tags=TAGS,
    )
    def get(self, request):
        limit, offset = self.paging()
        sources = self.sources()
        statuses = sources_status(organization=self.organization, sources=sources)
        data = {}
        for source in sources:
            state = statuses[source.key]
            if source.is_local:
                contacts = list(local_contacts(organization=self.organization)[offset : offset + limit])
                deals = []
            else:
                contacts = list(source_records(source=source, kind="contacts")[offset : offset + limit])
                deals = list(source_records(source=source, kind="deals")[offset : offset + limit])
            data[source.key] = {
                "contacts": [present.item(row, source=source.key) for row in contacts],
                "deals": [present.item(row, source=source.key) for row in deals],
                "lastSync": state.last_sync,
                "syncStatus": state.status,
                "contactCount": state.contact_count,
                "dealCount": state.deal_count,
                "limit": limit,
                "offset": offset,
            }
        return Response({"success": True, "timestamp": timezone.now(), "data": data})


class SearchApi(DataApi):
    """Search the local contacts and every source's pulled records at once, grouped by source, ranked."""

    paging_class = SearchPaging

    @extend_schema(
        summary="Search the local contacts and every source's records",
        description="Every word of `q` must start a word of the record (name, email, phone, company for "
        "contacts; name, stage, address for deals), case- and accent-insensitive. Ranked: names "
        "starting with the query first. `limit`/`offset` page each source; `has_more` says where "
        "another page exists. `total` is the number of results in this response, not a count of "
        "every match (none is made: a common name matches tens of thousands of records).",
        parameters=[
            OpenApiParameter("q", str, required=True, description="At least 2 characters."),
            OpenApiParameter("type", str, enum=["contact", "deal"], description="Default contact."),
            SOURCE_PARAM,
            OpenApiParameter("limit", int, description="Results per source (default 20, at most 100)."),
            OpenApiParameter("offset", int, description="Results skipped per source."),
        ],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Found in one source",
                        value={
                            "success": True,
                            "query": "ana",
                            "type": "contact",
                            "results": {"local": [], "brivity": [RECORD_EXAMPLE]},
                            "total": 1,
                            "has_more": {"local": False, "brivity": False},
                            "limit": 20,
                            "offset": 0,
                        },
                    )  # fmt: skip
                ],
            ),
            400: OpenApiResponse(
                description="q under 2 characters, a bad type or source (error body)",
                examples=[
                    OpenApiExample(
                        "Query too short",
                        value={
                            "error": "Query must be at least 2 characters",
                            "code": "query_too_short",
                            "details": {"q": ["At least 2 characters; got 1."]},
                        },
                    )  # fmt: skip
                ],
            ),
            404: ERRORS[404],
        },
        tags=TAGS,
    )
    def get(self, request):
        params = request.query_params
        query, type_, terms = search_validate(query=params.get("q"), type_=params.get("type"))
        limit, offset = self.paging()
        page = search_run(
            organization=self.organization, sources=self.sources(), query=query, type_=type_, terms=terms,
            limit=limit, offset=offset,
        )  # fmt: skip
        return Response(
            {
                "success": True,
                "query": page.query,
                "type": page.type,
                "results": {
                    key: [present.item(row, source=key) for row in rows] for key, rows in page.results.items()
                },
                "total": page.total,
                "has_more": page.has_more,
                "limit": limit,
                "offset": offset,
            }
        )


class SyncStatusApi(DataApi):
    """Per source: idle, syncing or error, the last sync, contact and deal counts and the last error."""

    @extend_schema(
        summary="Per source: pull status, last sync, counts, last error",
        parameters=[SOURCE_PARAM],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Status",
                        value={
                            "success": True,
                            "timestamp": "2026-01-20T10:30:00Z",
                            "status": {"brivity": STATUS_EXAMPLE},
                        },
                    )  # fmt: skip
                ],
            ),
            **ERRORS,
        },
        tags=TAGS,
    )
    def get(self, request):
        statuses = sources_status(organization=self.organization, sources=self.sources())
        return Response(
            {
                "success": True,
                "timestamp": timezone.now(),
                "status": {key: present.status_body(state) for key, state in statuses.items()},
            }
        )


def _run_refs(runs) -> list[dict]:
    return [{"id": run.pk, "object_type": run.object_type} for run in runs]


START_409 = OpenApiResponse(
    description="A pull of the source is running (details.run, details.runs), or it is disabled, "
    "paused or push-only",
    examples=[
        OpenApiExample(
            "Running",
            value={
                "error": "A pull from this connection is already running.",
                "code": "pull_running",
                "details": {"connection": 7, "run": 130, "runs": [130, 131]},
            },
        )  # fmt: skip
    ],
)


class SyncAllApi(DataApi):
    """Start a pull of every source now: 202 with the run ids; sources already pulling are listed as such."""

    @extend_schema(
        summary="Start a pull of every source now",
        description="202 at once with the runs started per source (their progress: /api/v1/sync-runs/{id}/). "
        "A source already pulling is reported `running` with its runs; one that may not pull now "
        "(disabled, paused, push-only) `skipped` with the reason.",
        request=None,
        responses={
            202: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Started",
                        value={
                            "success": True,
                            "message": "Sync initiated for all enabled CRM sources",
                            "runs": [130, 131],
                            "sources": {
                                "brivity": {
                                    "status": "started",
                                    "runs": [
                                        {"id": 130, "object_type": "contacts"},
                                        {"id": 131, "object_type": "deals"},
                                    ],
                                }
                            },
                        },
                    )  # fmt: skip
                ],
            )
        },
        tags=TAGS,
    )
    def post(self, request):
        sources = sources_select(organization=self.organization, source=None)
        outcomes = sources_pull_start(organization=self.organization, sources=sources, actor=self.actor())
        body = {}
        for outcome in outcomes:
            entry = {"status": outcome.status, "runs": _run_refs(outcome.runs)}
            if outcome.running:
                entry["running"] = outcome.running
            if outcome.code:
                entry.update(code=outcome.code, message=outcome.message)
            body[outcome.source] = entry
        return Response(
            {
                "success": True,
                "message": "Sync initiated for all enabled CRM sources",
                "runs": [run.pk for outcome in outcomes for run in outcome.runs],
                "sources": body,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class SyncSourceApi(DataApi):
    """Start a pull of one source now: 202 with the run ids, or 409 naming the run already under way."""

    @extend_schema(
        summary="Start a pull of one source now",
        request=None,
        responses={
            202: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Started",
                        value={
                            "success": True,
                            "source": "brivity",
                            "message": "Sync initiated for brivity",
                            "runs": [
                                {"id": 130, "object_type": "contacts"},
                                {"id": 131, "object_type": "deals"},
                            ],
                        },
                    )  # fmt: skip
                ],
            ),
            400: ERRORS[400],
            404: ERRORS[404],
            409: START_409,
        },
        tags=TAGS,
    )
    def post(self, request, source):
        found = source_get(organization=self.organization, source=source)
        runs = source_pull_start(organization=self.organization, source=found, actor=self.actor())
        return Response(
            {"success": True, "source": found.key, "message": f"Sync initiated for {found.key}",
             "runs": _run_refs(runs)},
            status=status.HTTP_202_ACCEPTED,
        )  # fmt: skip


class _RecordsListApi(DataApi):
    kind = "contacts"

    def get(self, request):
        limit, offset = self.paging()
        bounds = updated_range(request.query_params)
        sources = self.sources()
        page, count = records_page(
            organization=self.organization, sources=sources, kind=self.kind, bounds=bounds, limit=limit,
            offset=offset,
        )  # fmt: skip
        name = sources[0].key if len(sources) == 1 else None
        return Response(
            {"success": True, "source": name, self.kind: [present.item(r, source=key) for key, r in page],
             "count": count, "limit": limit, "offset": offset},
        )  # fmt: skip


def _list_schema(kind: str):
    return extend_schema(
        summary=f"The {kind} of one source, newest first, paginated",
        description="Without `source`: every source, the local contacts first (local data has no deals).",
        parameters=[SOURCE_PARAM, *PAGE_PARAMS, *UPDATED_PARAMS],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        kind.title(),
                        value={
                            "success": True,
                            "source": "brivity",
                            kind: [RECORD_EXAMPLE],
                            "count": 1,
                            "limit": 50,
                            "offset": 0,
                        },
                    )  # fmt: skip
                ],
            ),
            **ERRORS,
        },
        tags=TAGS,
    )


class ContactsListApi(_RecordsListApi):
    """The contacts of one source (or of all), paged, filterable by updated time."""

    kind = "contacts"

    @_list_schema("contacts")
    def get(self, request):
        return super().get(request)


class DealsListApi(_RecordsListApi):
    """The deals (transactions, REST entities) of one source or of all, paged, filterable by updated time."""

    kind = "deals"

    @_list_schema("deals")
    def get(self, request):
        return super().get(request)


class CacheClearInput(serializers.Serializer):
    source = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CacheClearApi(DataApi):
    """Remove a source's pulled records (or all), never local contacts; its next pull starts afresh."""

    @extend_schema(
        summary="Clear pulled records (one source, or all)",
        description="Deletes the source's pulled records and resets its pull cursors, so its next pull "
        "starts from scratch; local contacts are never touched. Audited. 409 while a pull of the "
        "source runs (nothing is cleared then).",
        request=CacheClearInput,
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                examples=[
                    OpenApiExample(
                        "Cleared",
                        value={
                            "success": True,
                            "message": "Cache cleared",
                            "cleared": {"brivity": {"records": 293, "cursors": 2}},
                        },
                    )  # fmt: skip
                ],
            ),
            400: ERRORS[400],
            404: ERRORS[404],
            409: START_409,
        },
        tags=TAGS,
    )
    def post(self, request):
        serializer = CacheClearInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data.get("source") or None
        sources = sources_select(organization=self.organization, source=name)
        cleared = records_clear(organization=self.organization, sources=sources, actor=self.actor())
        return Response({"success": True, "message": "Cache cleared", "cleared": cleared})
