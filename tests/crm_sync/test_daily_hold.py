"""The push engine and the API under a HubSpot DAILY limit: claims stop with contacts left queued (no
attempt burnt), the dispatcher passes the connection by, crm-config / sync-stats / sync-status say
it waits for the daily reset, and pushes resume on their own once it has passed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from crm_sync.services.dispatch import pushes_dispatch_due
from crm_sync.services.push import push_batch_process
from crm_sync.services.queueing import contacts_requeue_changed
from integrations.errors import CrmRateLimited
from integrations.models import CrmConnection
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

UPSERT = "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"
DETAILS = "https://api.hubapi.com/account-info/v3/details"
NOW = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
RESET = datetime(2026, 12, 8, tzinfo=UTC)
DAILY = {
    "status": "error",
    "message": "You have reached your daily limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
    "policyName": "DAILY",
    "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
}


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = NOW

        def move(self, to: datetime) -> None:
            self.now = to

    fixed = Clock()
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    return fixed


@pytest.fixture
def hubspot(org, clock):
    return CrmConnectionFactory(organization=org, kind="hubspot", batch_size=10, max_retries=3)


def upsert_echo(request):
    import json

    inputs = json.loads(request.body)["inputs"]
    results = [
        {"id": str(500 + n), "new": True, "objectWriteTraceId": inp["objectWriteTraceId"], "properties": {}}
        for n, inp in enumerate(inputs)
    ]
    return 200, {}, json.dumps({"status": "COMPLETE", "results": results})


def spend_the_day(connection, mocked_responses, states):
    """One push that HubSpot answers DAILY."""
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    return push_batch_process(connection_id=connection.pk)


def test_a_daily_429_leaves_the_batch_queued_until_the_reset_without_burning_retries(
    hubspot, mocked_responses
):
    # given: three queued contacts, one of them already retried twice
    states = [ContactSyncStateFactory(connection=hubspot, queued=True) for _ in range(3)]
    ContactSyncState.objects.filter(pk=states[0].pk).update(retry_count=2)
    # when
    run = spend_the_day(hubspot, mocked_responses, states)
    # then
    assert run.outcome == SyncRun.Outcome.RATE_LIMITED and run.rate_limited == 3 and run.failed == 0
    for state in states:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.QUEUED and state.processing_status == ProcessingStatus.QUEUED
        assert state.due_at == RESET and state.error == "" and state.claim_token is None
    assert [s.retry_count for s in states] == [2, 0, 0]
    hubspot.refresh_from_db()
    assert hubspot.quota_exhausted_until == RESET


def test_while_held_no_batch_is_claimed_and_nothing_is_dispatched(hubspot, mocked_responses):
    # given: a held connection with more contacts queued and due now
    states = [ContactSyncStateFactory(connection=hubspot, queued=True) for _ in range(2)]
    spend_the_day(hubspot, mocked_responses, states)
    fresh = ContactSyncStateFactory(connection=hubspot, queued=True)
    # when
    assert push_batch_process(connection_id=hubspot.pk) is None
    enqueued = []
    dispatched = pushes_dispatch_due(enqueue=lambda connection_id, expires: enqueued.append(connection_id))
    # then: the fresh contact waits, untouched; HubSpot was asked once in all
    assert enqueued == [] and hubspot.pk not in dispatched
    fresh.refresh_from_db()
    assert fresh.processing_status == ProcessingStatus.QUEUED and fresh.claim_token is None
    assert len(mocked_responses.calls) == 1


def test_changes_made_while_held_are_still_queued(hubspot, mocked_responses):
    done = ContactSyncStateFactory(connection=hubspot, complete=True)
    CrmConnection.objects.filter(pk=hubspot.pk).update(quota_exhausted_until=RESET)
    assert contacts_requeue_changed(organization=hubspot.organization, contact_ids=[done.contact_id]) == 1
    done.refresh_from_db()
    assert done.processing_status == ProcessingStatus.QUEUED


def test_pushes_resume_on_their_own_after_the_reset(hubspot, mocked_responses, clock):
    states = [ContactSyncStateFactory(connection=hubspot, queued=True) for _ in range(3)]
    spend_the_day(hubspot, mocked_responses, states)
    # when: the portal's day is over
    clock.move(RESET + timedelta(seconds=1))
    mocked_responses.add_callback("POST", UPSERT, callback=upsert_echo)
    enqueued = []
    pushes_dispatch_due(enqueue=lambda connection_id, expires: enqueued.append(connection_id))
    run = push_batch_process(connection_id=hubspot.pk)
    # then
    assert enqueued == [hubspot.pk]
    assert run.succeeded == 3
    for state in states:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.COMPLETE and state.retry_count == 0


# ---- what the API shows ------------------------------------------------------------------------
def test_crm_config_sync_stats_and_sync_status_show_the_hold_and_its_end(
    api_client, hubspot, mocked_responses, clock
):
    # given
    states = [ContactSyncStateFactory(connection=hubspot, queued=True) for _ in range(2)]
    SyncRunFactory(connection=hubspot, succeeded=600)  # a fast measured rate: the hold must still show
    spend_the_day(hubspot, mocked_responses, states)
    waiting = ContactSyncStateFactory(connection=hubspot, queued=True)
    # when
    config = api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]
    stats = api_client.get("/api/v1/contacts/sync-stats/?crm=hubspot").json()
    status = api_client.get(f"/api/v1/contacts/{waiting.contact_id}/sync-status/").json()["hubspot"]
    # then
    assert config["rate_limit"]["state"] == "daily_quota_exhausted"
    assert config["rate_limit"]["policy"] == "DAILY"
    assert config["rate_limit"]["until"] == "2026-12-08T00:00:00Z"
    assert "daily limit" in config["rate_limit"]["crm_message"]
    assert stats["queued"] == 3
    assert stats["paused"]["reason"] == "daily_quota_exhausted"
    assert stats["paused"]["until"] == "2026-12-08T00:00:00Z"
    assert "2026-12-08T00:00:00+00:00" in stats["paused"]["message"]
    assert status["paused"]["reason"] == "daily_quota_exhausted"
    assert status["estimated_processing"].startswith(
        "Paused: after the CRM's daily API limit resets at 2026-12-08T00:00:00+00:00"
    )
    assert "Within 1 second" not in status["estimated_processing"]
    # and when the reset has passed, every view says the connection runs again
    clock.move(RESET + timedelta(seconds=1))
    assert api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]["rate_limit"]["state"] == "ok"
    assert api_client.get("/api/v1/contacts/sync-stats/?crm=hubspot").json()["paused"] is None
    after = api_client.get(f"/api/v1/contacts/{waiting.contact_id}/sync-status/").json()["hubspot"]
    assert "paused" not in after and not after["estimated_processing"].startswith("Paused")


def test_queue_all_estimates_completion_after_the_reset(api_client, hubspot, clock):
    CrmConnection.objects.filter(pk=hubspot.pk).update(quota_exhausted_until=RESET)
    ContactSyncStateFactory(connection=hubspot)  # a contact to queue
    SyncRunFactory(connection=hubspot, succeeded=600)  # a measured rate
    body = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "hubspot"}, format="json").json()
    assert body["estimate"].startswith("Paused: after the CRM's daily API limit resets")
    assert body["paused"]["reason"] == "daily_quota_exhausted"
    assert datetime.fromisoformat(body["estimated_completion"].replace("Z", "+00:00")) > RESET


def test_crm_config_shows_a_windowed_pause_and_ok_otherwise(api_client, hubspot, mocked_responses):
    assert api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]["rate_limit"] == {
        "state": "ok",
        "policy": None,
        "until": None,
        "message": "",
    }
    ContactSyncStateFactory(connection=hubspot, queued=True)
    mocked_responses.post(
        UPSERT,
        status=429,
        json={**DAILY, "policyName": "TEN_SECONDLY_ROLLING"},
        headers={"Retry-After": "30"},
    )
    run = push_batch_process(connection_id=hubspot.pk)
    assert run.outcome == SyncRun.Outcome.RATE_LIMITED
    limit = api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]["rate_limit"]
    assert limit["state"] == "rate_limited" and set(limit["limiters"]) == {"default"}
    hubspot.refresh_from_db()
    assert hubspot.quota_exhausted_until is None


def test_the_credential_test_of_a_held_connection_is_429_without_calling_hubspot(
    api_client, hubspot, mocked_responses
):
    CrmConnection.objects.filter(pk=hubspot.pk).update(
        quota_exhausted_until=RESET, quota_exhausted_reason="You have reached your daily limit."
    )
    response = api_client.post("/api/v1/admin/test-crm-credentials/", {"crm": "hubspot"}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == "rate_limited" and body["code"] == "rate_limited"
    assert "2026-12-08T00:00:00+00:00" in body["message"]
    assert len(mocked_responses.calls) == 0


def test_trial_credentials_are_not_held_by_the_stored_connections_quota(
    api_client, hubspot, mocked_responses
):
    CrmConnection.objects.filter(pk=hubspot.pk).update(quota_exhausted_until=RESET)
    mocked_responses.get(DETAILS, json={"portalId": 99, "timeZone": "Etc/UTC"})
    response = api_client.post(
        "/api/v1/admin/test-crm-credentials/",
        {"crm": "hubspot", "credentials": {"access_token": "pat-na1-other-portal-0000"}},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "valid"


def test_property_sync_of_a_held_connection_is_429_naming_the_reset_without_calling_hubspot(
    api_client, hubspot, mocked_responses
):
    from tests.properties.factories import PropertyDefinitionFactory

    PropertyDefinitionFactory(organization=hubspot.organization, name="company_size", select=True)
    CrmConnection.objects.filter(pk=hubspot.pk).update(quota_exhausted_until=RESET)
    response = api_client.post("/api/v1/hubspot/properties/sync/contacts")
    assert response.status_code == 429
    details = response.json()["details"]
    assert response.json()["code"] == "crm_rate_limited"
    assert details["policy"] == "DAILY" and details["resets_at"] == "2026-12-08T00:00:00+00:00"
    assert details["retry_after"] == (RESET - NOW).total_seconds()
    assert len(mocked_responses.calls) == 0


def test_a_daily_limit_makes_the_batch_due_exactly_at_the_reset(org, scripted):
    # given: a connector that reports a daily limit with a coarse retry_after
    connection = CrmConnectionFactory(organization=org, kind="scripted", base_url="https://scripted.invalid")
    state = ContactSyncStateFactory(connection=connection, queued=True)
    reset = timezone.now().replace(microsecond=0) + timedelta(hours=5, milliseconds=700)
    scripted.script = [CrmRateLimited("daily", status=429, retry_after=1, policy="DAILY", resets_at=reset)]
    # when
    push_batch_process(connection_id=connection.pk)
    # then: due at the reset itself, not at "now + retry_after"
    state.refresh_from_db()
    assert state.due_at == reset and state.retry_count == 0
