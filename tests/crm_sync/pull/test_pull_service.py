"""The pull service against a CRM the test fills (tests/crm_sync/pull/paged.py): pages, cursor, runs."""

from datetime import UTC, datetime, timedelta

import pytest

from contacts.models import Contact
from core.errors import Conflict, InvalidInput
from crm_sync.models import ContactSyncState, PullCursor, RemoteRecord, SyncConflict, SyncRun
from crm_sync.services.payloads import contact_payload_build
from crm_sync.services.pull import PullAlreadyRunning, pull_run
from integrations.errors import CrmRateLimited, CrmUnavailable
from properties.models import PropertyDefinition
from tests.contacts.factories import ContactFactory

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


class Killed(Exception):
    """Stands for a worker killed between two pages."""


def test_a_first_pull_creates_contacts_with_their_source_states_and_records(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 8)]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS and run.direction == "pull"
    assert (run.fetched, run.created, run.updated, run.pages) == (7, 7, 0, 3)
    assert run.finished_at is not None and run.cursor_before == ""
    contact = Contact.objects.get(email="person3@example.com")
    assert (contact.first_name, contact.last_name, contact.source) == ("First3", "Pulled", "crm:paged")
    state = ContactSyncState.objects.get(contact=contact, connection=connection)
    assert state.remote_id == "3" and state.last_pulled_at is not None
    assert state.base_values["first_name"] == "First3"
    record = RemoteRecord.objects.get(connection=connection, object_type="contacts", remote_id="3")
    assert record.contact_id == contact.pk and record.raw["firstname"] == "First3"
    cursor = PullCursor.objects.get(connection=connection, object_type="contacts")
    assert cursor.cursor == "" and cursor.since == T0 + timedelta(minutes=7)
    assert run.cursor_after == f"since={cursor.since.isoformat()}"


def test_a_worker_killed_between_pages_resumes_at_the_next_page_nothing_skipped_nothing_doubled(
    connection, paged
):
    paged.records["contacts"] = [person(n) for n in range(1, 12)]  # 4 pages of 3
    paged.fail_before_page = {3: Killed("worker lost")}
    with pytest.raises(Killed):
        pull_run(connection_id=connection.pk, object_type="contacts")
    failed = SyncRun.objects.get(direction="pull")
    assert failed.outcome == SyncRun.Outcome.FAILED and failed.pages == 2 and failed.created == 6
    assert PullCursor.objects.get(connection=connection).cursor == "6"
    assert Contact.objects.count() == 6
    # the next run starts where the last committed page ended
    paged.fail_before_page = {}
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.cursor_before == "6" and run.created == 5 and run.updated == 0
    served = [remote_id for page in paged.served for remote_id in page]
    assert sorted(served, key=int) == [str(n) for n in range(1, 12)]  # each record read once
    assert Contact.objects.count() == 11
    assert ContactSyncState.objects.filter(connection=connection).count() == 11
    assert RemoteRecord.objects.filter(connection=connection).count() == 11


def test_a_page_whose_apply_fails_is_not_half_written(connection, paged, monkeypatch):
    paged.records["contacts"] = [person(n) for n in range(1, 7)]
    from crm_sync.services import pull as pull_module

    calls = {"n": 0}
    real = pull_module.page_apply_contacts

    def apply_then_die(**kwargs):
        calls["n"] += 1
        tally = real(**kwargs)
        if calls["n"] == 2:
            raise Killed("died after writing, before commit")
        return tally

    monkeypatch.setattr(pull_module, "page_apply_contacts", apply_then_die)
    with pytest.raises(Killed):
        pull_run(connection_id=connection.pk, object_type="contacts")
    assert Contact.objects.count() == 3  # page 2 rolled back with its cursor
    assert PullCursor.objects.get(connection=connection).cursor == "3"


