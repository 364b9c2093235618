"""The WO-018 sync API under /api/v1/: thin views that validate, call one service, render.

Scopes: GET needs `read`, every other call `sync`, the admin/ endpoints `admin`.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actors import Actor
from accounts.models import Scope
from core.api import LimitOffsetTotalPagination, OrganizationScopedMixin
from crm_sync import connections, presenters, serializers
from crm_sync.selectors import queue_completion_estimate, sync_failures, sync_stats, sync_stats_every_crm
from crm_sync.services.credentials import crm_config, crm_credentials_test
from crm_sync.services.queue_all import contacts_queue_all
from crm_sync.services.queueing import contact_queue, contacts_bulk_queue
from crm_sync.services.retrying import contact_retry, contacts_retry_all

CRM_PARAM = OpenApiParameter("crm", str, required=True, description="CRM kind, e.g. hubspot")
OPTIONAL_CRM_PARAM = OpenApiParameter(
    "crm",
    str,
    required=False,
    description="CRM kind, e.g. hubspot; without it, every CRM of the organization",
)


class SyncApi(OrganizationScopedMixin, APIView):
    read_scope = Scope.READ
    write_scope = Scope.SYNC

    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def validated(self, serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ContactQueueSyncApi(SyncApi):
    @extend_schema(request=serializers.QueueSyncInput, responses=serializers.QueueSyncOutput, tags=["sync"])
    def post(self, request, contact_id):
        data = self.validated(serializers.QueueSyncInput, request.data)
        state = contact_queue(
            organization=self.organization, contact_id=contact_id, actor=self.actor(), **data
        )
        return Response(presenters.queued_state(state, crm=data["crm"]))


class ContactsBulkQueueSyncApi(SyncApi):
    @extend_schema(
        request=serializers.BulkQueueSyncInput, responses=serializers.BulkQueueSyncOutput, tags=["sync"]
    )
    def post(self, request):
        data = self.validated(serializers.BulkQueueSyncInput, request.data)
        result = contacts_bulk_queue(organization=self.organization, actor=self.actor(), **data)
        return Response(result)


class ContactsQueueAllSyncApi(SyncApi):
    @extend_schema(
        request=serializers.QueueAllSyncInput,
        responses={200: serializers.QueueAllSyncOutput, 202: serializers.QueueAllSyncOutput},
        tags=["sync"],
    )
    def post(self, request):
        data = self.validated(serializers.QueueAllSyncInput, request.data)
        result = contacts_queue_all(organization=self.organization, actor=self.actor(), **data)
        connection = connections.organization_connection(organization=self.organization, crm=data["crm"])
        estimate = queue_completion_estimate(connection=connection)
        result["estimated_completion"] = estimate["at"]
        result["estimate"] = estimate["text"]
        result["paused"] = estimate["paused"]
        # 202: decided and counted, and still being written to the queue (queue_all_runs.py).
        writing = result.get("run", {}).get("status") == "writing"
        return Response(result, status=202 if writing else 200)


class ContactSyncStatusApi(SyncApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("debug", bool, description="1: include the last request/response per CRM")
        ],
        responses=OpenApiTypes.OBJECT,
        tags=["sync"],
    )
    def get(self, request, contact_id):
        debug = request.query_params.get("debug", "") in ("1", "true", "yes")
        return Response(
            presenters.contact_sync_status(organization=self.organization, contact_id=contact_id, debug=debug)
        )


class SyncStatsApi(SyncApi):
    @extend_schema(
        parameters=[OPTIONAL_CRM_PARAM],
        responses=PolymorphicProxySerializer(
            component_name="SyncStatsAnswer",
            serializers=[serializers.SyncStatsOutput, serializers.SyncStatsEveryCrmOutput],
            resource_type_field_name=None,
        ),
        tags=["sync"],
    )
    def get(self, request):
        crm = self.validated(serializers.OptionalCrmQuery, request.query_params).get("crm")
        if crm is None:
            return Response(sync_stats_every_crm(organization=self.organization))
        connection = connections.organization_connection(
            organization=self.organization, crm=crm, require_enabled=False, for_push=False
        )
        return Response(sync_stats(connection=connection))


class SyncFailuresApi(SyncApi):
    @extend_schema(
        parameters=[
            CRM_PARAM,
            OpenApiParameter("limit", int, description="Page size (default 50, at most 500)"),
            OpenApiParameter("offset", int),
        ],
        responses=serializers.SyncFailuresOutput,
        tags=["sync"],
    )
    def get(self, request):
        crm = self.validated(serializers.CrmQuery, request.query_params)["crm"]
        connection = connections.organization_connection(
            organization=self.organization, crm=crm, require_enabled=False, for_push=False
        )
        paginator = LimitOffsetTotalPagination()
        page = paginator.paginate_queryset(sync_failures(connection=connection), request, view=self)
        return Response(
            {
                "crm": crm,
                "failures": [presenters.failure(state) for state in page],
                "total": paginator.count,
                "limit": paginator.limit,
                "offset": paginator.offset,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
            }
        )


class ContactRetrySyncApi(SyncApi):
    @extend_schema(request=serializers.RetrySyncInput, responses=serializers.RetrySyncOutput, tags=["sync"])
    def post(self, request, contact_id):
        data = self.validated(serializers.RetrySyncInput, request.data)
        state = contact_retry(
            organization=self.organization, contact_id=contact_id, actor=self.actor(), **data
        )
        return Response(
            {
                "contact_id": str(state.contact_id),
                "crm": data["crm"],
                "retry_count": state.retry_count,
                "next_retry_at": state.next_retry_at,
                "sync_status": state.sync_status,
                "message": "Retry scheduled",
            }
        )


class RetryAllFailuresApi(SyncApi):
    @extend_schema(request=serializers.RetryAllInput, responses=serializers.RetryAllOutput, tags=["sync"])
    def post(self, request):
        data = self.validated(serializers.RetryAllInput, request.data)
        count = contacts_retry_all(organization=self.organization, actor=self.actor(), **data)
        message = (
            "All failures reset and queued for retry"
            if data["reset_retry_count"]
            else "All failures scheduled for retry"
        )
        return Response({"crm": data["crm"], "retried_count": count, "message": message})


class TestCrmCredentialsApi(SyncApi):
    read_scope = Scope.ADMIN
    write_scope = Scope.ADMIN

    @extend_schema(
        request=serializers.TestCredentialsInput,
        responses={
            200: serializers.TestCredentialsOutput,
            400: serializers.TestCredentialsFailure,
            429: serializers.TestCredentialsFailure,
            502: serializers.TestCredentialsFailure,
        },
        tags=["sync admin"],
    )
    def post(self, request):
        data = self.validated(serializers.TestCredentialsInput, request.data)
        connections.crm_validate(data["crm"])
        result = crm_credentials_test(
            organization=self.organization,
            crm=data["crm"],
            api_key=data.get("api_key"),
            credentials=data.get("credentials"),
            actor=self.actor(),
        )
        return Response(presenters.credential_test(result), status=presenters.credential_test_status(result))


class CrmConfigApi(SyncApi):
    read_scope = Scope.ADMIN
    write_scope = Scope.ADMIN

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=["sync admin"])
    def get(self, request):
        return Response(crm_config(organization=self.organization))
