"""Response bodies of the property sync API, in the seed's shapes (seeds/001), and their HTTP status.

Success: `{"success": true, "data": {...}}` as the seed shows. Errors use the project's
error body `{"error", "code", "details"}` with the seed's detail fields.
"""

from dataclasses import dataclass, field

from integrations.errors import CrmAuthError, CrmError, CrmRateLimited
from properties.models import PropertySyncResult, PropertySyncRun, SyncStatus
from properties.sync import Plan
from properties.sync_services import LocalDefinitionsInvalid, RunOutcome


@dataclass
class Rendered:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def _duration(ms: int | None) -> str | None:
    return None if ms is None else f"{ms / 1000:.1f}s"


def _seed_status(run: PropertySyncRun) -> str:
    return {SyncStatus.COMPLETED: "success", SyncStatus.PARTIAL: "partial_failure"}.get(
        run.status, run.status
    )


def result_entry(result: PropertySyncResult, *, crm: str) -> dict:
    entry = {
        "name": result.name,
        "label": result.label,
        "sync_status": result.sync_status,
        "remote_id": result.remote_id or None,
        f"{crm}_property_id": result.remote_id or None,
    }
    if result.differences:
        entry["differences"] = result.differences
    if result.error:
        entry["error"] = result.error
        entry["error_category"] = result.error_category
    return entry


def run_data(run: PropertySyncRun, results: list[PropertySyncResult]) -> dict:
    """One object type's result, as the seed's POST /contacts response `data`."""
    data = {
        "object_type": run.object_type,
        "crm": run.crm,
        "run_id": run.pk,
        "sync_status": run.status,
        "status": _seed_status(run),
        "synced_properties": run.synced_count,
        "failed_properties": run.failed_count,
        "properties": [result_entry(result, crm=run.crm) for result in results],
        "sync_details": {
            "created": run.created_count,
            "updated": run.updated_count,
            "skipped": run.skipped_count,
            "errors": run.failed_count,
        },
        "api_calls": run.api_calls,
        "summary": {
            "total_synced": run.synced_count,
            "total_failed": run.failed_count,
            "sync_duration": _duration(run.duration_ms),
            "duration_ms": run.duration_ms,
        },
    }
    if run.error:
        data["error"] = run.error
        data["error_category"] = run.error_category
    return data


def _aggregate_status(runs: list[PropertySyncRun]) -> str:
    statuses = {run.status for run in runs}
    if not statuses:
        return SyncStatus.COMPLETED
    if len(statuses) == 1:
        return runs[0].status
    if statuses & {SyncStatus.IN_PROGRESS, SyncStatus.PENDING}:
        return SyncStatus.IN_PROGRESS
    return SyncStatus.PARTIAL


def outcomes_data(outcomes: list[RunOutcome], *, sync_type: str) -> dict:
    if sync_type != "all" and len(outcomes) == 1:
        return run_data(outcomes[0].run, outcomes[0].results)
    runs = [outcome.run for outcome in outcomes]
    data: dict = {"sync_status": _aggregate_status(runs), "crm": runs[0].crm if runs else None}
    for outcome in outcomes:
        per_type = run_data(outcome.run, outcome.results)
        per_type["results"] = per_type["properties"]
        per_type["properties"] = [entry["name"] for entry in per_type["results"]]
        data[outcome.run.object_type] = per_type
    duration = sum(run.duration_ms or 0 for run in runs)
    data["summary"] = {
        "total_synced": sum(run.synced_count for run in runs),
        "total_failed": sum(run.failed_count for run in runs),
        "sync_duration": _duration(duration),
        "duration_ms": duration,
    }
    return data


