"""/api/v1/webhooks/: subscriptions to events (scope admin for every method), their deliveries.

The signing secret is returned once, in the answer to the create; afterwards a subscription
shows only whether it has one. See docs/webhooks.md for the events, payloads and signature.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actors import Actor
from accounts.models import Scope
from core.api import OrganizationScopedMixin
from core.errors import NotFound
from webhooks.models import Event, WebhookDelivery, WebhookSubscription
from webhooks.services import (
    subscription_create,
    subscription_delete,
    subscription_resume,
    subscription_update,
)


class SubscriptionOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices))

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "description",
            "status",
            "paused_reason",
            "paused_at",
            "consecutive_failures",
            "last_delivery_at",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SubscriptionCreated(SubscriptionOutput):
    secret = serializers.CharField(help_text="The signing secret. Shown only in this answer: store it now.")

    class Meta(SubscriptionOutput.Meta):
        fields = [*SubscriptionOutput.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "last_status_code",
            "last_response_body",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


CREATE_EXAMPLE = {
    "url": "https://hooks.example.com/crm",
    "events": ["contact.created", "contact.synced", "conflict.created"],
    "description": "Ops dashboard",
}
ERRORS = {
    400: OpenApiResponse(description="Invalid input, unknown event, or a URL the outbound rules refuse"),
    403: OpenApiResponse(description="The key lacks the admin scope"),
    404: OpenApiResponse(description="Unknown subscription, or another organization's"),
}


@extend_schema_view(
    list=extend_schema(
        summary="List webhook subscriptions",
        description="This organization's subscriptions: their URL, events, status and last delivery.",
        responses={200: SubscriptionOutput(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a webhook subscription", responses={200: SubscriptionOutput, **ERRORS}
    ),
    destroy=extend_schema(summary="Delete a webhook subscription", responses={204: None, **ERRORS}),
)
@extend_schema(tags=["webhooks"])
class WebhookSubscriptionViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """Subscriptions to contact and conflict events, delivered signed to a URL of yours (scope admin)."""

    serializer_class = SubscriptionOutput
    queryset = WebhookSubscription.objects.none()
    read_scope = Scope.ADMIN
    write_scope = Scope.ADMIN

    def get_queryset(self):
        return WebhookSubscription.objects.filter(organization=self.organization).order_by(
            "-created_at", "-id"
        )

    def get_object(self) -> WebhookSubscription:
        pk = self.kwargs["pk"]
        subscription = self.get_queryset().filter(pk=pk).first() if str(pk).isdigit() else None
        if subscription is None:
            raise NotFound("No such webhook subscription.", code="webhook_not_found")
        return subscription

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SubscriptionOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(SubscriptionOutput(self.get_object()).data)

    @extend_schema(
        summary="Subscribe to events",
        description=(
            "The URL obeys the outbound rules of a connection's base URL (https, a public address; "
            "checked again at every delivery; redirects are not followed). The answer holds the "
            "signing secret, shown this once."
        ),
        request=SubscriptionInput,
        responses={201: SubscriptionCreated, **ERRORS},
        examples=[OpenApiExample("Subscribe", value=CREATE_EXAMPLE, request_only=True)],
    )
    def create(self, request):
        serializer = SubscriptionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = subscription_create(
            organization=self.organization, actor=Actor.from_request(request), **serializer.validated_data
        )
        body = SubscriptionOutput(subscription).data
        return Response({**body, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a webhook subscription",
        request=SubscriptionInput(partial=True),
        responses={200: SubscriptionOutput, **ERRORS},
        examples=[
            OpenApiExample("Change the events", value={"events": ["contact.failed"]}, request_only=True)
        ],
    )
    def partial_update(self, request, pk=None):
        subscription = self.get_object()
        serializer = SubscriptionInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = subscription_update(
            subscription=subscription, data=serializer.validated_data, actor=Actor.from_request(request)
        )
        return Response(SubscriptionOutput(subscription).data)

    def destroy(self, request, pk=None):
        subscription_delete(subscription=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Resume a paused subscription",
        description="Its failure count restarts and its pending deliveries are sent at once.",
        request=None,
        responses={200: SubscriptionOutput, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        subscription = subscription_resume(subscription=self.get_object(), actor=Actor.from_request(request))
        return Response(SubscriptionOutput(subscription).data)

    @extend_schema(
        summary="A subscription's deliveries, newest first",
        description="Each with its attempts and the receiver's last answer (status, capped body, redacted).",
        responses={200: DeliveryOutput(many=True), **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        subscription = self.get_object()
        queryset = WebhookDelivery.objects.filter(subscription=subscription).order_by("-created_at", "-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)
