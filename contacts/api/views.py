"""Contacts and events viewsets. Every queryset is the caller's organization's, so another
organization's id is a 404."""

import uuid
from collections.abc import Callable
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actors import Actor
from contacts.api.serializers import (
    ContactInputSerializer,
    ContactOutputSerializer,
    EventInputSerializer,
    EventOutputSerializer,
    FromEventInputSerializer,
    FromEventOutputSerializer,
    HistoryEntrySerializer,
    RegistrationOutputSerializer,
    contact_input_validate,
)
from contacts.filters import ContactFilter, EventFilter
from contacts.models import Contact, Event
from contacts.selectors import (
    contact_get,
    contact_history,
    contact_list,
    event_get,
    event_list,
    event_registrations,
)
from contacts.services.contacts import contact_create, contact_delete, contact_update
from contacts.services.events import EVENT_FIELDS, event_create, event_delete, event_update
from contacts.services.from_event import contact_register_from_event
from contacts.services.idempotency import idempotent_run
from core.api import OrganizationScopedMixin
from core.errors import NotFound

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Replays the first response to the same key and body within 24 hours; "
    "the same key with another body is 422 idempotency_key_reused.",
)
ERRORS = {
    400: OpenApiResponse(description="Invalid input (error body, field errors in details)"),
    404: OpenApiResponse(description="Unknown id, or another organization's"),
}

# What PUT resets an omitted field to. `source` is kept: it records where the contact came from.
CONTACT_PUT_DEFAULTS: dict[str, Any] = {
    "email": "",
    "first_name": "",
    "last_name": "",
    "phone": "",
    "company": "",
    "job_title": "",
    "subtype": Contact.Subtype.LEAD,
    "status": Contact.Status.ACTIVE,
    "tags": [],
    "notes": "",
    "custom_properties": {},
}
EVENT_PUT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "starts_at": None,
    "ends_at": None,
    "location": "",
    "external_id": "",
}


