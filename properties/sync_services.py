"""Run a property sync: claim the (organization, crm, object type), read the CRM once, apply the plan.

A run is claimed by inserting its row as pending/in progress; the partial unique
constraint on PropertySyncRun makes a second claim fail in the database (409), and no
lock is held while the CRM is called. Rate limits and other retriable CRM errors are
retried inside the run with backoff; what still fails is recorded per property.
"""

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import Conflict
from integrations.connectors.base import Connector
from integrations.errors import CrmAuthError, CrmError, CrmRateLimited
from properties import rules
from properties.crm import projection_for
from properties.models import (
    ACTIVE_STATUSES,
    PropertyDefinition,
    PropertySyncResult,
    PropertySyncRun,
    SyncStatus,
)
from properties.sync import CREATE, REFUSED, SKIP, UPDATE, Plan, definition_to_remote, plan_build

logger = logging.getLogger(__name__)

# Indirection so tests can observe the waits instead of sleeping.
sleep: Callable[[float], None] = time.sleep


class LocalDefinitionsInvalid(Exception):
    """Stored definitions break the rules (edited outside the services); nothing is sent."""

    def __init__(self, problems: list[dict]):
        super().__init__("Property validation failed")
        self.problems = problems


@dataclass
class RunOutcome:
    run: PropertySyncRun
    results: list[PropertySyncResult] = field(default_factory=list)
    # Set when the run as a whole failed (auth, CRM down, rate limit outlasting the retries).
    fatal: CrmError | LocalDefinitionsInvalid | None = None


class _CallCounter:
    """Calls the connector, retrying retriable errors with backoff, and counts the HTTP calls made."""

    def __init__(self) -> None:
        self.calls = 0
        self.waits: list[float] = []

    def __call__(self, fn: Callable, **kwargs) -> Any:
        retries = settings.PROPERTIES_SYNC_MAX_RETRIES
        for attempt in range(retries + 1):
            self.calls += 1
            try:
                return fn(**kwargs)
            except CrmError as exc:
                if not exc.retriable or attempt >= retries:
                    raise
                wait = self._wait(exc, attempt)
                if wait > settings.PROPERTIES_SYNC_MAX_WAIT_SECONDS:
                    raise  # not worth holding the run (and an API request) that long
                logger.info("Property sync: %s; retrying in %.1fs", exc.category, wait)
                self.waits.append(wait)
                sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _wait(exc: CrmError, attempt: int) -> float:
        if isinstance(exc, CrmRateLimited) and exc.retry_after is not None:
            return float(exc.retry_after)
        base, cap = (
            settings.PROPERTIES_SYNC_BACKOFF_BASE_SECONDS,
            settings.PROPERTIES_SYNC_BACKOFF_CAP_SECONDS,
        )
        return min(cap, base * 2**attempt) * random.uniform(0.5, 1)  # full jitter


def property_sync_expire_stale(*, organization, crm: str) -> int:
    """Fail active runs older than the stale limit: their worker died and they would block every new run."""
    limit = timezone.now() - timedelta(seconds=settings.PROPERTIES_SYNC_STALE_AFTER_SECONDS)
    return PropertySyncRun.objects.filter(
        organization=organization, crm=crm, status__in=ACTIVE_STATUSES, created_at__lt=limit
    ).update(
        status=SyncStatus.FAILED,
        error="Abandoned: the run did not finish within the stale limit.",
        error_category="abandoned",
        finished_at=timezone.now(),
    )


