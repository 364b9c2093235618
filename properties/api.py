"""Property definitions API: /api/v1/properties/ (read scope to list, admin scope to change)."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from accounts.actors import Actor
from accounts.models import Scope
from core.api import OrganizationScopedMixin
from properties import rules
from properties.models import ObjectType, PropertyDefinition
from properties.selectors import property_definition_list
from properties.services import (
    property_definition_create,
    property_definition_delete,
    property_definition_update,
)


class PropertyDefinitionSerializer(serializers.ModelSerializer):
    """Shapes only; the rules (pattern, type pairs, options) are checked by the service, all at once."""

    object_type = serializers.ChoiceField(choices=ObjectType.choices, default=ObjectType.CONTACTS)
    name = serializers.CharField(max_length=200)
    label = serializers.CharField(max_length=1000, allow_blank=True)
    type = serializers.CharField(max_length=32)
    field_type = serializers.CharField(max_length=32)
    options = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    group_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        model = PropertyDefinition
        fields = [
            "id",
            "object_type",
            "name",
            "label",
            "type",
            "field_type",
            "group_name",
            "description",
            "options",
            "display_order",
            "hidden",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to report (409 with the existing id).
        validators: list = []


class PropertyDefinitionFilter(django_filters.FilterSet):
    object_type = django_filters.ChoiceFilter(choices=ObjectType.choices)
    type = django_filters.ChoiceFilter(choices=[(value, value) for value in rules.TYPES])
    group_name = django_filters.CharFilter()

    class Meta:
        model = PropertyDefinition
        fields = ["object_type", "type", "group_name"]


@extend_schema_view(
    list=extend_schema(summary="List property definitions (filter by object_type)"),
    create=extend_schema(summary="Create a property definition"),
    partial_update=extend_schema(summary="Change a property definition (name and object_type are fixed)"),
    destroy=extend_schema(summary="Delete a property definition (the CRM's property is kept)"),
)
class PropertyDefinitionViewSet(OrganizationScopedMixin, viewsets.ModelViewSet):
    serializer_class = PropertyDefinitionSerializer
    filterset_class = PropertyDefinitionFilter
    ordering_fields = ["name", "display_order", "created_at", "updated_at"]
    read_scope = Scope.READ
    write_scope = Scope.ADMIN

    def get_queryset(self):
        return property_definition_list(organization=self.organization)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        definition = property_definition_create(
            organization=self.organization,
            actor=Actor.from_request(request),
            data=dict(serializer.validated_data),
        )
        return Response(self.get_serializer(definition).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        definition = self.get_object()
        serializer = self.get_serializer(definition, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        definition = property_definition_update(
            definition=definition, actor=Actor.from_request(request), data=data
        )
        return Response(self.get_serializer(definition).data)

    def destroy(self, request, *args, **kwargs):
        property_definition_delete(definition=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