def fatal_response(error, *, crm: str) -> Rendered:
    """A run that failed as a whole: the CRM refused us, is down, or our definitions are invalid."""
    if isinstance(error, LocalDefinitionsInvalid):
        first = error.problems[0]
        return Rendered(
            400,
            {
                "error": "Property validation failed",
                "code": "property_validation_failed",
                "details": {
                    "property_name": first["property_name"],
                    "validation_errors": [
                        m for messages in first["validation_errors"].values() for m in messages
                    ],
                    "properties": error.problems,
                },
            },
        )
    if isinstance(error, CrmRateLimited):
        retry_after = int((error.retry_after or 10) + 0.999)
        details = {"crm": crm, "retry_after": retry_after, "message": error.message}
        if error.policy:
            details["policy"] = error.policy
        if error.resets_at is not None:  # a spent daily quota: nothing goes out before its reset
            details["resets_at"] = error.resets_at.isoformat()
        return Rendered(
            429,
            {"error": f"{crm} API rate limit exceeded", "code": "crm_rate_limited", "details": details},
            {"Retry-After": str(retry_after)},
        )
    category = error.category if isinstance(error, CrmError) else "unknown"
    message = (
        f"{crm} rejected the connection's credentials"
        if isinstance(error, CrmAuthError)
        else f"{crm} property sync failed"
    )
    return Rendered(
        502,
        {
            "error": message,
            "code": f"crm_{category}",
            "details": {
                "crm": crm,
                "category": category,
                "message": getattr(error, "message", str(error)),
                "crm_status": getattr(error, "status", None),
            },
        },
    )


def outcomes_response(outcomes: list[RunOutcome], *, crm: str, sync_type: str) -> Rendered:
    """200 all synced; the fatal error's status when every run failed as a whole; else 207."""
    data = outcomes_data(outcomes, sync_type=sync_type)
    if outcomes and all(outcome.fatal is not None for outcome in outcomes):
        return fatal_response(outcomes[0].fatal, crm=crm)
    failures = []
    for outcome in outcomes:
        if outcome.fatal is not None:
            failures.append(
                {
                    "property": None,
                    "object_type": outcome.run.object_type,
                    "error": outcome.run.error or "Failed",
                }
            )
        failures += [
            {
                "property": result.name,
                "object_type": outcome.run.object_type,
                "error": result.error,
                "category": result.error_category,
            }
            for result in outcome.results
            if result.sync_status == PropertySyncResult.Action.FAILED
        ]
    if not failures:
        return Rendered(200, {"success": True, "data": data})
    return Rendered(
        207,
        {
            "error": "Partial sync failure",
            "code": "partial_sync_failure",
            "details": {
                "successful_properties": sum(outcome.run.synced_count for outcome in outcomes),
                "failed_properties": sum(outcome.run.failed_count for outcome in outcomes),
                "failures": failures,
                "data": data,
            },
        },
    )


def plan_data(plans: dict[str, Plan], *, crm: str) -> dict:
    data: dict = {"dry_run": True, "crm": crm}
    for object_type, plan in plans.items():
        data[object_type] = {
            "object_type": object_type,
            "create": [change.as_dict() for change in plan.of("create")],
            "update": [change.as_dict() for change in plan.of("update")],
            "skip": [change.as_dict() for change in plan.of("skip")],
            "refused": [change.as_dict() for change in plan.of("refused")],
            "summary": plan.summary(),
        }
    return data


def status_data(
    *, sync_type: str, crm: str, runs: dict[str, PropertySyncRun], object_types, next_run
) -> dict:
    """The seed's GET /status/{sync_type} body: last run overall, per object type, next schedule."""
    data: dict = {"sync_type": sync_type, "crm": crm}
    present = [runs[object_type] for object_type in object_types if object_type in runs]
    if present:
        latest = max(present, key=lambda run: run.created_at)
        durations = [run.duration_ms for run in present if run.duration_ms is not None]
        data["last_sync"] = {
            "timestamp": latest.finished_at or latest.started_at or latest.created_at,
            "status": _aggregate_status(present),
            "duration": _duration(sum(durations)) if durations else None,
            "total_properties": sum(run.synced_count + run.failed_count for run in present),
            "successful": sum(run.synced_count for run in present),
            "failed": sum(run.failed_count for run in present),
        }
    else:
        data["last_sync"] = None
    for object_type in object_types:
        run = runs.get(object_type)
        data[object_type] = (
            {
                "run_id": run.pk,
                "status": run.status,
                "properties_synced": run.synced_count,
                "properties_failed": run.failed_count,
                "last_update": run.finished_at or run.started_at or run.created_at,
                "error": run.error or None,
            }
            if run
            else {
                "status": None,
                "properties_synced": 0,
                "properties_failed": 0,
                "last_update": None,
                "error": None,
            }
        )
    data["next_scheduled_sync"] = next_run
    return data
