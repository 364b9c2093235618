"""/api/v1/sync-runs/: the history of pushed batches and pulls, read-only (scope `read`).

Another organization's run is a 404.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from accounts.models import Scope
from core.api import OrganizationScopedMixin
from core.errors import NotFound
from crm_sync.models import SyncRun
from crm_sync.run_selectors import sync_run_get, sync_run_list


class SyncRunOutputSerializer(serializers.ModelSerializer):
    crm = serializers.CharField(source="connection.kind")
    connection_name = serializers.CharField(source="connection.name")

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "connection_id",
            "crm",
            "connection_name",
            "direction",
            "object_type",
            "outcome",
            "backfill",
            # push counts
            "claimed",
            "succeeded",
            "failed",
            "retried",
            "skipped",
            "rate_limited",
            # pull counts
            "fetched",
            "created",
            "updated",
            "unchanged",
            "archived",
            "conflicts",
            "error_count",
            "pages",
            "calls",
            "http_429s",
            "cursor_before",
            "cursor_after",
            "errors",
            "duration_ms",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


LIST_PARAMETERS = [
    OpenApiParameter("connection", int, description="Only this connection's runs (its id)."),
    OpenApiParameter("direction", str, enum=["push", "pull"]),
    OpenApiParameter("object_type", str, description="Pulls of this object type (contacts, deals, ...)."),
    OpenApiParameter("outcome", str, enum=[value for value, _ in SyncRun.Outcome.choices]),
]
ERRORS = {
    400: OpenApiResponse(description="Invalid filter (error body, details per field)"),
    404: OpenApiResponse(description="Unknown id, or another organization's"),
}


@extend_schema_view(
    list=extend_schema(
        summary="List sync runs (pushes and pulls)",
        parameters=LIST_PARAMETERS,
        responses={200: SyncRunOutputSerializer(many=True), **ERRORS},
        tags=["sync"],
    ),
    retrieve=extend_schema(
        summary="Get a sync run", responses={200: SyncRunOutputSerializer, **ERRORS}, tags=["sync"]
    ),
)
class SyncRunViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = SyncRunOutputSerializer
    queryset = SyncRun.objects.none()
    read_scope = Scope.READ

    def list(self, request):
        queryset = sync_run_list(organization=self.organization, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(SyncRunOutputSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        run = sync_run_get(organization=self.organization, run_id=pk)
        if run is None:
            raise NotFound("No such sync run.", code="sync_run_not_found")
        return Response(SyncRunOutputSerializer(run).data)
