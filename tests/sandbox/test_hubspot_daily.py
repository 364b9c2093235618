"""The sandbox HubSpot's daily limit: a per-portal quota per UTC day, its documented 429 body
(policyName DAILY), search included and without rate-limit headers there, and the next day's reset."""

import json
import uuid

import pytest

from sandbox import ratelimit

pytestmark = pytest.mark.django_db

BASE = "/sandbox/hubspot"
DAY_MS = 86_400_000
RATE_HEADERS = ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining")


def search(client):
    return client.post(
        f"{BASE}/crm/v3/objects/contacts/search",
        data=json.dumps({"limit": 1}),
        content_type="application/json",
    )


def details(client):
    return client.get(f"{BASE}/account-info/v3/details")


@pytest.fixture
def daily_quota(hubspot, configure):
    """A portal whose daily quota is `max` requests (burst and search limits out of the way)."""

    def set_quota(max_requests: int):
        configure(
            "hubspot",
            rate_limit_enabled=True,
            rate_limits={
                "daily": {"max": max_requests, "interval_ms": DAY_MS, "slot_ms": DAY_MS},
                "ten_secondly": {"max": 1000, "interval_ms": 10_000, "slot_ms": 500},
                "search": {"max": 1000, "interval_ms": 1000, "slot_ms": 100},
            },
        )
        return hubspot

    return set_quota


def assert_documented_daily_body(response):
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "DAILY"
    assert body["message"] == "You have reached your daily limit."
    uuid.UUID(body["correlationId"])
    assert body["requestId"]


def test_the_daily_quota_is_large_by_default(hubspot):
    config = hubspot.get(f"{BASE}/_control/").json()
    assert config["rate_limits"]["daily"]["max"] >= 250_000


def test_a_spent_daily_quota_answers_the_documented_429_with_the_daily_headers(daily_quota):
    client = daily_quota(2)
    first = details(client)
    assert first.status_code == 200 and first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    assert details(client).headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    refused = details(client)
    assert_documented_daily_body(refused)
    assert refused.headers["X-HubSpot-RateLimit-Daily"] == "2"
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert "Retry-After" not in refused


def test_search_shares_the_daily_quota_and_its_429_has_no_rate_limit_headers(daily_quota):
    client = daily_quota(1)
    assert search(client).status_code == 200
    refused = search(client)
    assert_documented_daily_body(refused)
    for name in RATE_HEADERS:
        assert name not in refused
    assert_documented_daily_body(details(client))  # the same quota: every endpoint is refused


def test_the_quota_resets_at_the_next_utc_midnight(daily_quota, monkeypatch):
    client = daily_quota(1)
    day = ratelimit.now_ms() // DAY_MS * DAY_MS
    monkeypatch.setattr(ratelimit, "now_ms", lambda: day + DAY_MS - 1)
    assert details(client).status_code == 200
    assert details(client).status_code == 429
    monkeypatch.setattr(ratelimit, "now_ms", lambda: day + DAY_MS)  # midnight UTC: a new day
    assert details(client).status_code == 200


def test_the_quota_is_set_through_the_control_api(hubspot):
    changed = hubspot.put(
        f"{BASE}/_control/",
        data=json.dumps({"rate_limit_enabled": True, "rate_limits": {"daily": {"max": 1}}}),
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["rate_limits"]["daily"]["max"] == 1
    assert details(hubspot).status_code == 200
    assert_documented_daily_body(details(hubspot))
    off = hubspot.put(
        f"{BASE}/_control/",
        data=json.dumps({"rate_limits": {"daily": {"max": 0}}}),
        content_type="application/json",
    )
    assert off.status_code == 200
    assert details(hubspot).status_code == 200  # max 0: no daily quota at all


def test_the_ten_secondly_limit_names_its_own_policy(daily_quota, configure):
    client = daily_quota(100)
    configure("hubspot", rate_limits={"ten_secondly": {"max": 1, "interval_ms": 10_000, "slot_ms": 500}})
    assert details(client).status_code == 200
    refused = details(client)
    assert refused.status_code == 429 and refused.json()["policyName"] == "TEN_SECONDLY_ROLLING"
