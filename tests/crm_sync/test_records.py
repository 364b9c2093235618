"""Two-way records of REST CRMs: the record API, the push queue, actions, and the pull's merge."""

from datetime import timedelta

import pytest
from django.utils import timezone
from responses import matchers

from accounts.actors import Actor
from accounts.models import AuditEvent, Scope
from crm_sync.models import ProcessingStatus, RecordSyncState, RemoteRecord
from crm_sync.services.pull_apply import PullContext, page_apply_records
from crm_sync.services.record_push import record_push_batch, record_states_claim, record_states_reap
from crm_sync.services.records import record_update
from integrations.connectors.base import RemoteRecord as PulledRecord
from integrations.models import CrmConnection

BASE = "https://crm.example.test"
TASKS = f"{BASE}/api/v1/tasks"
TASK_MAP = {
    "title": "title",
    "status": "status",
    "assignee_id": "assignee_id",
    "priority": "priority",
    "due": "dueDate",
}


@pytest.fixture
def connection(org):
    return CrmConnection.objects.create(
        organization=org,
        kind="rest",
        name="Project CRM",
        base_url=BASE,
        credentials={"api_key": "key-0123456789"},
        settings={"field_maps": {"tasks": TASK_MAP}, "rate_limits": {"default": None}},
        conflict_strategy="remote_wins",
        max_retries=3,
        retry_base_seconds=10,
        retry_cap_seconds=600,
    )


def make_record(connection, remote_id="17", object_type="tasks", **fields):
    values = {
        "title": "Write docs",
        "status": "todo",
        "assignee_id": 3,
        "priority": "low",
        "due": None,
        **fields,
    }
    return RemoteRecord.objects.create(
        organization=connection.organization,
        connection=connection,
        object_type=object_type,
        remote_id=remote_id,
        fields=values,
        raw={"id": int(remote_id), **values},
        display_name=values.get("title", ""),
        remote_updated_at=timezone.now() - timedelta(hours=1),
        fetched_at=timezone.now(),
    )


@pytest.fixture
def task(connection):
    return make_record(connection)


def url(record) -> str:
    return f"/api/v1/integrations/records/{record.pk}/"


