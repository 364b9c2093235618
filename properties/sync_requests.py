"""Entry points of a property sync: now (API), dry run, queued (admin), scheduled (beat)."""

import logging
from functools import partial

from django.db import transaction

from accounts.actors import Actor
from core.errors import ApplicationError
from integrations.connectors.base import Capability
from integrations.errors import CrmAuthError
from properties.crm import connection_for, connector_class_for, object_types_for, property_object_types
from properties.models import PropertyDefinition, PropertySyncRun, SyncStatus
from properties.sync_services import (
    LocalDefinitionsInvalid,
    RunOutcome,
    property_sync_claim,
    property_sync_execute,
    property_sync_fail,
    property_sync_plan,
    property_sync_start_pending,
)

logger = logging.getLogger(__name__)


def property_sync_now(
    *, organization, crm: str, sync_type: str, actor: Actor, trigger: str = PropertySyncRun.Trigger.API
) -> list[RunOutcome]:
    """Sync `sync_type` (all / contacts / leads) to the CRM inside this call; one outcome per object type."""
    connector_class = connector_class_for(crm=crm)
    object_types = object_types_for(connector_class=connector_class, sync_type=sync_type)
    connector = connector_class(connection_for(organization=organization, crm=crm))
    runs = property_sync_claim(
        organization=organization, crm=crm, object_types=object_types, actor=actor, trigger=trigger
    )
    return _execute_all(runs=runs, connector=connector)


def _execute_all(*, runs: list[PropertySyncRun], connector) -> list[RunOutcome]:
    """Run one after the other; once the CRM rejects the credentials, the rest fail without a call."""
    outcomes: list[RunOutcome] = []
    auth_error = None
    for run in runs:
        if auth_error is not None:
            outcomes.append(property_sync_fail(run=run, error=auth_error))
            continue
        outcome = property_sync_execute(run=run, connector=connector)
        if isinstance(outcome.fatal, CrmAuthError):
            auth_error = outcome.fatal
        outcomes.append(outcome)
    return outcomes


def property_sync_dry_run(*, organization, crm: str, sync_type: str) -> dict:
    """The plan per object type; only the CRM's list calls are made, nothing is written anywhere.

    Raises the CRM's error (CrmError) or LocalDefinitionsInvalid; the API maps them.
    """
    connector_class = connector_class_for(crm=crm)
    object_types = object_types_for(connector_class=connector_class, sync_type=sync_type)
    connector = connector_class(connection_for(organization=organization, crm=crm))
    plans = {}
    for object_type in object_types:
        plan, _remote = property_sync_plan(
            connector=connector, organization=organization, object_type=object_type
        )
        plans[object_type] = plan
    return plans


def property_sync_enqueue(
    *,
    organization,
    crm: str,
    object_types: list[str],
    actor: Actor,
    trigger: str = PropertySyncRun.Trigger.ADMIN,
) -> list[PropertySyncRun]:
    """Create pending runs (409 if one is active) and hand them to a worker once committed."""
    from properties.tasks import sync_definitions as sync_definitions_task

    connector_class = connector_class_for(crm=crm)
    supported = property_object_types(connector_class)
    object_types = [object_type for object_type in object_types if object_type in supported]
    if not object_types:
        return []
    connection_for(organization=organization, crm=crm)
    with transaction.atomic():
        runs = property_sync_claim(
            organization=organization,
            crm=crm,
            object_types=object_types,
            actor=actor,
            trigger=trigger,
            status=SyncStatus.PENDING,
        )
        run_ids = [run.pk for run in runs]
        transaction.on_commit(partial(sync_definitions_task.delay, run_ids=run_ids))
    return runs


def property_sync_run_pending(*, run_ids: list[int]) -> list[RunOutcome]:
    """Run queued runs; one already started elsewhere (or deleted) is left alone."""
    outcomes = []
    for run_id in run_ids:
        run = property_sync_start_pending(run_id=run_id)
        if run is None:
            continue
        try:
            connector_class = connector_class_for(crm=run.crm)
            connector = connector_class(connection_for(organization=run.organization, crm=run.crm))
        except ApplicationError as exc:
            PropertySyncRun.objects.filter(pk=run.pk).update(
                status=SyncStatus.FAILED, error=exc.message, error_category=exc.code
            )
            continue
        outcomes.append(property_sync_execute(run=run, connector=connector))
    return outcomes


