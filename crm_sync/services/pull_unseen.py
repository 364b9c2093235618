"""After a complete backfill: mark what the CRM did not return as gone from it, never delete it.

Brevo, Mautic, Brivity, TopProducer and REST CRMs have no feed of deleted records: a contact
deleted there simply stops being listed, and an incremental pull (which only sees changes)
can never tell. A backfill reads everything the CRM holds, so once one has read every page of
an object type without an error, whatever of that connection and object type it did not
touch is no longer in the CRM. It gets the marks the archived path uses: `remote_archived`
(+ `_at`) on the contact's sync state, `archived` (+ `_at`) on the stored record. The local
contact and its data stay; a record that comes back in a later pull is un-marked by the
pull itself (pull_apply sets both flags from what the CRM sends).

"Not touched" is read from the times every pull writes on what it applies, unchanged or
not: ContactSyncState.last_pulled_at and RemoteRecord.fetched_at. Anything applied by this
run is at or after the run's start; anything older was not in this pass.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from accounts.actors import Actor
from accounts.services import audit_record
from crm_sync.models import ContactSyncState, ProcessingStatus, PullCursor, RemoteRecord, SyncRun

AUDIT_ACTION = "sync.pull_not_returned"


def pull_pass_complete(*, run: SyncRun) -> bool:
    """Whether `run` read a whole pass by itself, cleanly: what the not-returned marking needs.

    The run succeeded (not partial, failed, rate limited or abandoned; no error recorded, so
    no page or record was left out), it read something, and the pass ended inside it: its
    cursor is back at the start and was completed after the run began (a run that stopped on
    its time budget, or a pass begun by an earlier run, does not count).
    """
    if run.outcome != SyncRun.Outcome.SUCCESS or run.error_count or not run.fetched:
        return False
    return PullCursor.objects.filter(
        connection_id=run.connection_id,
        object_type=run.object_type,
        cursor="",
        last_completed_at__gte=run.started_at,
    ).exists()


@transaction.atomic
def pull_not_returned_mark(*, run: SyncRun, actor: Actor, now: datetime) -> int:
    """Mark the run's connection and object type's rows this pass did not read; return how many.

    One UPDATE per table, whatever their number. For contacts, the count is the sync states
    marked (each is a contact the CRM no longer holds); for other objects, the records.
    Contact states excluded: those never linked to a CRM record (no remote id), those already
    marked, and those a push wrote or holds since the pass started (the CRM may have taken
    them after the page that would list them was read). Audited once, on the run.
    """
    started = run.started_at
    states = 0
    if run.object_type == "contacts":
        states = (
            ContactSyncState.objects.filter(connection_id=run.connection_id, remote_archived=False)
            .exclude(remote_id="")
            .filter(Q(last_pulled_at__isnull=True) | Q(last_pulled_at__lt=started))
            .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=started))
            .exclude(processing_status=ProcessingStatus.PROCESSING)
            .update(remote_archived=True, remote_archived_at=now, updated_at=now)
        )
    records = RemoteRecord.objects.filter(
        connection_id=run.connection_id, object_type=run.object_type, archived=False, fetched_at__lt=started
    ).update(archived=True, archived_at=now, updated_at=now)
    marked = states if run.object_type == "contacts" else records
    if states or records:
        audit_record(
            organization=run.connection.organization,
            actor=actor,
            action=AUDIT_ACTION,
            object_type="sync_run",
            object_id=run.pk,
            changes={
                "connection": run.connection_id,
                "object_type": run.object_type,
                "contact_states_marked": states,
                "records_marked": records,
                "not_seen_since": started.isoformat(),
            },
        )
    return marked
