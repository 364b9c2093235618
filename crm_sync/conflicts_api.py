"""/api/v1/conflicts/: the fields a pull left for review, and their resolution.

Scopes: reading needs `read`, resolving `sync`. Another organization's conflict is a 404.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actors import Actor
from accounts.models import Scope
from core.api import OrganizationScopedMixin
from core.errors import NotFound
from crm_sync.conflict_selectors import conflict_get, conflict_list
from crm_sync.models import SyncConflict
from crm_sync.services.conflicts import conflict_resolve


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {"base": {}, "local": {}, "remote": {}},
        },
        "example": {"phone": {"base": "+1 555 0100", "local": "+1 555 0101", "remote": "+1 555 0199"}},
    }
)
class ConflictFieldsField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {
            "type": "object",
            "properties": {"choice": {"type": "string", "enum": ["local", "remote", "custom"]}, "value": {}},
        },
    }
)
class ConflictResolutionField(serializers.JSONField):
    pass


class ConflictOutputSerializer(serializers.ModelSerializer):
    crm = serializers.CharField(source="connection.kind")
    connection_name = serializers.CharField(source="connection.name")
    contact_id = serializers.UUIDField()
    contact_email = serializers.CharField(source="contact.email")
    fields = ConflictFieldsField()
    resolution = ConflictResolutionField()

    class Meta:
        model = SyncConflict
        fields = [
            "id",
            "status",
            "connection_id",
            "crm",
            "connection_name",
            "contact_id",
            "contact_email",
            "fields",
            "remote_updated_at",
            "resolution",
            "resolved_by_label",
            "resolved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ConflictResolveInput(serializers.Serializer):
    """Either `choice` for every field, or `fields` naming each field's winner or a custom value."""

    choice = serializers.ChoiceField(choices=["local", "remote"], required=False)
    fields = serializers.DictField(child=serializers.JSONField(), required=False)


class ConflictResolveOutput(ConflictOutputSerializer):
    pushed = serializers.BooleanField(
        help_text="The contact was queued for the connection: a winner differs from the CRM's value."
    )

    class Meta(ConflictOutputSerializer.Meta):
        fields = [*ConflictOutputSerializer.Meta.fields, "pushed"]
        read_only_fields = fields


LIST_PARAMETERS = [
    OpenApiParameter("connection", int, description="Only this connection's conflicts (its id)."),
    OpenApiParameter("status", str, enum=["open", "resolved"], description="open or resolved."),
    OpenApiParameter("contact", OpenApiTypes.UUID, description="Only this contact's conflicts."),
]
ERRORS = {
    400: OpenApiResponse(description="Invalid input or filter (error body, details per field)"),
    404: OpenApiResponse(description="Unknown id, or another organization's"),
}


@extend_schema_view(
    list=extend_schema(
        summary="List sync conflicts",
        parameters=LIST_PARAMETERS,
        responses={200: ConflictOutputSerializer(many=True), **ERRORS},
        tags=["conflicts"],
    ),
    retrieve=extend_schema(
        summary="Get a sync conflict", responses={200: ConflictOutputSerializer, **ERRORS}, tags=["conflicts"]
    ),
)
class ConflictViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = ConflictOutputSerializer
    queryset = SyncConflict.objects.none()
    read_scope = Scope.READ
    scope_by_action = {"resolve": Scope.SYNC}

    def get_object(self) -> SyncConflict:
        conflict = conflict_get(organization=self.organization, conflict_id=self.kwargs["pk"])
        if conflict is None:
            raise NotFound("No such conflict.", code="conflict_not_found")
        return conflict

    def list(self, request):
        queryset = conflict_list(organization=self.organization, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ConflictOutputSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(ConflictOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Resolve a sync conflict",
        description=(
            "Apply the chosen values to the contact (validated like any contact update), record the "
            "resolution and audit it. Where the winner differs from the CRM's value the contact is "
            "queued for that connection, so the CRM gets it. Every field of the conflict must be decided."
        ),
        request=ConflictResolveInput,
        responses={
            200: ConflictResolveOutput,
            409: OpenApiResponse(description="Already resolved (conflict_already_resolved)"),
            **ERRORS,
        },
        examples=[
            OpenApiExample("Keep every local value", value={"choice": "local"}, request_only=True),
            OpenApiExample("Take every CRM value", value={"choice": "remote"}, request_only=True),
            OpenApiExample(
                "Per field, with a custom value",
                value={
                    "fields": {"first_name": "local", "company": "remote", "phone": {"value": "+1 555 0123"}}
                },
                request_only=True,
            ),
        ],
        tags=["conflicts"],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        conflict = self.get_object()
        serializer = ConflictResolveInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        resolved = conflict_resolve(
            conflict=conflict,
            choice=serializer.validated_data.get("choice"),
            fields=serializer.validated_data.get("fields"),
            actor=Actor.from_request(request),
        )
        return Response(ConflictResolveOutput(resolved).data)