def property_sync_claim(
    *,
    organization,
    crm: str,
    object_types: list[str],
    actor: Actor,
    trigger: str = PropertySyncRun.Trigger.API,
    status: str = SyncStatus.IN_PROGRESS,
) -> list[PropertySyncRun]:
    """Create one run per object type, all or none; 409 when one of them is already active."""
    property_sync_expire_stale(organization=organization, crm=crm)
    batch_id = uuid.uuid4()
    now = timezone.now()
    try:
        with transaction.atomic():
            return [
                PropertySyncRun.objects.create(
                    organization=organization,
                    crm=crm,
                    object_type=object_type,
                    batch_id=batch_id,
                    status=status,
                    trigger=trigger,
                    actor_label=actor.label[:200],
                    started_at=now if status == SyncStatus.IN_PROGRESS else None,
                )
                for object_type in object_types
            ]
    except IntegrityError:
        active = (
            PropertySyncRun.objects.filter(
                organization=organization, crm=crm, object_type__in=object_types, status__in=ACTIVE_STATUSES
            )
            .order_by("created_at")
            .first()
        )
        details = {"crm": crm, "object_types": object_types}
        if active is not None:
            details.update(
                run_id=active.pk,
                object_type=active.object_type,
                status=active.status,
                started_at=active.started_at or active.created_at,
            )
        raise Conflict(
            f"A {crm} property sync of {', '.join(object_types)} is already running; try again when it ends.",
            code="sync_in_progress",
            details=details,
        )


def property_sync_start_pending(*, run_id: int) -> PropertySyncRun | None:
    """Move a pending run to in progress; None when it is gone or someone else started it."""
    now = timezone.now()
    updated = PropertySyncRun.objects.filter(pk=run_id, status=SyncStatus.PENDING).update(
        status=SyncStatus.IN_PROGRESS, started_at=now
    )
    return PropertySyncRun.objects.select_related("organization").get(pk=run_id) if updated else None


def _local_properties(*, organization, object_type: str):
    definitions = list(
        PropertyDefinition.objects.filter(organization=organization, object_type=object_type).order_by(
            "display_order", "name"
        )
    )
    problems = [
        {"property_name": definition.name, "validation_errors": errors}
        for definition in definitions
        if (errors := rules.definition_errors(definition.as_rule_data()))
    ]
    if problems:
        raise LocalDefinitionsInvalid(problems)
    return [definition_to_remote(definition) for definition in definitions]


def property_sync_plan(
    *, connector: Connector, organization, object_type: str, call=None
) -> tuple[Plan, list]:
    """Read the CRM's definitions once and diff them with ours (what a dry run returns)."""
    call = call or _CallCounter()
    local = _local_properties(organization=organization, object_type=object_type)
    remote = call(connector.list_properties, object_type=object_type)
    plan = plan_build(object_type=object_type, local=local, remote=remote, project=projection_for(connector))
    return plan, remote


def _result(run, change, sync_status: str, *, remote_id="", error="", category="") -> PropertySyncResult:
    return PropertySyncResult(
        run=run,
        name=change.name,
        label=change.label,
        sync_status=sync_status,
        remote_id=remote_id or "",
        differences=change.differences,
        error=error[:2000],
        error_category=category,
    )


def _apply(
    *, connector: Connector, plan: Plan, remote: list, run, call: _CallCounter
) -> list[PropertySyncResult]:
    """Carry out the plan; per-property failures are results, an auth error ends the run."""
    object_type = plan.object_type
    results: dict[str, PropertySyncResult] = {}
    failed_groups: dict[str, CrmError] = {}
    for group in plan.groups_to_ensure(remote):
        try:
            call(
                connector.ensure_property_group,
                object_type=object_type,
                name=group,
                label=_group_label(group),
            )
        except CrmAuthError:
            raise
        except CrmError as exc:
            failed_groups[group] = exc

    creates = []
    for change in plan.changes:
        group_error = failed_groups.get(change.local.group_name)
        if change.action in (CREATE, UPDATE) and group_error is not None:
            message = (
                f"Property group '{change.local.group_name}' could not be created: {group_error.message}"
            )
            results[change.name] = _result(
                run, change, "failed", error=message, category=group_error.category
            )
        elif change.action == SKIP:
            results[change.name] = _result(run, change, "skipped", remote_id=change.remote_id)
        elif change.action == REFUSED:
            results[change.name] = _result(run, change, "failed", error=change.reason, category="refused")
        elif change.action == CREATE:
            creates.append(change)

    if creates:
        try:
            pushed = call(
                connector.create_properties, object_type=object_type, properties=[c.local for c in creates]
            )
        except CrmAuthError:
            raise
        except CrmError as exc:
            pushed = None
            for change in creates:
                results[change.name] = _result(
                    run, change, "failed", error=exc.message, category=exc.category
                )
        if pushed is not None:
            for change, outcome in zip(creates, pushed, strict=False):
                if outcome.ok:
                    # created=False: the CRM already had it (a race, or HubSpot's 409 → PATCH path).
                    status = "updated" if outcome.created is False else "created"
                    results[change.name] = _result(run, change, status, remote_id=outcome.remote_id)
                else:
                    error = outcome.error
                    message = error.message if error else "The CRM did not create the property."
                    category = error.category if error else "unknown"
                    results[change.name] = _result(run, change, "failed", error=message, category=category)
            for change in creates[len(pushed) :]:
                results[change.name] = _result(run, change, "failed", error="The CRM returned no result.")

    for change in plan.of(UPDATE):
        if change.name in results:
            continue
        try:
            updated = call(connector.update_property, object_type=object_type, prop=change.local)
        except CrmAuthError:
            raise
        except CrmError as exc:
            results[change.name] = _result(run, change, "failed", error=exc.message, category=exc.category)
            continue
        remote_id = (updated.remote_id if updated is not None else None) or change.remote_id
        results[change.name] = _result(run, change, "updated", remote_id=remote_id)
    return [results[change.name] for change in plan.changes]


