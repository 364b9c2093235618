"""A complete backfill marks what the CRM no longer returns (deleted there), never deletes it.

Against the paged test CRM (tests/crm_sync/pull/paged.py); the Brevo sandbox over real HTTP is
in test_pull_sandbox.py.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from contacts.models import Contact
from crm_sync.models import ContactSyncState, ProcessingStatus, RemoteRecord, SyncRun, SyncStatus
from crm_sync.services.pull import pull_run
from crm_sync.services.pull_unseen import AUDIT_ACTION
from integrations.errors import CrmUnavailable
from tests.contacts.factories import ContactFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person(n: int, *, minutes: int | None = None, **extra) -> dict:
    return {
        "id": str(n),
        "updated_at": T0 + timedelta(minutes=n if minutes is None else minutes),
        "email": f"person{n}@example.com",
        "firstname": f"First{n}",
        "lastname": "Pulled",
        **extra,
    }


def deal(n: int, **extra) -> dict:
    return {"id": f"d{n}", "updated_at": T0 + timedelta(minutes=n), "dealname": f"Deal {n}", **extra}


def state(connection, remote_id: str) -> ContactSyncState:
    return ContactSyncState.objects.get(connection=connection, remote_id=remote_id)


def record(connection, remote_id: str, object_type: str = "contacts") -> RemoteRecord:
    return RemoteRecord.objects.get(connection=connection, object_type=object_type, remote_id=remote_id)


def marks(connection) -> set[str]:
    return set(
        ContactSyncState.objects.filter(connection=connection, remote_archived=True).values_list(
            "remote_id", flat=True
        )
    )


def audits():
    return AuditEvent.objects.filter(action=AUDIT_ACTION)


@pytest.fixture
def pulled(connection, paged):
    """Five contacts pulled once; then the CRM deletes contact 3."""
    paged.records["contacts"] = [person(n) for n in range(1, 6)]
    first = pull_run(connection_id=connection.pk, object_type="contacts")
    assert first.outcome == SyncRun.Outcome.SUCCESS and first.created == 5
    paged.records["contacts"] = [p for p in paged.records["contacts"] if p["id"] != "3"]
    return connection


def test_a_backfill_marks_a_contact_the_crm_no_longer_returns_and_keeps_its_data(pulled, paged):
    contact = Contact.objects.get(email="person3@example.com")
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert run.outcome == SyncRun.Outcome.SUCCESS and run.backfill
    assert (run.fetched, run.unchanged, run.archived) == (4, 4, 1)
    assert marks(pulled) == {"3"}
    gone = state(pulled, "3")
    assert gone.remote_archived_at is not None and gone.remote_archived_at >= run.started_at
    assert gone.merged_into_remote_id == "" and gone.contact_id == contact.pk
    stored = record(pulled, "3")
    assert stored.archived and stored.archived_at == gone.remote_archived_at
    assert stored.raw["firstname"] == "First3"  # the record as the CRM last sent it, kept
    kept = Contact.objects.get(pk=contact.pk)
    assert (kept.email, kept.first_name, kept.last_name) == ("person3@example.com", "First3", "Pulled")
    assert Contact.objects.count() == 5 and RemoteRecord.objects.count() == 5
    assert not RemoteRecord.objects.filter(archived=True).exclude(remote_id="3").exists()
    (event,) = audits()
    assert event.object_type == "sync_run" and event.object_id == str(run.pk)
    assert event.changes["contact_states_marked"] == 1 and event.changes["records_marked"] == 1
    assert event.changes["object_type"] == "contacts" and event.actor_type == "system"
    # a second backfill finds nothing new to mark: no count, no audit
    again = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert again.archived == 0 and audits().count() == 1
    assert state(pulled, "3").remote_archived_at == gone.remote_archived_at


def test_an_incremental_pull_never_marks_what_it_did_not_see(pulled, paged):
    run = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS and not run.backfill
    assert run.archived == 0 and marks(pulled) == set() and not audits().exists()
    assert not RemoteRecord.objects.filter(archived=True).exists()


def test_a_contact_that_reappears_in_a_later_pull_is_unmarked(pulled, paged):
    pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert marks(pulled) == {"3"}
    # restored in the CRM (its modified time moves): the next incremental pull reads it
    paged.records["contacts"].append(person(3, minutes=60, firstname="Restored"))
    run = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS and run.archived == 0
    back = state(pulled, "3")
    assert not back.remote_archived and back.remote_archived_at is None
    stored = record(pulled, "3")
    assert not stored.archived and stored.archived_at is None
    assert Contact.objects.get(pk=back.contact_id).first_name == "Restored"
    assert Contact.objects.count() == 5


def test_a_contact_seen_unchanged_by_the_backfill_has_its_seen_time_refreshed(pulled, paged):
    before = state(pulled, "2").last_pulled_at, record(pulled, "2").fetched_at
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert run.unchanged == 4
    assert state(pulled, "2").last_pulled_at >= run.started_at > before[0]
    assert record(pulled, "2").fetched_at >= run.started_at > before[1]


@pytest.mark.parametrize("failure", ["crm_error", "worker_killed"])
def test_a_backfill_interrupted_by_a_failure_marks_when_the_next_run_ends_its_pass(
    pulled, paged, settings, failure
):
    settings.SYNC_PULL_PAGE_RETRIES = 0
    error = CrmUnavailable("down") if failure == "crm_error" else RuntimeError("worker lost")
    paged.fail_before_page = {2: error}
    if failure == "crm_error":
        run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
        assert run.outcome == SyncRun.Outcome.FAILED and run.archived == 0
    else:
        with pytest.raises(RuntimeError):
            pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
        assert SyncRun.objects.get(backfill=True).outcome == SyncRun.Outcome.FAILED
    assert marks(pulled) == set() and not audits().exists()
    assert not RemoteRecord.objects.filter(archived=True).exists()
    # The next run resumes at the page that failed (the cursor never moves past a page that
    # was not applied): together the two read the whole pass, so what it did not return is marked.
    paged.fail_before_page = {}
    rest = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert rest.outcome == SyncRun.Outcome.SUCCESS and not rest.backfill
    assert rest.archived == 1 and marks(pulled) == {"3"} and record(pulled, "3").archived
    assert audits().get().object_id == str(rest.pk)


def test_a_backfill_split_at_its_time_budget_marks_when_its_last_run_ends_the_pass(pulled, paged):
    """What the pull task does with a big backfill: one run per SYNC_PULL_TASK_MAX_SECONDS, the
    next ones carrying on from the cursor (backfill=False)."""
    started = timezone.now()
    first = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True, max_seconds=1e-9)
    assert first.outcome == SyncRun.Outcome.PARTIAL and first.pages == 1
    assert first.archived == 0 and marks(pulled) == set() and not audits().exists()
    rest = pull_run(connection_id=pulled.pk, object_type="contacts", max_seconds=1e-9)
    assert rest.outcome == SyncRun.Outcome.SUCCESS and rest.pages == 1 and rest.archived == 1
    assert marks(pulled) == {"3"}
    # Contacts 1 and 2 were read by the first run only: the pass's start counts, not the run's.
    assert not state(pulled, "1").remote_archived and not state(pulled, "2").remote_archived
    assert audits().get().changes["not_seen_since"] >= started.isoformat()
    # The next pass is incremental: it marks nothing more.
    again = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert again.archived == 0 and audits().count() == 1


def test_a_split_backfill_with_a_record_left_out_in_an_earlier_run_marks_nothing(pulled, paged):
    # the record the pull cannot take (no id) is on the first page, read by the first run
    paged.records["contacts"].insert(0, {"id": None, "updated_at": T0, "email": "x@example.com"})
    first = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True, max_seconds=1e-9)
    assert first.error_count == 1 and first.pages == 1
    rest = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert rest.outcome == SyncRun.Outcome.SUCCESS and rest.error_count == 0
    assert rest.archived == 0 and marks(pulled) == set() and not audits().exists()


def test_an_incremental_pass_split_over_runs_marks_nothing(pulled, paged):
    paged.records["contacts"] = [person(n, minutes=100 + n) for n in (1, 2, 4, 5, 6, 7, 8)]
    first = pull_run(connection_id=pulled.pk, object_type="contacts", max_seconds=1e-9)
    assert first.outcome == SyncRun.Outcome.PARTIAL
    rest = pull_run(connection_id=pulled.pk, object_type="contacts")
    assert rest.outcome == SyncRun.Outcome.SUCCESS
    assert first.archived == rest.archived == 0 and marks(pulled) == set()


def test_a_backfill_with_a_record_left_out_marks_nothing(pulled, paged):
    # one record the pull cannot take (no id): the run is partial, the pass is not trusted
    paged.records["contacts"].append({"id": None, "updated_at": T0, "email": "x@example.com"})
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert run.outcome == SyncRun.Outcome.PARTIAL and run.error_count == 1
    assert run.archived == 0 and marks(pulled) == set()


def test_a_backfill_that_reads_nothing_marks_nothing(pulled, paged):
    # an empty answer is likelier a wrong account or list than every contact deleted
    paged.records["contacts"] = []
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert run.outcome == SyncRun.Outcome.SUCCESS and run.fetched == 0
    assert run.archived == 0 and marks(pulled) == set()


def test_only_states_the_crm_held_before_the_pass_are_marked(org, pulled, paged):
    at = timezone.now() - timedelta(days=1)

    def linked(email: str, remote_id: str, **values) -> ContactSyncState:
        defaults = {
            "sync_status": SyncStatus.COMPLETE,
            "processing_status": ProcessingStatus.COMPLETE,
            "last_synced_at": at,
        }
        return ContactSyncState.objects.create(
            contact=ContactFactory(organization=org, email=email),
            connection=pulled,
            remote_id=remote_id,
            **{**defaults, **values},
        )

    pushed_gone = linked("pushed@example.com", "77")  # pushed once, deleted in the CRM since
    never_sent = linked("queued@example.com", "", sync_status=SyncStatus.QUEUED)
    in_flight = linked("flight@example.com", "78", processing_status=ProcessingStatus.PROCESSING)
    pushed_during = linked("during@example.com", "79")

    def push_lands_mid_pass(run, tally):
        # a push writes back while the pass walks: the CRM may list it after the page read
        ContactSyncState.objects.filter(pk=pushed_during.pk).update(last_synced_at=timezone.now())

    run = pull_run(
        connection_id=pulled.pk, object_type="contacts", backfill=True, progress=push_lands_mid_pass
    )
    assert run.archived == 2 and marks(pulled) == {"3", "77"}
    for kept in (never_sent, in_flight, pushed_during):
        kept.refresh_from_db()
        assert not kept.remote_archived and kept.remote_archived_at is None
    pushed_gone.refresh_from_db()
    assert pushed_gone.remote_archived and Contact.objects.filter(pk=pushed_gone.contact_id).exists()


def test_another_connection_and_another_object_type_are_untouched(org, pulled, paged):
    other = CrmConnectionFactory(organization=org, kind="paged", base_url="https://other.invalid")
    theirs = ContactSyncState.objects.create(
        contact=Contact.objects.get(email="person3@example.com"), connection=other, remote_id="3",
        sync_status=SyncStatus.COMPLETE, last_synced_at=T0,
    )  # fmt: skip
    RemoteRecord.objects.create(
        organization=org, connection=other, object_type="contacts", remote_id="3", fetched_at=T0
    )
    paged.records["deals"] = [deal(1), deal(2)]
    pull_run(connection_id=pulled.pk, object_type="deals")
    paged.records["deals"] = [deal(1)]  # deal 2 deleted in the CRM
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    assert run.archived == 1 and marks(pulled) == {"3"}
    theirs.refresh_from_db()
    assert not theirs.remote_archived
    assert not record(other, "3").archived
    assert not RemoteRecord.objects.filter(object_type="deals", archived=True).exists()
    # the deals backfill marks the deal, and only it
    deals = pull_run(connection_id=pulled.pk, object_type="deals", backfill=True)
    assert deals.outcome == SyncRun.Outcome.SUCCESS and deals.archived == 1
    assert record(pulled, "d2", "deals").archived and not record(pulled, "d1", "deals").archived
    assert marks(pulled) == {"3"} and not record(other, "3").archived
    assert RemoteRecord.objects.filter(object_type="deals").count() == 2
    assert audits().count() == 2


@pytest.mark.parametrize("gone", [2, 20])
def test_marking_is_one_update_per_table_whatever_the_number(connection, paged, gone, monkeypatch):
    from crm_sync.services import pull as pull_module

    paged.records["contacts"] = [person(n) for n in range(1, gone + 3)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    paged.records["contacts"] = paged.records["contacts"][:2]
    real, captured = pull_module.pull_not_returned_mark, []

    def watched(**kwargs):
        with CaptureQueriesContext(db_connection) as queries:
            marked = real(**kwargs)
        captured.extend(q["sql"] for q in queries.captured_queries)
        return marked

    monkeypatch.setattr(pull_module, "pull_not_returned_mark", watched)
    run = pull_run(connection_id=connection.pk, object_type="contacts", backfill=True)
    assert run.archived == gone and marks(connection) == {str(n) for n in range(3, gone + 3)}
    statements = [
        sql.split(" ", 2)[:2] for sql in captured if not sql.upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    # one UPDATE of the states, one of the records, one audit row: never one per contact
    assert statements == [
        ["UPDATE", '"crm_sync_contactsyncstate"'],
        ["UPDATE", '"crm_sync_remoterecord"'],
        ["INSERT", "INTO"],
    ]


def test_the_run_api_shows_the_count(api_client, pulled, paged):
    run = pull_run(connection_id=pulled.pk, object_type="contacts", backfill=True)
    row = api_client.get(f"/api/v1/sync-runs/{run.pk}/").json()
    assert row["archived"] == 1 and row["backfill"] is True and row["outcome"] == "success"
