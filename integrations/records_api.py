"""/api/v1/integrations/records/{id}/: one pulled record of a CRM, its source and its sync state.

GET needs `read`; PATCH and actions need `write`. Another organization's record is a 404.
Writes change the record locally at once and queue the change for its CRM
(crm_sync/services/records.py); the push is asynchronous, so the answer shows `sync.status`
"Queued" until the CRM accepts it.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actors import Actor
from accounts.models import Scope
from core.api import OrganizationScopedMixin
from core.errors import NotFound
from crm_sync.models import RemoteRecord
from crm_sync.services.records import record_action_run, record_update


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyObjectField(serializers.JSONField):
    pass


class RecordSourceOutput(serializers.Serializer):
    connection_id = serializers.IntegerField(source="id")
    kind = serializers.CharField()
    name = serializers.CharField()


class RecordSyncOutput(serializers.Serializer):
    status = serializers.CharField(
        allow_null=True,
        help_text="Queued, Processing, Complete or Error; null when the record was never changed here.",
    )
    pending_fields = AnyObjectField(help_text="Local values the CRM has not accepted yet.")
    pending_actions = AnyObjectField(help_text="Actions not yet run in the CRM: {action: body}.")
    conflict_fields = AnyObjectField(
        help_text="Fields a pull left for review: {field: {base, local, remote}}."
    )
    retry_count = serializers.IntegerField()
    next_retry_at = serializers.DateTimeField(allow_null=True)
    last_synced_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    error_category = serializers.CharField(allow_blank=True)


class RecordOutput(serializers.Serializer):
    id = serializers.IntegerField()
    object_type = serializers.CharField()
    remote_id = serializers.CharField()
    display_name = serializers.CharField()
    fields = AnyObjectField()
    archived = serializers.BooleanField()
    remote_updated_at = serializers.DateTimeField(allow_null=True)
    fetched_at = serializers.DateTimeField()
    source = serializers.SerializerMethodField()
    sync = serializers.SerializerMethodField()

    @extend_schema_field(RecordSourceOutput)
    def get_source(self, record: RemoteRecord) -> dict:
        return RecordSourceOutput(record.connection).data

    @extend_schema_field(RecordSyncOutput)
    def get_sync(self, record: RemoteRecord) -> dict:
        state = getattr(record, "sync_state", None)
        return {
            "status": state.processing_status if state else None,
            "pending_fields": state.pending_values if state else {},
            "pending_actions": state.pending_actions if state else {},
            "conflict_fields": state.conflict_fields if state else {},
            "retry_count": state.retry_count if state else 0,
            "next_retry_at": state.next_retry_at if state else None,
            "last_synced_at": state.last_synced_at if state else None,
            "error": state.error if state else "",
            "error_category": state.error_category if state else "",
        }


RECORD_EXAMPLE = {
    "id": 42,
    "object_type": "tasks",
    "remote_id": "17",
    "display_name": "API Integration Task",
    "fields": {
        "title": "API Integration Task",
        "status": "in_progress",
        "assignee_id": 3,
        "priority": "high",
    },
    "archived": False,
    "remote_updated_at": "2026-01-05T10:00:00Z",
    "fetched_at": "2026-01-05T10:01:00Z",
    "source": {"connection_id": 7, "kind": "rest", "name": "Project CRM"},
    "sync": {
        "status": "Queued",
        "pending_fields": {"priority": "high"},
        "pending_actions": {"status": {"status": "in_progress"}},
        "conflict_fields": {},
        "retry_count": 0,
        "next_retry_at": None,
        "last_synced_at": None,
        "error": "",
        "error_category": "",
    },
}
ERRORS = {
    400: OpenApiResponse(description="Unknown or read-only field, wrong type, unknown action (error body)"),
    403: OpenApiResponse(description="The key lacks the scope"),
    404: OpenApiResponse(description="Unknown record, or another organization's"),
}


class RecordBaseApi(OrganizationScopedMixin, APIView):
    read_scope = Scope.READ
    write_scope = Scope.WRITE

    def get_record(self, record_id: int) -> RemoteRecord:
        record = (
            RemoteRecord.objects.filter(organization=self.organization, pk=record_id)
            .select_related("connection", "sync_state")
            .first()
        )
        if record is None:
            raise NotFound("No such record.", code="record_not_found")
        return record

    def render(self, record_id: int) -> Response:
        return Response(RecordOutput(self.get_record(record_id)).data)


class RecordApi(RecordBaseApi):
    @extend_schema(
        summary="Get a CRM record",
        description="The record as last pulled (with local changes applied), its source and sync state.",
        responses={200: RecordOutput, **ERRORS},
        examples=[OpenApiExample("A task with a queued change", value=RECORD_EXAMPLE, response_only=True)],
        tags=["records"],
    )
    def get(self, request, record_id: int):
        return self.render(record_id)

    @extend_schema(
        summary="Change a CRM record",
        description=(
            "Change mapped fields of a record of a REST CRM (projects, tasks, users, clients, comments). "
            "The writable fields are the entity's field map (or the record's own fields when the "
            "connection maps none); each value keeps its JSON type (null clears). The change is "
            "queued and pushed to the CRM with the connection's retries and conflict rules."
        ),
        request=OpenApiTypes.OBJECT,
        responses={200: RecordOutput, **ERRORS},
        examples=[
            OpenApiExample("Rename a project", value={"name": "Website relaunch"}, request_only=True),
            OpenApiExample(
                "Unknown field",
                value={
                    "error": "Invalid record fields.",
                    "code": "validation_error",
                    "details": {"colour": ["…"]},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["records"],
    )
    def patch(self, request, record_id: int):
        record = self.get_record(record_id)
        record_update(record=record, changes=request.data, actor=Actor.from_request(request))
        return self.render(record_id)


class RecordActionApi(RecordBaseApi):
    @extend_schema(
        summary="Run a CRM action on a record",
        description=(
            'Seed 002\'s task actions: `assign` with {"assignee_id": N} and `status` with '
            '{"status": "..."}. The field shows the new value at once; the action is queued and '
            "sent to the CRM's own endpoint (PATCH /tasks/{id}/assign, /status)."
        ),
        request=OpenApiTypes.OBJECT,
        responses={200: RecordOutput, **ERRORS},
        examples=[
            OpenApiExample("Assign a task", value={"assignee_id": 3}, request_only=True),
            OpenApiExample("Change a task's status", value={"status": "in_progress"}, request_only=True),
        ],
        tags=["records"],
    )
    def post(self, request, record_id: int, action: str):
        record = self.get_record(record_id)
        record_action_run(record=record, action=action, body=request.data, actor=Actor.from_request(request))
        return self.render(record_id)
