"""After a complete backfill: mark what the CRM did not return as gone from it, never delete it.

Brevo, Mautic, Brivity, TopProducer and REST CRMs have no feed of deleted records: a contact
deleted there simply stops being listed, and an incremental pull (which only sees changes)
can never tell. A backfill reads everything the CRM holds, so once a backfill pass has read
every page of an object type, read something and left no record out — in one run or in the
several the pull task splits it into (the pass is tracked on its PullCursor; a failed or
stopped run leaves the cursor at its last applied page, so no page is skipped) — whatever of
that connection and object type it did not touch is no longer in the CRM. It gets the marks
the archived path uses: `remote_archived` (+ `_at`) on the contact's sync state, `archived`
(+ `_at`) on the stored record. The local contact and its data stay; a record that comes back
in a later pull is un-marked by the pull itself (pull_apply sets both flags from what the CRM
sends).

"Not touched" is read from the times every pull writes on what it applies, unchanged or
not: ContactSyncState.last_pulled_at and RemoteRecord.fetched_at. Anything applied by this
pass is at or after the pass's start; anything older was not in it.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from accounts.actors import Actor
from accounts.services import audit_record
from crm_sync.models import ContactSyncState, ProcessingStatus, RemoteRecord, SyncRun

AUDIT_ACTION = "sync.pull_not_returned"


@transaction.atomic
def pull_not_returned_mark(*, run: SyncRun, pass_started: datetime, actor: Actor, now: datetime) -> int:
    """Mark the run's connection and object type's rows the pass that began at `pass_started`
    did not read; return how many. `run` ended that pass (pull.py decides when a pass counts).

    One UPDATE per table, whatever their number. For contacts, the count is the sync states
    marked (each is a contact the CRM no longer holds); for other objects, the records.
    Contact states excluded: those never linked to a CRM record (no remote id), those already
    marked, and those a push wrote or holds since the pass started (the CRM may have taken
    them after the page that would list them was read). Audited once, on the run.
    """
    started = pass_started
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