def _uuid_or_404(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No such {what}.", code=f"{what}_not_found")


class IdempotentCreateMixin:
    def run_idempotent(self, request, endpoint: str, operation: Callable[[], tuple[int, Any]]) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            status_code, body = operation()
            return Response(body, status=status_code)
        result = idempotent_run(
            organization=self.organization,
            key=key,
            endpoint=endpoint,
            payload=request.data,
            operation=operation,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return Response(result.body, status=result.status, headers=headers)


@extend_schema_view(
    list=extend_schema(
        summary="List contacts", responses={200: ContactOutputSerializer(many=True), **ERRORS}
    ),
    retrieve=extend_schema(summary="Get a contact", responses={200: ContactOutputSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a contact", responses={204: None, **ERRORS}),
)
class ContactViewSet(IdempotentCreateMixin, OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = ContactOutputSerializer
    # Only for the schema's query parameters; filtering itself goes through contact_list.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ContactFilter
    queryset = Contact.objects.none()

    def get_object(self) -> Contact:
        contact = contact_get(
            organization=self.organization, contact_id=_uuid_or_404(self.kwargs["pk"], "contact")
        )
        if contact is None:
            raise NotFound("No such contact.", code="contact_not_found")
        return contact

    def list(self, request):
        queryset = contact_list(organization=self.organization, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ContactOutputSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(ContactOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Create a contact",
        request=ContactInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: ContactOutputSerializer,
            409: OpenApiResponse(description="The email exists; details.existing_id"),
            422: OpenApiResponse(description="Idempotency-Key reused"),
            **ERRORS,
        },
    )
    def create(self, request):
        def operation() -> tuple[int, Any]:
            data = {"source": Contact.Source.API, **contact_input_validate(request.data)}
            contact = contact_create(
                organization=self.organization, actor=Actor.from_request(request), data=data
            )
            return status.HTTP_201_CREATED, ContactOutputSerializer(contact).data

        return self.run_idempotent(request, "contacts.create", operation)

    def _update(self, request, *, partial: bool) -> Response:
        contact = self.get_object()
        serializer = ContactInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = (
            dict(serializer.validated_data)
            if partial
            else {**CONTACT_PUT_DEFAULTS, **serializer.validated_data}
        )
        contact, _ = contact_update(contact=contact, actor=Actor.from_request(request), data=data)
        return Response(ContactOutputSerializer(contact).data)

    @extend_schema(
        summary="Replace a contact (omitted fields reset, except source)",
        request=ContactInputSerializer,
        responses={200: ContactOutputSerializer, 409: OpenApiResponse(description="Email taken"), **ERRORS},
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some fields of a contact",
        request=ContactInputSerializer,
        responses={200: ContactOutputSerializer, 409: OpenApiResponse(description="Email taken"), **ERRORS},
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def destroy(self, request, pk=None):
        contact_delete(contact=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Register a contact for an event (the event form flow)",
        request=FromEventInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: FromEventOutputSerializer,
            200: FromEventOutputSerializer,
            422: OpenApiResponse(description="Idempotency-Key reused"),
            **ERRORS,
        },
    )
    @action(detail=False, methods=["post"], url_path="from-event", filter_backends=[])
    def from_event(self, request):
        def operation() -> tuple[int, Any]:
            serializer = FromEventInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            result = contact_register_from_event(
                organization=self.organization,
                actor=Actor.from_request(request),
                contact_data=dict(data["contact"]),
                event_data=dict(data["event"]),
                registration_data=dict(data.get("registration") or {}),
            )
            body = {
                "contact_id": result.contact.pk,
                "event_id": result.event.pk,
                "registration_id": result.registration.pk,
                "contact_created": result.contact_created,
                "event_created": result.event_created,
                "registration_created": result.registration_created,
                "contact": result.contact,
            }
            status_code = status.HTTP_201_CREATED if result.contact_created else status.HTTP_200_OK
            return status_code, FromEventOutputSerializer(body).data

        return self.run_idempotent(request, "contacts.from_event", operation)

    @extend_schema(
        summary="A contact's audit history", responses={200: HistoryEntrySerializer(many=True), **ERRORS}
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request, pk=None):
        page = self.paginate_queryset(contact_history(contact=self.get_object()))
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List events", responses={200: EventOutputSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(summary="Get an event", responses={200: EventOutputSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete an event and its registrations", responses={204: None, **ERRORS}),
)
class EventViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = EventOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilter
    queryset = Event.objects.none()

    def get_object(self) -> Event:
        event = event_get(organization=self.organization, event_id=_uuid_or_404(self.kwargs["pk"], "event"))
        if event is None:
            raise NotFound("No such event.", code="event_not_found")
        return event

    def _output(self, event: Event) -> dict:
        return EventOutputSerializer(event_get(organization=self.organization, event_id=event.pk)).data

    def list(self, request):
        page = self.paginate_queryset(
            event_list(organization=self.organization, filters=request.query_params)
        )
        return self.get_paginated_response(EventOutputSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(EventOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Create an event",
        request=EventInputSerializer,
        responses={
            201: EventOutputSerializer,
            409: OpenApiResponse(description="external_id taken"),
            **ERRORS,
        },
    )
    def create(self, request):
        serializer = EventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_create(
            organization=self.organization,
            actor=Actor.from_request(request),
            data=dict(serializer.validated_data),
        )
        return Response(self._output(event), status=status.HTTP_201_CREATED)

    def _update(self, request, *, partial: bool) -> Response:
        event = self.get_object()
        serializer = EventInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = (
            dict(serializer.validated_data)
            if partial
            else {**EVENT_PUT_DEFAULTS, **serializer.validated_data}
        )
        data = {name: value for name, value in data.items() if name in EVENT_FIELDS}
        event, _ = event_update(event=event, actor=Actor.from_request(request), data=data)
        return Response(self._output(event))

    @extend_schema(
        summary="Replace an event",
        request=EventInputSerializer,
        responses={
            200: EventOutputSerializer,
            409: OpenApiResponse(description="external_id taken"),
            **ERRORS,
        },
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some fields of an event",
        request=EventInputSerializer,
        responses={
            200: EventOutputSerializer,
            409: OpenApiResponse(description="external_id taken"),
            **ERRORS,
        },
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def destroy(self, request, pk=None):
        event_delete(event=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="An event's registrations", responses={200: RegistrationOutputSerializer(many=True), **ERRORS}
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def registrations(self, request, pk=None):
        page = self.paginate_queryset(event_registrations(event=self.get_object()))
        return self.get_paginated_response(RegistrationOutputSerializer(page, many=True).data)
