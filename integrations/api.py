"""/api/v1/connections/: CRUD of CRM connections (scope admin for every method).

Credentials are write-only: a response says `credentials_configured`, names each stored
field as "set" (no character of it) and says when they last changed (`credentials_changed_at`).
"""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from accounts.actors import Actor
from contacts.models import Contact
from core.api import OrganizationScopedMixin
from core.errors import NotFound
from integrations import registry
from integrations.crm_properties import field_mapping_targets_check
from integrations.models import CrmConnection
from integrations.selectors import (
    connection_get,
    connection_list,
    connection_uses_env_credentials,
    credentials_masked,
)
from integrations.services import EDITABLE_FIELDS, connection_create, connection_delete, connection_update


class ConnectionOutputSerializer(serializers.ModelSerializer):
    contact_rule_events = serializers.SerializerMethodField()
    # Blank unless the rule is "subtype": a plain string in the schema, so "" is a valid answer.
    contact_rule_subtype = serializers.CharField(
        read_only=True, help_text="lead, customer or prospect with the subtype rule; else an empty string."
    )
    credentials_configured = serializers.SerializerMethodField()
    credentials_masked = serializers.SerializerMethodField()
    credentials_from_environment = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    batch_size_max = serializers.SerializerMethodField()

    class Meta:
        model = CrmConnection
        fields = [
            "id",
            "kind",
            *EDITABLE_FIELDS,
            "batch_size_max",
            "circuit_state",
            "circuit_reason",
            "circuit_opened_at",
            "quota_exhausted_until",
            "quota_exhausted_reason",
            "account_time_zone",
            "pull_cursors",
            "capabilities",
            "credentials_configured",
            "credentials_masked",
            "credentials_from_environment",
            "credentials_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_contact_rule_events(self, obj) -> list[str]:
        return sorted(str(event.pk) for event in obj.contact_rule_events.all())

    def get_credentials_configured(self, obj) -> bool:
        return bool(obj.credentials) or connection_uses_env_credentials(connection=obj)

    def get_credentials_masked(self, obj) -> dict[str, str]:
        return credentials_masked(obj.credentials)

    def get_credentials_from_environment(self, obj) -> bool:
        return connection_uses_env_credentials(connection=obj)

    def get_capabilities(self, obj) -> list[str]:
        return sorted(c.value for c in registry.get_connector_class(obj.kind).capabilities)

    def get_batch_size_max(self, obj) -> int:
        return registry.get_connector_class(obj.kind).batch_size_max


class _ConnectionFieldsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    enabled = serializers.BooleanField()
    base_url = serializers.URLField(max_length=500, allow_blank=True)
    batch_size = serializers.IntegerField(min_value=1)
    push_interval_seconds = serializers.IntegerField(min_value=1)
    pull_interval_seconds = serializers.IntegerField(min_value=1)
    retry_base_seconds = serializers.IntegerField(min_value=1)
    retry_cap_seconds = serializers.IntegerField(min_value=1)
    max_retries = serializers.IntegerField(min_value=0, max_value=100)
    conflict_strategy = serializers.ChoiceField(choices=CrmConnection.ConflictStrategy.choices)
    auto_sync = serializers.BooleanField()
    sync_direction = serializers.ChoiceField(choices=CrmConnection.SyncDirection.choices)
    contact_rule = serializers.ChoiceField(choices=CrmConnection.ContactRule.choices)
    contact_rule_tag = serializers.CharField(max_length=100, allow_blank=True)
    contact_rule_subtype = serializers.ChoiceField(choices=Contact.Subtype.choices, allow_blank=True)
    contact_rule_events = serializers.ListField(child=serializers.UUIDField(), max_length=100)
    field_mapping = serializers.JSONField()
    settings = serializers.JSONField()
    credentials = serializers.JSONField(write_only=True)


class ConnectionCreateSerializer(_ConnectionFieldsSerializer):
    kind = serializers.CharField(max_length=32)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name == "kind"

    def validate_kind(self, value):
        registry.get_connector_class(value)  # UnknownCrm → 400 unknown_crm with the valid kinds
        return value


class ConnectionUpdateSerializer(_ConnectionFieldsSerializer):
    replace_credentials = serializers.BooleanField(required=False, default=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def _mapping_check(connection: CrmConnection) -> None:
    """A mapping written here targets only properties the CRM has (422 unknown_crm_properties)."""
    field_mapping_targets_check(connection=connection)


@extend_schema_view(
    create=extend_schema(request=ConnectionCreateSerializer, responses=ConnectionOutputSerializer),
    update=extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionOutputSerializer),
    partial_update=extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionOutputSerializer),
)
class ConnectionViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """CRM connections of the caller's organization. Every method needs the `admin` scope."""

    serializer_class = ConnectionOutputSerializer
    read_scope = "admin"
    write_scope = "admin"

    def get_queryset(self):
        return connection_list(organization=self.organization)

    def get_object(self):
        connection = connection_get(organization=self.organization, connection_id=self.kwargs["pk"])
        if connection is None:
            raise NotFound("No such connection.", code="not_found")
        return connection

    def create(self, request):
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        connection = connection_create(
            organization=self.organization,
            kind=data.pop("kind"),
            credentials=data.pop("credentials", None),
            actor=Actor.from_request(request),
            before_save=_mapping_check if "field_mapping" in data else None,
            **data,
        )
        return Response(ConnectionOutputSerializer(connection).data, status=201)

    def update(self, request, pk=None, partial=False):
        connection = self.get_object()
        serializer = ConnectionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        connection = connection_update(
            connection=connection,
            actor=Actor.from_request(request),
            credentials=data.pop("credentials", None),
            replace_credentials=data.pop("replace_credentials", False),
            before_save=_mapping_check if "field_mapping" in data else None,
            **data,
        )
        return Response(ConnectionOutputSerializer(connection).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @transaction.atomic
    def destroy(self, request, pk=None):
        connection_delete(connection=self.get_object(), actor=Actor.from_request(request))
        return Response(status=204)
