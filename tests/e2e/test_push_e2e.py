"""End to end: the API queues contacts, a real Celery worker pushes them to the HubSpot sandbox
over real HTTP (live_server), and every contact lands there exactly once."""

import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from config.celery import app
from crm_sync.models import ContactSyncState, SyncRun, SyncStatus
from crm_sync.tasks import push_batch
from sandbox import credentials as sandbox_credentials
from sandbox.emulators.hubspot_schema import CONTACTS
from sandbox.models import SandboxRecord
from tests.contacts.factories import ContactFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OperationalError:
            pass  # in-memory SQLite shares a cache across threads: a table lock means "ask again"
        time.sleep(0.5)
    return False


def hubspot_sandbox(live_server, org):
    """A HubSpot connection of `org` pointing at the sandbox over HTTP, batches of 50."""
    return CrmConnectionFactory(
        organization=org,
        kind="hubspot",
        base_url=f"{live_server.url}/sandbox/hubspot",
        credentials={"access_token": sandbox_credentials.HUBSPOT_TOKEN},
        batch_size=50,
    )


def test_worker_pushes_queued_contacts_to_the_hubspot_sandbox(live_server, org, api_client, settings):
    # given: 150 contacts and a HubSpot connection pointing at the sandbox over HTTP
    settings.SYNC_PUSH_TASK_MAX_SECONDS = 120
    connection = hubspot_sandbox(live_server, org)
    contacts = [ContactFactory(organization=org) for _ in range(150)]
    ContactFactory(organization=org, without_email=True)
    response = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "hubspot"}, format="json")
    assert response.status_code == 200 and response.json()["queued_count"] == 150

    # when: a real worker consumes a push task from the broker
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30):
        push_batch.apply_async(kwargs={"connection_id": connection.pk}, queue=queue)
        done = wait_for(
            lambda: (
                ContactSyncState.objects.filter(
                    connection=connection, sync_status=SyncStatus.COMPLETE
                ).count()
                == 150
            )
        )

    # then: every contact is Complete with HubSpot's id, and is in the sandbox exactly once
    assert done, list(ContactSyncState.objects.values_list("sync_status", "error")[:5])
    records = SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type)
    assert records.count() == 150
    assert set(records.values_list("key", flat=True)) == {c.email for c in contacts}
    remote_ids = {str(r.pk) for r in records}
    assert set(ContactSyncState.objects.values_list("remote_id", flat=True)) == remote_ids
    assert SyncRun.objects.filter(connection=connection).count() == 3  # 3 batches of 50

    # and: sync-status and sync-stats tell the same story through the API
    body = api_client.get(f"/api/v1/contacts/{contacts[0].pk}/sync-status/?debug=1").json()["hubspot"]
    assert body["sync_status"] == "Complete" and body["contact_id"] in remote_ids
    assert body["last_request"] and sandbox_credentials.HUBSPOT_TOKEN not in str(body)
    stats = api_client.get("/api/v1/contacts/sync-stats/?crm=hubspot").json()
    assert stats["synced"] == 150 and stats["success_rate"] == 1.0


def test_bad_token_pauses_the_connection_through_real_http(live_server, org, api_client):
    connection = CrmConnectionFactory(
        organization=org,
        kind="hubspot",
        base_url=f"{live_server.url}/sandbox/hubspot",
        credentials={"access_token": "wrong-token"},
    )
    [ContactFactory(organization=org) for _ in range(3)]
    api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "hubspot"}, format="json")
    push_batch.run(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.is_circuit_open
    config = api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]
    assert config["circuit"]["state"] == "open"
    failures = api_client.get("/api/v1/contacts/sync-failures/?crm=hubspot").json()
    assert failures["total"] == 3 and failures["failures"][0]["error_category"] == "auth"
    check = api_client.post("/api/v1/admin/test-crm-credentials/", {"crm": "hubspot"}, format="json")
    assert check.status_code == 400 and check.json()["status"] == "invalid"
    check = api_client.post(
        "/api/v1/admin/test-crm-credentials/",
        {"crm": "hubspot", "api_key": sandbox_credentials.HUBSPOT_TOKEN},
        format="json",
    )
    assert check.status_code == 200 and check.json()["status"] == "valid"


def test_a_big_queue_all_is_written_by_a_worker_then_pushed(
    live_server, org, api_client, settings, monkeypatch
):
    """202 first (counted, nothing in the queue), then a real worker writes the chunks and pushes
    them: every counted contact lands in the sandbox once."""
    from crm_sync.models import QueueAllRun
    from crm_sync.services import queue_all
    from crm_sync.tasks import queue_all_write

    settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS = 40
    settings.SYNC_QUEUE_ALL_CHUNK_ROWS = 25
    settings.SYNC_PUSH_TASK_MAX_SECONDS = 120
    connection = hubspot_sandbox(live_server, org)
    contacts = [ContactFactory(organization=org) for _ in range(120)]
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    # The task goes to this test's own queue (the default queue may be shared with other runs).
    monkeypatch.setattr(
        queue_all,
        "_write_later",
        lambda run_id: queue_all_write.apply_async(kwargs={"run_id": run_id}, queue=queue),
    )
    response = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "hubspot"}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["queued_count"] == 120 and body["run"]["pending_count"] == 120
    assert not ContactSyncState.objects.filter(connection=connection).exists()

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30):
        written = wait_for(lambda: QueueAllRun.objects.filter(finished_at__isnull=False).exists())
        push_batch.apply_async(kwargs={"connection_id": connection.pk}, queue=queue)
        done = wait_for(
            lambda: (
                ContactSyncState.objects.filter(
                    connection=connection, sync_status=SyncStatus.COMPLETE
                ).count()
                == 120
            )
        )

    assert written and done, list(ContactSyncState.objects.values_list("sync_status", "error")[:5])
    run = QueueAllRun.objects.get()
    assert (run.written, run.not_written) == (120, 0)
    records = SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type)
    assert sorted(records.values_list("key", flat=True)) == sorted(c.email for c in contacts)
    assert api_client.get("/api/v1/contacts/sync-stats/?crm=hubspot").json()["queue_all_pending"] == 0