class TestRecordApi:
    def test_get_shows_the_record_its_source_and_no_sync_state(self, make_api_client, org, task):
        response = make_api_client(org, scopes=[Scope.READ]).get(url(task))
        assert response.status_code == 200
        body = response.json()
        assert body["fields"]["title"] == "Write docs"
        assert body["source"] == {"connection_id": task.connection_id, "kind": "rest", "name": "Project CRM"}
        assert body["sync"]["status"] is None and body["sync"]["pending_fields"] == {}

    def test_another_organizations_record_is_a_404(self, make_api_client, other_org, task):
        client = make_api_client(other_org)
        assert client.get(url(task)).status_code == 404
        response = client.patch(url(task), {"title": "x"}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "record_not_found"
        assert (
            client.post(f"{url(task)}actions/assign/", {"assignee_id": 1}, format="json").status_code == 404
        )

    def test_patch_needs_the_write_scope(self, make_api_client, org, task):
        response = make_api_client(org, scopes=[Scope.READ]).patch(url(task), {"title": "x"}, format="json")
        assert response.status_code == 403
        task.refresh_from_db()
        assert task.fields["title"] == "Write docs"

    def test_patch_changes_the_record_and_queues_it(self, make_api_client, org, task):
        response = make_api_client(org, scopes=[Scope.WRITE]).patch(
            url(task), {"title": "Write better docs", "priority": "high"}, format="json"
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["fields"]["title"] == "Write better docs"
        assert body["sync"]["status"] == "Queued"
        assert body["sync"]["pending_fields"] == {"title": "Write better docs", "priority": "high"}
        state = RecordSyncState.objects.get(record=task)
        assert state.base_values == {"title": "Write docs", "priority": "low"}
        assert AuditEvent.objects.filter(action="record.update", object_id=str(task.pk)).exists()

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"colour": "red"}, "colour"),  # not in the field map
            ({"id": 5}, "id"),  # owned by the CRM
            ({"assignee_id": "three"}, "assignee_id"),  # a number must stay a number
            ({"title": 5}, "title"),  # a string must stay a string
            ({"due": {"nested": True}}, "due"),  # a null field takes scalars only
        ],
    )
    def test_unknown_fields_and_wrong_types_are_400_and_nothing_changes(
        self, api_client, task, changes, field
    ):
        response = api_client.patch(url(task), changes, format="json")
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error" and field in body["details"]
        task.refresh_from_db()
        assert task.fields["title"] == "Write docs"
        assert not RecordSyncState.objects.exists()

    def test_an_empty_body_is_400(self, api_client, task):
        response = api_client.patch(url(task), {}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "validation_error"

    def test_records_of_read_only_types_cannot_be_changed(self, api_client, connection):
        deal = make_record(connection, remote_id="9", object_type="deals")
        response = api_client.patch(url(deal), {"title": "x"}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "record_read_only"

    def test_a_pull_only_connection_refuses_changes(self, api_client, connection, task):
        connection.sync_direction = CrmConnection.SyncDirection.PULL
        connection.save()
        response = api_client.patch(url(task), {"title": "x"}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "connection_pull_only"

    def test_without_a_field_map_the_records_own_fields_are_writable(self, api_client, connection):
        project = make_record(connection, remote_id="4", object_type="projects", name="Relaunch")
        assert api_client.patch(url(project), {"name": "Relaunch 2"}, format="json").status_code == 200
        response = api_client.patch(url(project), {"created_at": "2020-01-01"}, format="json")
        assert response.status_code == 400

    def test_actions_need_the_write_scope_and_a_known_action(self, make_api_client, org, task):
        reader = make_api_client(org, scopes=[Scope.READ])
        assert (
            reader.post(f"{url(task)}actions/assign/", {"assignee_id": 5}, format="json").status_code == 403
        )
        writer = make_api_client(org, scopes=[Scope.WRITE])
        response = writer.post(f"{url(task)}actions/archive/", {}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "unknown_action"
        response = writer.post(f"{url(task)}actions/assign/", {"assignee_id": -1}, format="json")
        assert response.status_code == 400 and "assignee_id" in response.json()["details"]
        response = writer.post(f"{url(task)}actions/status/", {"status": ""}, format="json")
        assert response.status_code == 400 and "status" in response.json()["details"]
        assert not RecordSyncState.objects.exists()

    def test_an_action_on_a_project_is_400(self, api_client, connection):
        project = make_record(connection, remote_id="4", object_type="projects", name="Relaunch")
        response = api_client.post(f"{url(project)}actions/assign/", {"assignee_id": 5}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "unknown_action"

    def test_an_action_shows_its_value_and_is_queued(self, api_client, task):
        response = api_client.post(f"{url(task)}actions/assign/", {"assignee_id": 5}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["fields"]["assignee_id"] == 5
        assert body["sync"]["pending_actions"] == {"assign": {"assignee_id": 5}}
        assert body["sync"]["status"] == "Queued"

    def test_get_costs_a_fixed_number_of_queries(self, api_client, task, django_assert_max_num_queries):
        record_update(record=task, changes={"title": "x"}, actor=Actor.system("test"))
        with django_assert_max_num_queries(6):
            assert api_client.get(url(task)).status_code == 200


def queued(task, **changes):
    record_update(record=task, changes=changes, actor=Actor.system("test"))
    return RecordSyncState.objects.get(record=task)


class TestPush:
    def test_a_change_is_patched_with_remote_names_and_completes(self, connection, task, mocked_responses):
        queued(task, title="New", due="2026-02-01")
        mocked_responses.patch(
            f"{TASKS}/17",
            json={"id": 17, "title": "New"},
            match=[matchers.json_params_matcher({"title": "New", "dueDate": "2026-02-01"})],
        )
        assert record_push_batch(connection_id=connection.pk) == {"claimed": 1, "succeeded": 1, "failed": 0}
        state = RecordSyncState.objects.get(record=task)
        assert state.processing_status == ProcessingStatus.COMPLETE
        assert state.pending_values == {} and state.retry_count == 0
        assert state.base_values["title"] == "New"
        assert state.last_request["method"] == "PATCH" and state.last_synced_at is not None

    def test_put_connections_send_the_whole_record(self, connection, task, mocked_responses):
        connection.settings = {**connection.settings, "contacts": {"update_method": "PUT"}}
        connection.save()
        queued(task, status="done")
        expected = {"title": "Write docs", "status": "done", "assignee_id": 3, "priority": "low", "due": None}
        mocked_responses.put(f"{TASKS}/17", json={"id": 17}, match=[matchers.json_params_matcher(expected)])
        assert record_push_batch(connection_id=connection.pk)["succeeded"] == 1

    def test_actions_call_the_action_endpoints(self, api_client, connection, task, mocked_responses):
        api_client.post(f"{url(task)}actions/assign/", {"assignee_id": 5}, format="json")
        api_client.post(f"{url(task)}actions/status/", {"status": "in_progress"}, format="json")
        mocked_responses.patch(
            f"{TASKS}/17/assign", json={"id": 17}, match=[matchers.json_params_matcher({"assignee_id": 5})]
        )
        mocked_responses.patch(
            f"{TASKS}/17/status",
            json={"id": 17},
            match=[matchers.json_params_matcher({"status": "in_progress"})],
        )
        assert record_push_batch(connection_id=connection.pk)["succeeded"] == 1
        state = RecordSyncState.objects.get(record=task)
        assert state.pending_actions == {} and state.processing_status == ProcessingStatus.COMPLETE

    def test_a_retriable_failure_backs_off_and_counts_an_attempt(self, connection, task, mocked_responses):
        queued(task, title="New")
        mocked_responses.patch(f"{TASKS}/17", status=503, json={"error": "down"})
        assert record_push_batch(connection_id=connection.pk)["failed"] == 1
        state = RecordSyncState.objects.get(record=task)
        assert state.processing_status == ProcessingStatus.QUEUED
        assert state.retry_count == 1 and state.error_category == "unavailable"
        assert state.next_retry_at is not None and state.due_at == state.next_retry_at
        assert state.next_retry_at > state.last_retry_at
        assert state.pending_values == {"title": "New"}
        # not due yet: the next batch claims nothing
        assert record_push_batch(connection_id=connection.pk)["claimed"] == 0

    def test_max_retries_end_in_error(self, connection, task, mocked_responses):
        state = queued(task, title="New")
        RecordSyncState.objects.filter(pk=state.pk).update(retry_count=2)
        mocked_responses.patch(f"{TASKS}/17", status=503, json={"error": "down"})
        record_push_batch(connection_id=connection.pk)
        state.refresh_from_db()
        assert state.processing_status == ProcessingStatus.ERROR and state.retry_count == 3
        assert state.next_retry_at is None

    def test_a_permanent_failure_is_an_error_with_the_crms_message(self, connection, task, mocked_responses):
        queued(task, title="New")
        mocked_responses.patch(
            f"{TASKS}/17",
            status=400,
            json={"error": "title too short", "code": "validation_error", "details": {}},
        )
        record_push_batch(connection_id=connection.pk)
        state = RecordSyncState.objects.get(record=task)
        assert state.processing_status == ProcessingStatus.ERROR
        assert state.error_category == "validation" and "title too short" in state.error
        assert state.last_response is not None

    def test_a_rate_limit_requeues_without_counting_an_attempt(self, connection, task, mocked_responses):
        other = make_record(connection, remote_id="18")
        queued(task, title="New")
        queued(other, title="Other")
        mocked_responses.patch(
            f"{TASKS}/17", status=429, json={"error": "slow down"}, headers={"Retry-After": "30"}
        )
        counts = record_push_batch(connection_id=connection.pk)
        assert counts == {"claimed": 2, "succeeded": 0, "failed": 2}  # the 429 holds for the batch
        for state in RecordSyncState.objects.all():
            assert state.processing_status == ProcessingStatus.QUEUED and state.retry_count == 0
            assert state.due_at > timezone.now() + timedelta(seconds=20)

    def test_a_change_made_during_the_push_is_queued_again(self, connection, task, mocked_responses):
        queued(task, title="First")
        [claimed] = record_states_claim(connection_id=connection.pk, limit=10, token="t1", now=timezone.now())
        state = queued(task, title="Second")
        assert state.processing_status == ProcessingStatus.PROCESSING  # the claim stands
        from crm_sync.services.record_push import _write_back

        _write_back(
            state=claimed,
            token="t1",
            now=timezone.now(),
            sent_values={"title": "First"},
            sent_actions={},
            exchanges=[],
            error=None,
        )
        state.refresh_from_db()
        assert state.processing_status == ProcessingStatus.QUEUED
        assert state.pending_values == {"title": "Second"} and state.base_values["title"] == "First"

    def test_a_claim_is_exclusive(self, connection, task):
        queued(task, title="New")
        now = timezone.now()
        first = record_states_claim(connection_id=connection.pk, limit=10, token="a", now=now)
        second = record_states_claim(connection_id=connection.pk, limit=10, token="b", now=now)
        assert len(first) == 1 and second == []

    def test_the_reaper_returns_stuck_records_then_gives_up(self, connection, task):
        state = queued(task, title="New")
        long_ago = timezone.now() - timedelta(hours=1)
        record_states_claim(connection_id=connection.pk, limit=10, token="dead", now=timezone.now())
        RecordSyncState.objects.filter(pk=state.pk).update(claimed_at=long_ago)
        assert record_states_reap(lease_seconds=60) == {"requeued": 1, "errored": 0}
        state.refresh_from_db()
        assert state.processing_status == ProcessingStatus.QUEUED and state.retry_count == 1
        RecordSyncState.objects.filter(pk=state.pk).update(retry_count=2)
        record_states_claim(connection_id=connection.pk, limit=10, token="dead2", now=timezone.now())
        RecordSyncState.objects.filter(pk=state.pk).update(claimed_at=long_ago)
        assert record_states_reap(lease_seconds=60) == {"requeued": 0, "errored": 1}
        state.refresh_from_db()
        assert state.processing_status == ProcessingStatus.ERROR and state.error_category == "worker_lost"

    def test_another_connections_records_are_not_claimed(self, org, connection, task):
        other = CrmConnection.objects.create(
            organization=org, kind="rest", name="other", base_url=BASE, credentials={"api_key": "k" * 12}
        )
        queued(task, title="New")
        assert record_states_claim(connection_id=other.pk, limit=10, token="x", now=timezone.now()) == []


def pull_page(connection, *records):
    ctx = PullContext(
        connection=connection,
        object_type="tasks",
        field_mapping={},
        definitions={},
        now=timezone.now(),
        actor=Actor.system("pull"),
    )
    return page_apply_records(records=list(records), ctx=ctx)


def pulled(remote_id="17", minutes_ago=0, **fields):
    values = {
        "title": "Write docs",
        "status": "todo",
        "assignee_id": 3,
        "priority": "low",
        "due": None,
        **fields,
    }
    return PulledRecord(
        remote_id=remote_id,
        object_type="tasks",
        properties=values,
        updated_at=timezone.now() - timedelta(minutes=minutes_ago),
        raw={"id": int(remote_id), **values},
    )


class TestPullMeetsPendingChange:
    def test_a_field_changed_only_in_the_crm_is_taken_and_the_local_change_kept(self, connection, task):
        queued(task, title="Local title")
        pull_page(connection, pulled(status="blocked"))
        task.refresh_from_db()
        assert task.fields["status"] == "blocked" and task.fields["title"] == "Local title"
        state = RecordSyncState.objects.get(record=task)
        assert state.pending_values == {"title": "Local title"}
        assert state.processing_status == ProcessingStatus.QUEUED

    def test_remote_wins_drops_the_pending_change(self, connection, task):
        queued(task, title="Local title")
        pull_page(connection, pulled(title="CRM title"))
        task.refresh_from_db()
        assert task.fields["title"] == "CRM title"
        state = RecordSyncState.objects.get(record=task)
        assert state.pending_values == {} and state.processing_status == ProcessingStatus.COMPLETE

    def test_local_wins_keeps_the_change_and_moves_the_base(self, connection, task):
        connection.conflict_strategy = "local_wins"
        connection.save()
        queued(task, title="Local title")
        pull_page(connection, pulled(title="CRM title"))
        task.refresh_from_db()
        assert task.fields["title"] == "Local title"
        state = RecordSyncState.objects.get(record=task)
        assert state.pending_values == {"title": "Local title"} and state.base_values["title"] == "CRM title"
        assert state.processing_status == ProcessingStatus.QUEUED

    def test_manual_review_holds_the_push_until_a_patch_decides(self, api_client, connection, task):
        connection.conflict_strategy = "manual_review"
        connection.save()
        queued(task, title="Local title")
        pull_page(connection, pulled(title="CRM title"))
        body = api_client.get(url(task)).json()
        assert body["fields"]["title"] == "Local title"
        assert body["sync"]["status"] == "Error" and body["sync"]["error_category"] == "conflict"
        assert body["sync"]["conflict_fields"]["title"] == {
            "base": "Write docs",
            "local": "Local title",
            "remote": "CRM title",
        }
        assert record_push_batch(connection_id=connection.pk)["claimed"] == 0
        body = api_client.patch(url(task), {"title": "Decided"}, format="json").json()
        assert body["sync"]["status"] == "Queued" and body["sync"]["conflict_fields"] == {}

    def test_a_record_without_local_changes_is_simply_updated(self, connection, task):
        pull_page(connection, pulled(title="CRM title"))
        task.refresh_from_db()
        assert task.fields["title"] == "CRM title"
        assert not RecordSyncState.objects.exists()


def test_the_push_dispatcher_starts_a_record_push_per_connection_with_due_records(
    connection, task, monkeypatch
):
    from crm_sync import tasks

    started = []
    monkeypatch.setattr(tasks.push_records, "apply_async", lambda kwargs, **options: started.append(kwargs))
    monkeypatch.setattr("crm_sync.services.dispatch.pushes_dispatch_due", lambda: {})
    tasks.dispatch_due_pushes.run()
    assert started == []
    queued(task, title="New")
    tasks.dispatch_due_pushes.run()
    assert started == [{"connection_id": connection.pk}]
