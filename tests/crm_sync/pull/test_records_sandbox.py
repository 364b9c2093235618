"""Two-way records against the REST sandbox over real HTTP: pull tasks, change one through the API,
run seed 002's actions, push, and read the CRM's own copy back."""

import pytest

from accounts.models import Scope
from crm_sync.models import ProcessingStatus, RecordSyncState, RemoteRecord
from crm_sync.services.pull import pull_run
from crm_sync.services.record_push import record_push_batch
from integrations.models import CrmConnection
from sandbox.demo import demo_connections
from tests.integrations.rest.sandbox_support import Sandbox, require_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    require_sandbox("REST", "/sandbox/rest/api/v1/health")


@pytest.fixture
def sandbox(live_server):
    box = Sandbox(live_server.url, "rest")
    box.reset()
    return box


@pytest.fixture
def connection(live_server, org):
    values = demo_connections(f"{live_server.url}/sandbox")["rest"]
    return CrmConnection.objects.create(
        organization=org,
        kind="rest",
        name="Project CRM",
        base_url=values["base_url"],
        credentials=values["credentials"],
        settings={
            **values["settings"],
            "read_timeout": 10,
            "field_maps": {
                "tasks": {
                    "title": "title",
                    "status": "status",
                    "assignee_id": "assignee_id",
                    "due": "due_date",
                }
            },
        },
        conflict_strategy="remote_wins",
    )


def test_a_task_changed_here_and_its_actions_reach_the_crm(sandbox, connection, make_api_client, org):
    [user_id] = sandbox.seed("users", [{"name": "Grace", "email": "grace@example.com"}])
    [task_id] = sandbox.seed(
        "tasks",
        [{"title": "API Integration Task", "status": "todo", "assignee_id": None, "due_date": "2025-10-15"}],
    )
    pull_run(connection_id=connection.pk, object_type="tasks")
    record = RemoteRecord.objects.get(connection=connection, object_type="tasks", remote_id=str(task_id))
    client = make_api_client(org, scopes=[Scope.READ, Scope.WRITE])

    response = client.patch(
        f"/api/v1/integrations/records/{record.pk}/",
        {"title": "API task", "due": "2025-11-01"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (
        client.post(
            f"/api/v1/integrations/records/{record.pk}/actions/assign/",
            {"assignee_id": user_id},
            format="json",
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/integrations/records/{record.pk}/actions/status/",
            {"status": "in_progress"},
            format="json",
        ).status_code
        == 200
    )
    assert record_push_batch(connection_id=connection.pk)["succeeded"] == 1

    [remote] = [r for r in sandbox.records("tasks") if r["id"] == task_id]
    assert remote["data"]["title"] == "API task" and remote["data"]["due_date"] == "2025-11-01"
    assert remote["data"]["assignee_id"] == user_id and remote["data"]["status"] == "in_progress"
    body = client.get(f"/api/v1/integrations/records/{record.pk}/").json()
    assert body["sync"]["status"] == "Complete" and body["sync"]["pending_fields"] == {}

    # the next pull reads the CRM's copy: nothing pending, values unchanged
    pull_run(connection_id=connection.pk, object_type="tasks")
    record.refresh_from_db()
    assert record.fields["title"] == "API task" and record.fields["assignee_id"] == user_id


def test_the_crm_refusing_an_assignee_ends_in_error_with_its_message(sandbox, connection, api_client):
    [task_id] = sandbox.seed("tasks", [{"title": "T", "status": "todo"}])
    pull_run(connection_id=connection.pk, object_type="tasks")
    record = RemoteRecord.objects.get(connection=connection, object_type="tasks")
    api_client.post(
        f"/api/v1/integrations/records/{record.pk}/actions/assign/", {"assignee_id": 999}, format="json"
    )
    assert record_push_batch(connection_id=connection.pk)["failed"] == 1
    state = RecordSyncState.objects.get(record=record)
    assert state.processing_status == ProcessingStatus.ERROR and state.error_category == "validation"
    assert "existing user" in state.error
    assert state.last_request["path"].endswith(f"/tasks/{task_id}/assign")