def _group_label(group: str) -> str:
    return group.replace("_", " ").strip().capitalize() or group


def _finish(
    *, run: PropertySyncRun, results: list, started: float, calls: int, fatal=None
) -> PropertySyncRun:
    counts = {
        status: sum(1 for r in results if r.sync_status == status) for status in PropertySyncResult.Action
    }
    run.created_count = counts["created"]
    run.updated_count = counts["updated"]
    run.skipped_count = counts["skipped"]
    run.failed_count = counts["failed"]
    run.api_calls = calls
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    succeeded = run.created_count + run.updated_count + run.skipped_count
    if fatal is not None:
        run.status = SyncStatus.PARTIAL if succeeded else SyncStatus.FAILED
        if isinstance(fatal, CrmError):
            run.error, run.error_category = fatal.message, fatal.category
        else:
            run.error, run.error_category = "Property validation failed.", "validation"
    elif run.failed_count:
        run.status = SyncStatus.PARTIAL if succeeded else SyncStatus.FAILED
    else:
        run.status = SyncStatus.COMPLETED
    with transaction.atomic():
        PropertySyncResult.objects.bulk_create(results)
        run.save()
        audit_record(
            organization=run.organization,
            actor=Actor.system(run.actor_label or "property sync"),
            action="property_sync.run",
            object_type="property_sync_run",
            object_id=run.pk,
            changes={
                "crm": run.crm,
                "object_type": run.object_type,
                "status": run.status,
                "created": run.created_count,
                "updated": run.updated_count,
                "skipped": run.skipped_count,
                "failed": run.failed_count,
            },
        )
    return run


def property_sync_execute(*, run: PropertySyncRun, connector: Connector) -> RunOutcome:
    """Sync one claimed run's object type to the CRM and record every property's result."""
    started = time.monotonic()
    call = _CallCounter()
    results: list[PropertySyncResult] = []
    fatal = None
    try:
        plan, remote = property_sync_plan(
            connector=connector, organization=run.organization, object_type=run.object_type, call=call
        )
        results = _apply(connector=connector, plan=plan, remote=remote, run=run, call=call)
    except (CrmError, LocalDefinitionsInvalid) as exc:
        fatal = exc
    except Exception:
        _finish(run=run, results=[], started=started, calls=call.calls, fatal=CrmError("Unexpected error."))
        raise
    _finish(run=run, results=results, started=started, calls=call.calls, fatal=fatal)
    return RunOutcome(run=run, results=results, fatal=fatal)


def property_sync_fail(*, run: PropertySyncRun, error: CrmError) -> RunOutcome:
    """End a claimed run without calling the CRM (an earlier run of the batch hit `error`)."""
    _finish(run=run, results=[], started=time.monotonic(), calls=0, fatal=error)
    return RunOutcome(run=run, results=[], fatal=error)
