"""Queue every contact matching filters (the seed's 1.3), with a dry run that counts what it skips and why.

One count query (each matched contact LEFT JOINed to its state), then one UPDATE … FROM and one
INSERT … SELECT (queueing._queue_matched), whatever the number of contacts; a statement the count
shows has nothing to do is skipped. The queued_count answered is the statements' own row count.
A queue-all that would queue more than SYNC_QUEUE_ALL_INLINE_MAX_ROWS is decided and counted in
the request but written to the queue after the answer, in chunks (queue_all_runs.py). Where the
time of a million-contact queue-all goes, and why the statements look as they do:
docs/benchmarks.md "bench/queue_all.py".
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from contacts.selectors import contact_list
from core.errors import InvalidInput
from crm_sync import connections
from crm_sync.models import Priority
from crm_sync.services.queue_all_runs import (
    queue_all_run_start,
    queue_all_run_summary,
    queue_all_unfinished_check,
)
from crm_sync.services.queueing import _audit_many, _push_now, _queue_matched, priority_parse
from crm_sync.services.statements import queue_candidates_count

# queue-all filters: ours, and those handed to contacts.selectors.contact_list.
OWN_FILTERS = {"not_already_synced"}
CONTACT_FILTERS = {
    "has_email",
    "source",
    "tag",
    "event",
    "subtype",
    "status",
    "q",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
}


def queue_all_filters_parse(filters: Any) -> tuple[dict, bool]:
    """Split queue-all filters into contact_list filters and not_already_synced; 400 on unknown names."""
    if filters is None:
        return {}, False
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be an object.", code="invalid_filter")
    unknown = sorted(set(filters) - CONTACT_FILTERS - OWN_FILTERS)
    if unknown:
        raise InvalidInput(
            f"Unknown filter(s): {', '.join(unknown)}.",
            code="invalid_filter",
            details={"unknown": unknown, "valid": sorted(CONTACT_FILTERS | OWN_FILTERS)},
        )
    not_synced = filters.get("not_already_synced", False)
    if not isinstance(not_synced, bool):
        raise InvalidInput("not_already_synced must be true or false.", code="invalid_filter")
    contact_filters = {}
    for key, value in filters.items():
        if key in OWN_FILTERS:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, dict | list):
            raise InvalidInput(f"Filter {key!r} takes a single value.", code="invalid_filter")
        contact_filters[key] = value
    return contact_filters, not_synced


def contacts_queue_all(
    *,
    organization,
    crm: str,
    filters: dict | None = None,
    priority: str = "normal",
    dry_run: bool = False,
    force: bool = False,
    actor: Actor,
    now: datetime | None = None,
) -> dict:
    """Queue every contact matching `filters` (the seed's 1.3); counts what it skips and why."""
    rank = priority_parse(priority)
    contact_filters, not_synced = queue_all_filters_parse(filters)
    connection = connections.organization_connection(organization=organization, crm=crm)
    contacts = contact_list(organization=organization, filters=contact_filters).order_by()
    now = now or timezone.now()
    # A run still being written holds contacts counted as queued that are not in the queue yet.
    queue_all_unfinished_check(connection=connection)
    if dry_run:
        return _queue_all_result(
            crm=crm,
            dry_run=True,
            force=force,
            counted=queue_candidates_count(
                contacts=contacts, connection_id=connection.pk, not_synced=not_synced
            ),
        )
    with transaction.atomic():
        # The count runs in the transaction that queues, just before the two statements: the
        # skip reasons describe the rows those statements saw, and a statement the count shows
        # has nothing to do is not run (queueing._queue_matched).
        counted = queue_candidates_count(
            contacts=contacts, connection_id=connection.pk, not_synced=not_synced
        )
        result = _queue_all_result(crm=crm, dry_run=False, force=force, counted=counted)
        if result["queued_count"] <= 0:
            return result
        work = {
            "result": result,
            "contacts": contacts,
            "not_synced": not_synced,
            "connection": connection,
            "now": now,
            "rank": rank,
            "force": force,
            "organization": organization,
            "actor": actor,
            "crm": crm,
            "filters": filters,
        }
        if result["queued_count"] > settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS:
            return _queue_all_defer(**work)
        return _queue_all_apply(counted=counted, **work)


def _queue_all_result(*, crm: str, dry_run: bool, force: bool, counted: dict) -> dict:
    skipped = {
        "no_email": counted["no_email"],
        "already_queued": counted["already_queued"],
        "unchanged": 0 if force else counted["unchanged"],
    }
    return {
        "crm": crm,
        "dry_run": dry_run,
        "matched_count": counted["matched"],
        "queued_count": counted["matched"] - sum(skipped.values()),
        "skipped_count": sum(skipped.values()),
        "skipped": skipped,
    }


def _queue_all_apply(
    *, result, contacts, counted, not_synced, connection, now, rank, force, organization, actor, crm, filters
) -> dict:
    counts = _queue_matched(
        matched=contacts,
        connection=connection,
        now=now,
        priority=rank,
        force=force,
        not_synced=not_synced,
        counted=counted,
    )
    _audit_many(
        organization=organization,
        actor=actor,
        action="sync.queue_all",
        crm=crm,
        count=counts,
        extra={"filters": filters or {}, "force": force},
    )
    if rank == Priority.HIGH:
        _push_now(connection.pk)
    result["queued_count"] = counts
    return result


def _queue_all_defer(
    *, result, contacts, not_synced, connection, now, rank, force, organization, actor, crm, filters
) -> dict:
    """Decide and count now, write after the answer (crm_sync/services/queue_all_runs.py).

    queued_count is the run's own count of the contacts it stored; `run` says how many are in
    the queue yet (none when this answers) and sync-stats' queue_all_pending how many are not.
    """
    run = queue_all_run_start(
        contacts=contacts, connection=connection, now=now, priority=rank, force=force, not_synced=not_synced
    )
    _audit_many(
        organization=organization,
        actor=actor,
        action="sync.queue_all",
        crm=crm,
        count=run.total,
        extra={"filters": filters or {}, "force": force, "run": run.pk},
    )
    if not run.finished_at:
        # robust: the run is stored and answered for; a broker that refuses the message leaves it
        # to the push dispatcher, which restarts a run nobody has moved for a minute.
        # (A lambda, not a partial: Django names the callback when it logs the failure.)
        transaction.on_commit(lambda: _write_later(run.pk), robust=True)
    result["queued_count"] = run.total
    result["run"] = queue_all_run_summary(run)
    return result


def _write_later(run_id: int) -> None:
    from crm_sync.tasks import queue_all_write

    queue_all_write.delay(run_id=run_id)
