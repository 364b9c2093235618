"""Property sync API: POST /api/v1/<crm>/properties/sync/<all|contacts|leads>, GET .../status/<...>.

Thin: parse, call one service, render the seed-shaped body (properties.reports).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actors import Actor
from accounts.models import Scope
from core.api import OrganizationScopedMixin
from integrations.errors import CrmError
from properties import reports
from properties.crm import connector_class_for, object_types_for
from properties.selectors import property_sync_last_runs, property_sync_next_scheduled
from properties.sync_requests import LocalDefinitionsInvalid, property_sync_dry_run, property_sync_now

DRY_RUN = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    description="Return the plan (create / update / skip / refused) and change nothing.",
)


def _render(rendered: reports.Rendered) -> Response:
    return Response(rendered.body, status=rendered.status, headers=rendered.headers)


class PropertySyncApi(OrganizationScopedMixin, APIView):
    """Push the organization's definitions to the CRM (admin scope: it changes the CRM's schema)."""

    write_scope = Scope.ADMIN

    @extend_schema(
        summary="Sync property definitions to a CRM",
        parameters=[DRY_RUN],
        request=None,
        responses={
            200: OpenApiTypes.OBJECT,
            207: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            422: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
            502: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request, crm: str, sync_type: str):
        dry_run = str(request.query_params.get("dry_run", "")).lower() in ("1", "true", "yes")
        if dry_run:
            try:
                plans = property_sync_dry_run(organization=self.organization, crm=crm, sync_type=sync_type)
            except (CrmError, LocalDefinitionsInvalid) as exc:
                return _render(reports.fatal_response(exc, crm=crm))
            return Response({"success": True, "data": reports.plan_data(plans, crm=crm)})
        outcomes = property_sync_now(
            organization=self.organization, crm=crm, sync_type=sync_type, actor=Actor.from_request(request)
        )
        return _render(reports.outcomes_response(outcomes, crm=crm, sync_type=sync_type))


class PropertySyncStatusApi(OrganizationScopedMixin, APIView):
    @extend_schema(summary="Status of the last property sync", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, crm: str, sync_type: str):
        object_types = object_types_for(connector_class=connector_class_for(crm=crm), sync_type=sync_type)
        runs = property_sync_last_runs(organization=self.organization, crm=crm, object_types=object_types)
        data = reports.status_data(
            sync_type=sync_type,
            crm=crm,
            runs=runs,
            object_types=object_types,
            next_run=property_sync_next_scheduled(),
        )
        return Response({"success": True, "data": data})
