"""HubSpot 429s by policyName: rolling windows back off for their window; DAILY holds the connection
until the portal's daily reset, refusing every call locally (push, search/pull, properties, credential
test) without reaching HubSpot, and lets them through again once the reset has passed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from integrations.connectors.base import ContactPayload
from integrations.connectors.hubspot import HubSpotConnector
from integrations.connectors.hubspot.mapping import rate_limit_policy
from integrations.errors import CrmRateLimited
from integrations.models import CrmConnection
from integrations.ratelimit import limiter_blocked_until
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

BASE = "https://api.hubapi.com"
UPSERT = f"{BASE}/crm/v3/objects/contacts/batch/upsert"
SEARCH = f"{BASE}/crm/v3/objects/contacts/search"
PROPERTIES = f"{BASE}/crm/v3/properties/contacts"
DETAILS = f"{BASE}/account-info/v3/details"
NOW = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
NEXT_UTC_MIDNIGHT = datetime(2026, 12, 8, tzinfo=UTC)


def body_429(policy: str | None, message: str = "You have reached your limit.") -> dict:
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
        "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
    }
    if policy:
        body["policyName"] = policy
    return body


DAILY = body_429("DAILY", "You have reached your daily limit.")


@pytest.fixture
def clock(monkeypatch):
    """timezone.now() fixed at NOW; clock.move(to) moves it."""

    class Clock:
        now = NOW

        def move(self, to: datetime) -> None:
            self.now = to

    fixed = Clock()
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    return fixed


@pytest.fixture
def connection(org):
    return CrmConnectionFactory(organization=org)


def contact(n: int, email: str | None = None) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}", email=email or f"person{n}@example.com", properties={"first_name": f"P{n}"}
    )


def upsert_ok(n: int = 1) -> dict:
    return {
        "status": "COMPLETE",
        "results": [
            {"id": str(100 + i), "new": True, "objectWriteTraceId": str(i), "properties": {}}
            for i in range(n)
        ],
    }


# ---- reading the policy --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (body_429("TEN_SECONDLY_ROLLING"), ("TEN_SECONDLY_ROLLING", 10.0, False)),
        (body_429("SECONDLY"), ("SECONDLY", 1.0, False)),
        (body_429("DAILY"), ("DAILY", None, True)),
        (body_429("daily"), ("DAILY", None, True)),
        (body_429(None, "You have reached your daily limit."), ("DAILY", None, True)),
        (
            body_429(None, "You have reached your ten_secondly_rolling limit."),
            ("TEN_SECONDLY_ROLLING", 10.0, False),
        ),
        (body_429(None, "You have reached your secondly limit."), ("SECONDLY", 1.0, False)),
    ],
)
def test_the_policy_comes_from_policy_name_else_the_message(body, expected):
    policy = rate_limit_policy(body)
    assert (policy.name, policy.window, policy.daily) == expected


@pytest.mark.parametrize("body", [body_429("SOMETHING_NEW", "Slow down."), "<html>429</html>", None, {}])
def test_an_unknown_or_unreadable_policy_is_none(body):
    assert rate_limit_policy(body) is None


# ---- rolling windows -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7.0),  # Retry-After first
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Max": "100"}, 10.0),
        ({}, 10.0),  # neither: the policy's own window
    ],
)
def test_ten_secondly_backs_off_for_the_window_and_never_holds_the_connection(
    connection, mocked_responses, clock, headers, retry_after
):
    mocked_responses.post(UPSERT, status=429, json=body_429("TEN_SECONDLY_ROLLING"), headers=headers)
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    error = result.error
    assert isinstance(error, CrmRateLimited) and error.policy == "TEN_SECONDLY_ROLLING"
    assert error.retry_after == retry_after and error.resets_at is None
    assert limiter_blocked_until(connection, "default") is not None  # every worker pauses the window
    connection.refresh_from_db()
    assert connection.quota_exhausted_until is None


def test_secondly_on_search_backs_off_one_second_on_the_search_limiter(connection, mocked_responses, clock):
    mocked_responses.post(
        SEARCH, status=429, json=body_429("SECONDLY", "You have reached your secondly limit.")
    )
    with pytest.raises(CrmRateLimited) as raised:
        next(iter(HubSpotConnector(connection).pull_contacts(since=None)))
    assert raised.value.policy == "SECONDLY" and raised.value.retry_after == 1.0
    assert limiter_blocked_until(connection, "search") is not None
    assert limiter_blocked_until(connection, "default") is None
    connection.refresh_from_db()
    assert connection.quota_exhausted_until is None


def test_an_unnamed_429_is_retried_as_before(connection, mocked_responses, clock):
    mocked_responses.post(UPSERT, status=429, json={"status": "error", "message": "Too many"})
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "rate_limited" and result.error.policy == ""
    assert result.error.retry_after is None and result.error.resets_at is None


# ---- DAILY -----------------------------------------------------------------------------------
def test_daily_holds_the_connection_until_the_next_utc_midnight(connection, mocked_responses, clock):
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    error = result.error
    assert error.category == "rate_limited" and error.retriable
    assert error.policy == "DAILY" and error.resets_at == NEXT_UTC_MIDNIGHT
    assert error.retry_after == (NEXT_UTC_MIDNIGHT - NOW).total_seconds()
    connection.refresh_from_db()
    assert connection.quota_exhausted_until == NEXT_UTC_MIDNIGHT
    assert "daily limit" in connection.quota_exhausted_reason
    event = AuditEvent.objects.get(action="crm_connection.quota_exhausted")
    assert event.object_id == str(connection.pk)
    assert event.changes["until"] == NEXT_UTC_MIDNIGHT.isoformat()


def test_daily_resets_at_midnight_in_the_portals_time_zone(org, mocked_responses, clock):
    connection = CrmConnectionFactory(organization=org, account_time_zone="America/New_York")
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    # 13:30 UTC is 08:30 EST: the portal's day ends at 05:00 UTC on the 8th.
    assert result.error.resets_at == datetime(2026, 12, 8, 5, tzinfo=UTC)
    connection.refresh_from_db()
    assert connection.quota_exhausted_until == datetime(2026, 12, 8, 5, tzinfo=UTC)


def test_an_unknown_time_zone_falls_back_to_utc(org, mocked_responses, clock):
    connection = CrmConnectionFactory(organization=org, account_time_zone="Mars/Olympus_Mons")
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    assert result.error.resets_at == NEXT_UTC_MIDNIGHT


def test_after_daily_the_rest_of_the_push_is_refused_without_calling_hubspot(
    connection, mocked_responses, clock
):
    # given: the same email twice, so the push needs two upserts
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    results = HubSpotConnector(connection).push_contacts([contact(1), contact(2, "person1@example.com")])
    # then: the second upsert never left this service
    assert len(mocked_responses.calls) == 1
    assert [r.error.policy for r in results] == ["DAILY", "DAILY"]
    assert NEXT_UTC_MIDNIGHT.isoformat() in results[1].error.message


def test_a_held_connection_refuses_every_kind_of_call_locally(connection, mocked_responses, clock):
    # given: a hold stored by another worker
    CrmConnection.objects.filter(pk=connection.pk).update(
        quota_exhausted_until=NEXT_UTC_MIDNIGHT, quota_exhausted_reason="You have reached your daily limit."
    )
    connection.refresh_from_db()
    connector = HubSpotConnector(connection)
    # when / then: push, pull (search), properties: all refused, none sent (no mock is registered)
    [pushed] = connector.push_contacts([contact(1)])
    calls = {
        "pull": lambda: next(iter(connector.pull_contacts(since=None))),
        "properties": lambda: connector.list_properties(object_type="contacts"),
        "credentials": connector.test_credentials,
    }
    for name, call in calls.items():
        with pytest.raises(CrmRateLimited) as raised:
            call()
        assert raised.value.policy == "DAILY", name
        assert raised.value.resets_at == NEXT_UTC_MIDNIGHT
        assert NEXT_UTC_MIDNIGHT.isoformat() in raised.value.message
    assert pushed.error.policy == "DAILY" and "daily limit" in pushed.error.message
    assert len(mocked_responses.calls) == 0


def test_calls_go_out_again_once_the_reset_has_passed(connection, mocked_responses, clock):
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    mocked_responses.post(UPSERT, json=upsert_ok())
    connector = HubSpotConnector(connection)
    assert connector.push_contacts([contact(1)])[0].error.policy == "DAILY"
    assert connector.push_contacts([contact(1)])[0].error.policy == "DAILY"
    assert len(mocked_responses.calls) == 1
    # when: the portal's day is over
    clock.move(NEXT_UTC_MIDNIGHT + timedelta(seconds=1))
    connection.refresh_from_db()
    [result] = HubSpotConnector(connection).push_contacts([contact(1)])
    assert result.ok and len(mocked_responses.calls) == 2


def test_daily_on_search_without_headers_holds_the_connection(connection, mocked_responses, clock):
    mocked_responses.post(SEARCH, status=429, json=DAILY)  # search's answers carry no rate-limit headers
    with pytest.raises(CrmRateLimited) as raised:
        next(iter(HubSpotConnector(connection).pull_contacts(since=None)))
    assert raised.value.policy == "DAILY" and raised.value.resets_at == NEXT_UTC_MIDNIGHT
    connection.refresh_from_db()
    assert connection.quota_exhausted_until == NEXT_UTC_MIDNIGHT


def test_workers_hitting_the_limit_together_store_and_audit_the_hold_once(
    connection, mocked_responses, clock
):
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    first, second = (
        HubSpotConnector(connection),
        HubSpotConnector(CrmConnection.objects.get(pk=connection.pk)),
    )
    first.push_contacts([contact(1)])
    second.push_contacts([contact(2)])  # loaded before the hold: it asks once, and is told DAILY too
    assert AuditEvent.objects.filter(action="crm_connection.quota_exhausted").count() == 1


def test_an_unsaved_connection_is_held_in_memory_only(org, mocked_responses, clock):
    trial = CrmConnection(
        organization=org, kind="hubspot", name="trial", credentials={"access_token": "pat-1234"}
    )
    mocked_responses.get(DETAILS, status=429, json=DAILY)
    connector = HubSpotConnector(trial)
    with pytest.raises(CrmRateLimited):
        connector.test_credentials()
    assert trial.quota_exhausted_until == NEXT_UTC_MIDNIGHT
    with pytest.raises(CrmRateLimited):
        connector.test_credentials()
    assert len(mocked_responses.calls) == 1
    assert not CrmConnection.objects.exists()


def test_the_credential_test_learns_the_portals_time_zone(connection, mocked_responses):
    mocked_responses.get(DETAILS, json={"portalId": 62515, "timeZone": "Europe/Berlin"})
    assert HubSpotConnector(connection).test_credentials().ok
    connection.refresh_from_db()
    assert connection.account_time_zone == "Europe/Berlin"


def test_a_hold_that_cannot_be_stored_still_stops_this_job_and_reports_the_429(
    connection, mocked_responses, clock, monkeypatch
):
    from django.db import DatabaseError

    from integrations import services

    def broken(**kwargs):
        raise DatabaseError("database is gone")

    monkeypatch.setattr(services, "connection_quota_exhausted_mark", broken)
    mocked_responses.post(UPSERT, status=429, json=DAILY)
    connector = HubSpotConnector(connection)
    assert connector.push_contacts([contact(1)])[0].error.policy == "DAILY"
    assert connector.push_contacts([contact(2)])[0].error.policy == "DAILY"
    assert len(mocked_responses.calls) == 1