def _syncable_connections():
    """Enabled connections whose connector syncs properties, of organizations that define any."""
    from integrations import registry
    from integrations.models import CrmConnection

    organizations = PropertyDefinition.objects.values("organization_id").distinct()
    for connection in CrmConnection.objects.filter(
        enabled=True, organization_id__in=organizations
    ).select_related("organization"):
        try:
            connector_class = registry.get_connector_class(connection.kind)
        except (KeyError, LookupError, ValueError):
            continue
        if Capability.SYNC_PROPERTIES in connector_class.capabilities:
            yield connection, connector_class


def property_sync_scheduled() -> dict:
    """Beat's daily run: every organization with definitions, every CRM that syncs properties.

    A pair already syncing is skipped (its run is as good as this one); each CRM's
    failure is recorded on its runs and does not stop the others.
    """
    summary = {"runs": 0, "skipped_busy": 0, "failed": 0}
    for connection, connector_class in _syncable_connections():
        object_types = [
            ot for ot in ("contacts", "leads", "deals") if ot in property_object_types(connector_class)
        ]
        defined = set(
            PropertyDefinition.objects.filter(
                organization=connection.organization, object_type__in=object_types
            )
            .values_list("object_type", flat=True)
            .distinct()
        )
        object_types = [ot for ot in object_types if ot in defined]
        if not object_types:
            continue
        try:
            runs = property_sync_claim(
                organization=connection.organization,
                crm=connection.kind,
                object_types=object_types,
                actor=Actor.system("schedule"),
                trigger=PropertySyncRun.Trigger.SCHEDULE,
            )
        except ApplicationError:
            summary["skipped_busy"] += 1
            continue
        for outcome in _execute_all(runs=runs, connector=connector_class(connection)):
            summary["runs"] += 1
            if outcome.run.status in (SyncStatus.FAILED, SyncStatus.PARTIAL):
                summary["failed"] += 1
    return summary


__all__ = [
    "LocalDefinitionsInvalid",
    "property_sync_dry_run",
    "property_sync_enqueue",
    "property_sync_now",
    "property_sync_run_pending",
    "property_sync_scheduled",
]


def property_sync_enqueue_selected(*, definitions, actor: Actor) -> dict:
    """Queue syncs of the object types of `definitions` to every CRM their organizations sync properties with.

    For the admin action: a pair already syncing is reported busy, not an error.
    """
    from integrations import registry
    from integrations.models import CrmConnection

    wanted: dict[int, set[str]] = {}
    organizations = {}
    for definition in definitions.select_related("organization"):
        wanted.setdefault(definition.organization_id, set()).add(definition.object_type)
        organizations[definition.organization_id] = definition.organization
    summary = {"queued": 0, "busy": [], "no_connection": []}
    connections = CrmConnection.objects.filter(enabled=True, organization_id__in=list(wanted))
    kinds_by_org: dict[int, set[str]] = {}
    for connection in connections:
        try:
            connector_class = registry.get_connector_class(connection.kind)
        except (KeyError, LookupError, ValueError):
            continue
        if Capability.SYNC_PROPERTIES in connector_class.capabilities:
            kinds_by_org.setdefault(connection.organization_id, set()).add(connection.kind)
    for organization_id, object_types in wanted.items():
        organization = organizations[organization_id]
        kinds = sorted(kinds_by_org.get(organization_id, ()))
        if not kinds:
            summary["no_connection"].append(organization.name)
        for crm in kinds:
            try:
                runs = property_sync_enqueue(
                    organization=organization, crm=crm, object_types=sorted(object_types), actor=actor
                )
            except ApplicationError:
                summary["busy"].append(f"{organization.name}/{crm}")
                continue
            summary["queued"] += len(runs)
    return summary