def test_incremental_pull_reads_only_what_changed_and_updates_the_same_contact(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 5)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    # a CRM user edits contact 2, including its email
    paged.records["contacts"][1] = person(2, minutes=60, email="renamed@example.com", firstname="Edited")
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.updated == 1 and run.created == 0
    assert run.fetched <= 2  # the edited record, and the newest one at the watermark
    contact = ContactSyncState.objects.get(connection=connection, remote_id="2").contact
    assert (contact.email, contact.first_name) == ("renamed@example.com", "Edited")
    assert Contact.objects.count() == 4


def test_backfill_starts_from_no_cursor_through_the_same_path(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 5)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    run = pull_run(connection_id=connection.pk, object_type="contacts", backfill=True)
    assert run.backfill and run.fetched == 4 and run.unchanged == 4 and run.created == 0


def test_pulled_values_are_not_pushed_back_but_a_later_local_change_is(connection, paged):
    paged.records["contacts"] = [person(1)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    state = ContactSyncState.objects.select_related("contact").get(connection=connection)
    payload = contact_payload_build(contact=state.contact, connection=connection)
    assert state.pushed_hash == payload.idempotency_key  # the push sees nothing new
    # an update pulled later is not echoed either
    paged.records["contacts"] = [person(1, minutes=90, company="Pulled Co")]
    pull_run(connection_id=connection.pk, object_type="contacts")
    state.refresh_from_db()
    contact = Contact.objects.get(pk=state.contact_id)
    assert contact.company == "Pulled Co"
    assert state.pushed_hash == contact_payload_build(contact=contact, connection=connection).idempotency_key
    # a local change afterwards differs from what was pulled: it is pushed
    contact.job_title = "Changed here"
    contact.save()
    assert state.pushed_hash != contact_payload_build(contact=contact, connection=connection).idempotency_key


def test_a_contact_with_unpushed_local_changes_keeps_its_push_pending(connection, paged):
    paged.records["contacts"] = [person(1)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    state = ContactSyncState.objects.get(connection=connection)
    Contact.objects.filter(pk=state.contact_id).update(job_title="Local only")
    paged.records["contacts"] = [person(1, minutes=90, company="Remote Co")]
    pull_run(connection_id=connection.pk, object_type="contacts")
    state.refresh_from_db()
    contact = Contact.objects.get(pk=state.contact_id)
    assert contact.company == "Remote Co" and contact.job_title == "Local only"
    assert state.pushed_hash != contact_payload_build(contact=contact, connection=connection).idempotency_key


def test_contacts_match_by_remote_id_then_by_email(connection, paged, org):
    local = ContactFactory(organization=org, email="person1@example.com", first_name="")
    paged.records["contacts"] = [person(1)]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.created == 0 and run.updated == 1
    state = ContactSyncState.objects.get(connection=connection)
    assert state.contact_id == local.pk and state.remote_id == "1"
    local.refresh_from_db()
    assert local.first_name == "First1" and local.source != "crm:paged"


def test_archived_deleted_and_merged_records_are_marked_never_deleted(connection, paged):
    paged.records["contacts"] = [person(1), person(2), person(3)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    paged.records["contacts"] = [
        {**person(1, minutes=100), "archived": True},
        person(3, minutes=101, merged_ids=["2"]),
    ]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.archived == 1
    assert Contact.objects.count() == 3  # nothing deleted
    archived = ContactSyncState.objects.get(connection=connection, remote_id="1")
    assert archived.remote_archived and archived.remote_archived_at is not None
    merged = ContactSyncState.objects.get(connection=connection, remote_id="2")
    assert merged.merged_into_remote_id == "3" and merged.remote_archived
    record = RemoteRecord.objects.get(connection=connection, remote_id="2")
    assert record.merged_into_remote_id == "3" and record.archived
    assert RemoteRecord.objects.get(connection=connection, remote_id="1").archived


def test_a_merged_away_id_never_seen_points_at_the_survivor(connection, paged):
    paged.records["contacts"] = [person(5, merged_ids=["404"])]
    pull_run(connection_id=connection.pk, object_type="contacts")
    ghost = RemoteRecord.objects.get(connection=connection, remote_id="404")
    assert ghost.merged_into_remote_id == "5" and ghost.archived


def test_a_survivor_takes_over_the_contact_of_the_record_merged_into_it(connection, paged):
    paged.records["contacts"] = [person(7)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    paged.records["contacts"] = [person(8, minutes=200, email="person7@example.com", merged_ids=["7"])]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.created == 0
    state = ContactSyncState.objects.get(connection=connection)
    assert state.remote_id == "8" and not state.remote_archived
    assert RemoteRecord.objects.get(connection=connection, remote_id="7").merged_into_remote_id == "8"


def test_bad_data_is_recorded_on_the_run_and_the_rest_applied(connection, paged, org):
    PropertyDefinition.objects.create(
        organization=org,
        object_type="contacts",
        name="score",
        label="Score",
        type="number",
        field_type="number",
    )
    connection.field_mapping = {"score": "score"}
    connection.save()
    paged.records["contacts"] = [
        {"id": "1", "updated_at": T0, "firstname": "NoEmail"},
        {"id": "2", "updated_at": T0, "email": "not-an-email", "firstname": "BadEmail"},
        {"id": "3", "updated_at": None, "email": "nodate@example.com"},
        {"id": "4", "updated_at": T0, "email": "long@example.com", "firstname": "x" * 500},
        {"id": "5", "updated_at": T0, "email": "score@example.com", "score": "lots"},
        {"id": "6", "updated_at": T0, "email": "fine@example.com", "hs_unknown_field": "ignored"},
        {"id": "", "updated_at": T0, "email": "noid@example.com"},
    ]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.PARTIAL
    codes = {(e.get("remote_id", ""), e["code"]) for e in run.errors}
    assert ("1", "missing_email") in codes
    assert ("2", "invalid_email") in codes
    assert ("3", "invalid_date") in codes
    assert ("4", "oversized_value") in codes
    assert ("5", "invalid_value") in codes
    assert ("", "missing_id") in codes
    assert run.error_count == len(run.errors)
    assert run.created == 6
    assert Contact.objects.get(email="score@example.com").custom_properties == {}
    assert Contact.objects.get(email="long@example.com").first_name == ""
    assert Contact.objects.filter(first_name="BadEmail", email="").exists()
    assert "hs_unknown_field" not in Contact.objects.get(email="fine@example.com").custom_properties


def test_deals_go_to_the_record_store_linked_to_their_contact(connection, paged):
    paged.records["contacts"] = [person(1)]
    paged.records["deals"] = [
        {"id": "d1", "updated_at": T0, "name": "Big deal", "amount": "100", "contact_id": "1"},
        {"id": "d2", "updated_at": T0, "name": "Orphan", "contact_id": "999"},
    ]
    pull_run(connection_id=connection.pk, object_type="contacts")
    run = pull_run(connection_id=connection.pk, object_type="deals")
    assert (run.fetched, run.created) == (2, 2)
    deal = RemoteRecord.objects.get(connection=connection, object_type="deals", remote_id="d1")
    contact = Contact.objects.get(email="person1@example.com")
    assert deal.contact_id == contact.pk and deal.display_name == "Big deal"
    assert deal.fields["amount"] == "100" and deal.organization_id == connection.organization_id
    orphan = RemoteRecord.objects.get(remote_id="d2")
    assert orphan.contact_id is None and orphan.contact_remote_id == "999"
    # upserted: pulling again changes nothing
    again = pull_run(connection_id=connection.pk, object_type="deals", backfill=True)
    assert (again.created, again.unchanged) == (0, 2)
    assert RemoteRecord.objects.filter(object_type="deals").count() == 2


def test_a_second_pull_of_the_same_source_is_refused_while_one_runs(connection, paged):
    SyncRun.objects.create(
        connection=connection, direction="pull", object_type="contacts", outcome="running",
        started_at=datetime.now(tz=UTC), heartbeat_at=datetime.now(tz=UTC),
    )  # fmt: skip
    with pytest.raises(PullAlreadyRunning) as caught:
        pull_run(connection_id=connection.pk, object_type="contacts")
    assert caught.value.code == "pull_running"
    # another object type of the same connection is not blocked
    assert pull_run(connection_id=connection.pk, object_type="deals").outcome == "success"


def test_a_running_pull_with_no_heartbeat_for_long_is_taken_for_dead(connection, paged, settings):
    settings.SYNC_PULL_STALE_SECONDS = 60
    old = datetime.now(tz=UTC) - timedelta(hours=1)
    dead = SyncRun.objects.create(
        connection=connection, direction="pull", object_type="contacts", outcome="running",
        started_at=old, heartbeat_at=old,
    )  # fmt: skip
    paged.records["contacts"] = [person(1)]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    dead.refresh_from_db()
    assert dead.outcome == SyncRun.Outcome.ABANDONED and run.outcome == "success"


def test_a_crm_outage_is_retried_from_the_saved_cursor(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 7)]
    paged.fail_before_page = {2: CrmUnavailable("down", crm="paged")}
    waits = []
    run = pull_run(connection_id=connection.pk, object_type="contacts", sleep=waits.append)
    # the retry starts a fresh read at the saved cursor: its first page is the one that failed
    assert run.outcome == SyncRun.Outcome.SUCCESS and len(waits) == 1
    assert Contact.objects.count() == 6 and run.created == 6
    assert [len(page) for page in paged.served] == [3, 3]


def test_past_its_retries_a_failing_crm_ends_the_run_and_keeps_the_cursor(connection, paged, settings):
    settings.SYNC_PULL_PAGE_RETRIES = 2
    paged.records["contacts"] = [person(n) for n in range(1, 7)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    cursor_before = PullCursor.objects.get(connection=connection).since
    paged.fail_before_page = {1: CrmRateLimited("slow down", crm="paged", retry_after=1)}
    waits = []
    run = pull_run(connection_id=connection.pk, object_type="contacts", sleep=waits.append)
    assert run.outcome == SyncRun.Outcome.RATE_LIMITED and waits == [0, 0]
    assert run.errors[-1]["code"] == "rate_limited" and run.error_count == 1
    assert PullCursor.objects.get(connection=connection).since == cursor_before


def test_an_object_type_the_connector_cannot_pull_is_bad_usage(connection):
    with pytest.raises(InvalidInput):
        pull_run(connection_id=connection.pk, object_type="projects")
    assert not SyncRun.objects.exists()


def test_manual_review_records_a_conflict_and_keeps_the_local_value(connection, paged):
    connection.conflict_strategy = "manual_review"
    connection.save()
    paged.records["contacts"] = [person(1)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    contact = Contact.objects.get()
    Contact.objects.filter(pk=contact.pk).update(first_name="LocalEdit")
    paged.records["contacts"] = [person(1, minutes=50, firstname="RemoteEdit", company="NewCo")]
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.conflicts == 1
    contact.refresh_from_db()
    assert contact.first_name == "LocalEdit" and contact.company == "NewCo"
    conflict = SyncConflict.objects.get()
    assert conflict.fields["first_name"] == {"base": "First1", "local": "LocalEdit", "remote": "RemoteEdit"}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"enabled": False}, "crm_not_enabled"),
        ({"circuit_state": "open"}, "crm_paused"),
        ({"sync_direction": "push"}, "crm_push_only"),
    ],
)
def test_a_disabled_paused_or_push_only_connection_is_not_pulled(connection, paged, change, code):
    paged.records["contacts"] = [person(1)]
    for name, value in change.items():
        setattr(connection, name, value)
    connection.save()
    with pytest.raises(Conflict) as caught:
        pull_run(connection_id=connection.pk, object_type="contacts")
    assert caught.value.code == code
    assert not SyncRun.objects.exists() and not Contact.objects.exists()


def test_refused_credentials_open_the_circuit_and_end_the_run(connection, paged):
    from integrations.errors import CrmAuthError

    paged.fail_before_page = {1: CrmAuthError("token revoked", crm="paged")}
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.FAILED and run.errors[-1]["code"] == "auth"
    connection.refresh_from_db()
    assert connection.circuit_state == "open"
