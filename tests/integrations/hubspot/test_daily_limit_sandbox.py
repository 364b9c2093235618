"""Over real HTTP: the sandbox HubSpot's daily quota runs out in the middle of a push.

The rest of the contacts stay queued with no attempt counted, the connection shows the hold in
crm-config and sync-stats, nothing more reaches the sandbox (push, pull, credential test), and once
both clocks (this service's and the sandbox portal's) pass midnight, pushes resume on their own.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from crm_sync.services.push import push_batch_process
from integrations.connectors.hubspot import HubSpotConnector
from integrations.errors import CrmRateLimited
from sandbox import ratelimit as sandbox_ratelimit
from sandbox.config import config_update
from sandbox.models import SandboxRecord, SandboxRequestLog
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
RESET = datetime(2026, 12, 8, tzinfo=UTC)  # the sandbox portal's time zone is UTC
DAY_MS = 86_400_000


@pytest.fixture
def clocks(monkeypatch):
    """This service's clock and the sandbox's, both at NOW; `move(to)` moves both."""

    class Clocks:
        now = NOW

        def move(self, to: datetime) -> None:
            self.now = to

    clocks = Clocks()
    monkeypatch.setattr(timezone, "now", lambda: clocks.now)
    monkeypatch.setattr(sandbox_ratelimit, "now_ms", lambda: int(clocks.now.timestamp() * 1000))
    return clocks


@pytest.fixture
def daily_quota(db):
    def set_quota(requests_a_day: int) -> None:
        config_update(
            kind="hubspot",
            changes={
                "rate_limit_enabled": True,
                "rate_limits": {
                    "daily": {"max": requests_a_day, "interval_ms": DAY_MS, "slot_ms": DAY_MS},
                    "ten_secondly": {"max": 1000, "interval_ms": 10_000, "slot_ms": 500},
                    "search": {"max": 1000, "interval_ms": 1000, "slot_ms": 100},
                },
            },
        )

    return set_quota


@pytest.fixture
def connection(live_server, org):
    from sandbox import credentials

    return CrmConnectionFactory(
        organization=org,
        kind="hubspot",
        base_url=f"{live_server.url}/sandbox/hubspot",
        credentials={"access_token": credentials.HUBSPOT_TOKEN},
        settings={"read_timeout": 5},
        batch_size=10,
    )


def drain(connection) -> list[SyncRun]:
    runs = []
    while (run := push_batch_process(connection_id=connection.pk)) is not None:
        runs.append(run)
        if run.outcome == SyncRun.Outcome.RATE_LIMITED:
            break
    return runs


def sandbox_calls() -> int:
    return SandboxRequestLog.objects.filter(kind="hubspot").count()


def test_the_daily_quota_runs_out_mid_push_and_pushes_resume_after_midnight(
    connection, daily_quota, clocks, api_client
):
    # given: 45 queued contacts, batches of 10, and a portal with 3 requests left today
    daily_quota(3)
    states = [ContactSyncStateFactory(connection=connection, queued=True) for _ in range(45)]

    # when: the push runs until HubSpot says DAILY
    runs = drain(connection)

    # then: three batches went through, the fourth was refused and waits for the reset, unharmed
    assert [run.outcome for run in runs] == ["success"] * 3 + ["rate_limited"]
    assert SandboxRecord.objects.filter(kind="hubspot", object_type="contact").count() == 30
    waiting = ContactSyncState.objects.filter(
        connection=connection, processing_status=ProcessingStatus.QUEUED
    )
    assert waiting.count() == 15
    assert set(waiting.values_list("sync_status", "retry_count", "error")) == {(SyncStatus.QUEUED, 0, "")}
    assert set(waiting.filter(due_at__gt=NOW).values_list("due_at", flat=True)) == {RESET}
    connection.refresh_from_db()
    assert connection.quota_exhausted_until == RESET

    # and: the API shows it
    config = api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]
    assert config["rate_limit"]["state"] == "daily_quota_exhausted"
    assert config["rate_limit"]["until"] == "2026-12-08T00:00:00Z"
    stats = api_client.get("/api/v1/contacts/sync-stats/?crm=hubspot").json()
    assert stats["queued"] == 15 and stats["synced"] == 30
    assert stats["paused"]["reason"] == "daily_quota_exhausted"
    status = api_client.get(f"/api/v1/contacts/{states[-1].contact_id}/sync-status/").json()["hubspot"]
    assert status["estimated_processing"].startswith("Paused: after the CRM's daily API limit resets")

    # and: nothing more reaches the sandbox, whoever asks
    calls = sandbox_calls()
    assert push_batch_process(connection_id=connection.pk) is None
    with pytest.raises(CrmRateLimited):
        next(iter(HubSpotConnector(connection).pull_contacts(since=None)))
    answer = api_client.post("/api/v1/admin/test-crm-credentials/", {"crm": "hubspot"}, format="json")
    assert answer.status_code == 429 and answer.json()["status"] == "rate_limited"
    assert sandbox_calls() == calls

    # when: midnight passes for the portal and for this service
    clocks.move(RESET + timedelta(seconds=1))
    runs = drain(connection)

    # then: the rest is pushed with no one lifting anything
    assert [run.outcome for run in runs] == ["success", "success"]
    assert (
        ContactSyncState.objects.filter(connection=connection, sync_status=SyncStatus.COMPLETE).count() == 45
    )
    assert SandboxRecord.objects.filter(kind="hubspot", object_type="contact").count() == 45
    assert api_client.get("/api/v1/admin/crm-config/").json()["hubspot"]["rate_limit"]["state"] == "ok"


def test_a_daily_429_on_search_holds_the_connection(connection, daily_quota, clocks):
    daily_quota(2)
    connector = HubSpotConnector(connection)
    # The day's two requests: the search pass, then the listing of archived records.
    assert list(connector.pull_contacts(since=None))
    with pytest.raises(CrmRateLimited) as raised:
        list(connector.pull_contacts(since=None))
    assert raised.value.policy == "DAILY" and raised.value.resets_at == RESET
    connection.refresh_from_db()
    assert connection.quota_exhausted_until == RESET
    calls = sandbox_calls()
    with pytest.raises(CrmRateLimited):
        list(HubSpotConnector(connection).pull_contacts(since=None))
    assert sandbox_calls() == calls


def test_the_ten_secondly_limit_only_backs_off(connection, daily_quota, clocks):
    daily_quota(1000)
    config_update(
        kind="hubspot",
        changes={"rate_limits": {"ten_secondly": {"max": 1, "interval_ms": 10_000, "slot_ms": 500}}},
    )
    ContactSyncStateFactory(connection=connection, queued=True)
    ContactSyncStateFactory(connection=connection, queued=True, contact__email="second@example.com")
    connection.batch_size = 1
    connection.save()
    assert push_batch_process(connection_id=connection.pk).outcome == "success"
    # Our limiter learned "1 per 10 s" from the headers; a burst from elsewhere is what earns a 429.
    from integrations.ratelimit import _local_backend

    _local_backend.reset()
    run = push_batch_process(connection_id=connection.pk)
    assert run.outcome == "rate_limited"
    state = ContactSyncState.objects.get(connection=connection, contact__email="second@example.com")
    assert state.processing_status == ProcessingStatus.QUEUED and state.retry_count == 0
    assert NOW < state.due_at <= NOW + timedelta(seconds=10)
    connection.refresh_from_db()
    assert connection.quota_exhausted_until is None
