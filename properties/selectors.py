"""Reads of the properties app."""

import functools
from datetime import datetime, timedelta

from celery.schedules import crontab
from django.db import connection as db_connection
from django.db.models import QuerySet
from django.utils import timezone

from properties.models import PropertyDefinition, PropertySyncResult, PropertySyncRun

# The beat entry the data migration creates; admins may edit or disable it.
PERIODIC_TASK_NAME = "properties: sync definitions to CRMs (daily)"


def property_definition_list(*, organization, object_type: str | None = None) -> QuerySet[PropertyDefinition]:
    queryset = PropertyDefinition.objects.filter(organization=organization)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    return queryset.order_by("object_type", "display_order", "name")


def property_definitions_for(*, organization, object_type: str) -> dict[str, PropertyDefinition]:
    """The organization's definitions of one object type, by name, in one query.

    For connectors mapping custom properties onto CRM fields when they push: the
    definition says the type (format dates, join multi-selects with ';') and the label.
    """
    return {
        definition.name: definition
        for definition in PropertyDefinition.objects.filter(
            organization=organization, object_type=object_type
        )
    }


def property_sync_last_runs(*, organization, crm: str, object_types: list[str]) -> dict[str, PropertySyncRun]:
    """The latest run per object type (one small query per object type, at most three)."""
    runs = {}
    for object_type in object_types:
        run = (
            PropertySyncRun.objects.filter(organization=organization, crm=crm, object_type=object_type)
            .order_by("-created_at", "-id")
            .first()
        )
        if run is not None:
            runs[object_type] = run
    return runs


def property_sync_results(*, runs: list[PropertySyncRun]) -> dict[int, list[PropertySyncResult]]:
    """Per-property results of several runs, in one query."""
    grouped: dict[int, list[PropertySyncResult]] = {run.pk: [] for run in runs}
    for result in PropertySyncResult.objects.filter(run__in=runs).order_by("run_id", "id"):
        grouped[result.run_id].append(result)
    return grouped


def property_sync_next_scheduled(*, now: datetime | None = None) -> datetime | None:
    """When beat next runs the definitions sync; None when the schedule is missing or disabled."""
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME, enabled=True).select_related("crontab").first()
    )
    if task is None or task.crontab is None:
        return None
    now = now or timezone.now()
    cron = task.crontab
    local_now = now.astimezone(cron.timezone)
    schedule = crontab(
        minute=cron.minute,
        hour=cron.hour,
        day_of_week=cron.day_of_week,
        day_of_month=cron.day_of_month,
        month_of_year=cron.month_of_year,
        nowfun=lambda: local_now,
    )
    # Time from now to the first firing after the last run; negative when a run was
    # missed, which beat makes up at once.
    last_run = (task.last_run_at or now).astimezone(cron.timezone)
    remaining = schedule.remaining_estimate(last_run)
    return now + max(remaining, timedelta(0))


def property_names_in_crm(*, organization, crm: str, object_type: str = "contacts") -> set[str]:
    """Defined properties that a sync to `crm` created, updated or found there.

    A push maps only these: a custom property the CRM does not have yet would make it refuse
    the contact (HubSpot: PROPERTY_DOESNT_EXIST), so values follow once property sync ran.
    Every push batch asks, so this is one fixed statement rather than a compiled queryset
    (the compilation cost more than the query).
    """
    organization_id = getattr(organization, "pk", organization)
    params = [organization_id, object_type, organization_id, crm, object_type, *_IN_CRM_ACTIONS]
    with db_connection.cursor() as cursor:
        cursor.execute(_names_in_crm_sql(), params)
        return {name for (name,) in cursor.fetchall()}


_IN_CRM_ACTIONS = (
    PropertySyncResult.Action.CREATED,
    PropertySyncResult.Action.UPDATED,
    PropertySyncResult.Action.SKIPPED,
)


@functools.cache
def _names_in_crm_sql() -> str:
    quote = db_connection.ops.quote_name

    def column(model, name):
        return quote(model._meta.get_field(name).column)

    definitions, runs, results = (
        quote(model._meta.db_table) for model in (PropertyDefinition, PropertySyncRun, PropertySyncResult)
    )
    actions = ", ".join(["%s"] * len(_IN_CRM_ACTIONS))
    return (
        f"SELECT d.{column(PropertyDefinition, 'name')} FROM {definitions} AS d "  # noqa: S608 - identifiers from the models, values are parameters  # nosec B608
        f"WHERE d.{column(PropertyDefinition, 'organization')} = %s"
        f" AND d.{column(PropertyDefinition, 'object_type')} = %s"
        f" AND d.{column(PropertyDefinition, 'name')} IN ("
        f"SELECT r.{column(PropertySyncResult, 'name')} FROM {results} AS r"
        f" JOIN {runs} AS run ON run.{column(PropertySyncRun, 'id')} = r.{column(PropertySyncResult, 'run')}"
        f" WHERE run.{column(PropertySyncRun, 'organization')} = %s"
        f" AND run.{column(PropertySyncRun, 'crm')} = %s"
        f" AND run.{column(PropertySyncRun, 'object_type')} = %s"
        f" AND r.{column(PropertySyncResult, 'sync_status')} IN ({actions}))"
    )
