"""Fault injection (header and config), the rate limiter, and the control API."""

import json

import pytest

from sandbox import runtime
from sandbox.faults import FaultHeaderInvalid, faults_parse
from sandbox.models import SandboxConfig, SandboxRecord, SandboxRequestLog
from sandbox.ratelimit import rate_limit_hit

pytestmark = pytest.mark.django_db
DETAILS = "/sandbox/hubspot/account-info/v3/details"


@pytest.fixture
def sleeps(monkeypatch):
    """Record the sandbox's sleeps instead of sleeping."""
    calls = []
    monkeypatch.setattr(runtime.time, "sleep", calls.append)
    return calls


def fault(client, value, path=DETAILS):
    return client.get(path, headers={"X-Sandbox-Fault": value})


def test_header_status_faults_use_each_crms_shape(hubspot, brevo, mautic):
    server = fault(hubspot, "500")
    assert server.status_code == 500 and server.json()["category"] == "INTERNAL_ERROR"
    locked = fault(hubspot, "423")
    assert locked.status_code == 423 and locked.json()["status"] == "error"
    burst = fault(hubspot, "429")
    assert burst.status_code == 429 and burst.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "Retry-After" not in burst.headers
    with_retry = fault(hubspot, "429,retry-after=3")
    assert with_retry.headers["Retry-After"] == "3"
    assert set(fault(brevo, "503", "/sandbox/brevo/v3/account").json()) == {"code", "message"}
    assert "errors" in fault(mautic, "502", "/sandbox/mautic/api/users/self").json()


def test_latency_and_timeout_sleep_then_answer_504(hubspot, sleeps, configure):
    assert fault(hubspot, "latency=250ms").status_code == 200
    assert sleeps == [0.25]
    configure("hubspot", timeout_seconds=1.5)
    timed_out = fault(hubspot, "timeout")
    assert timed_out.status_code == 504
    assert sleeps[-1] == 1.5


def test_malformed_body_is_not_json(hubspot):
    response = fault(hubspot, "malformed")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_unknown_fault_token_is_a_400(hubspot):
    response = fault(hubspot, "explode")
    assert response.status_code == 400 and "explode" in response.json()["message"]
    with pytest.raises(FaultHeaderInvalid):
        faults_parse("latency=fast")


def test_config_faults_are_deterministic_with_a_seed(hubspot, configure, client_):
    configure("hubspot", error_rate=0.5, seed=7)
    first = [hubspot.get(DETAILS).status_code for _ in range(12)]
    client_.post("/sandbox/hubspot/_control/reset")
    second = [hubspot.get(DETAILS).status_code for _ in range(12)]
    assert first == second
    assert set(first) == {200, 500}


def test_config_fault_rates_of_one_always_fire(hubspot, configure, sleeps):
    configure("hubspot", lock_rate=1.0)
    assert hubspot.get(DETAILS).status_code == 423
    configure("hubspot", lock_rate=0.0, timeout_rate=1.0, timeout_seconds=0.01)
    assert hubspot.get(DETAILS).status_code == 504
    configure("hubspot", timeout_rate=0.0, whole_batch_failure_rate=1.0)
    payload = {
        "inputs": [
            {"id": "ok@x.com", "idProperty": "email", "properties": {}},
            {"id": "bad", "idProperty": "email", "properties": {}},
        ]
    }
    batch = hubspot.post(
        "/sandbox/hubspot/crm/v3/objects/contacts/batch/upsert",
        data=json.dumps(payload),
        content_type="application/json",
    )
    assert batch.status_code == 400


def test_rolling_window_counts_only_slots_inside_the_interval(db):
    buckets = {"b": {"max": 2, "interval_ms": 1000, "slot_ms": 100}}
    assert not rate_limit_hit(kind="rest", buckets=buckets, names=["b"], at_ms=10_000)[0].denied
    assert not rate_limit_hit(kind="rest", buckets=buckets, names=["b"], at_ms=10_050)[0].denied
    refused = rate_limit_hit(kind="rest", buckets=buckets, names=["b"], at_ms=10_900)[0]
    assert refused.denied and refused.remaining == 0 and refused.reset_ms == 100
    assert not rate_limit_hit(kind="rest", buckets=buckets, names=["b"], at_ms=11_001)[0].denied
    assert (
        rate_limit_hit(kind="rest", buckets={"b": {"max": 0, "interval_ms": 1, "slot_ms": 1}}, names=["b"])
        == []
    )


def test_fixed_window_resets_at_the_slot_boundary(db):
    day = {"daily": {"max": 1, "interval_ms": 86_400_000, "slot_ms": 86_400_000}}
    assert not rate_limit_hit(kind="hubspot", buckets=day, names=["daily"], at_ms=86_400_000 + 5)[0].denied
    assert rate_limit_hit(kind="hubspot", buckets=day, names=["daily"], at_ms=2 * 86_400_000 - 1)[0].denied
    assert not rate_limit_hit(kind="hubspot", buckets=day, names=["daily"], at_ms=2 * 86_400_000)[0].denied


def test_control_config_get_put_and_validation(client_):
    config = client_.get("/sandbox/hubspot/_control/").json()
    assert config["rate_limits"]["ten_secondly"] == {"max": 100, "interval_ms": 10000, "slot_ms": 500}
    changed = client_.put(
        "/sandbox/hubspot/_control/",
        content_type="application/json",
        data=json.dumps({"rate_limits": {"ten_secondly": {"max": 190}}, "latency_ms": 5}),
    )
    assert changed.status_code == 200
    assert changed.json()["rate_limits"]["ten_secondly"] == {"max": 190, "interval_ms": 10000, "slot_ms": 500}
    bad = client_.put(
        "/sandbox/hubspot/_control/",
        content_type="application/json",
        data=json.dumps({"error_rate": 2, "latency_ms": 1, "bogus": 1}),
    )
    assert bad.status_code == 400 and set(bad.json()["details"]) == {"bogus"}
    bad = client_.put(
        "/sandbox/hubspot/_control/",
        content_type="application/json",
        data=json.dumps({"error_rate": 2, "timeout_seconds": 999}),
    )
    assert set(bad.json()["details"]) == {"error_rate", "timeout_seconds"}
    assert SandboxConfig.objects.get(kind="hubspot").latency_ms == 5
    assert client_.get("/sandbox/nosuch/_control/").status_code == 404


def test_control_reset_requests_log_and_records(hubspot, client_):
    hubspot.post(
        "/sandbox/hubspot/crm/v3/objects/contacts/batch/upsert",
        content_type="application/json",
        data=json.dumps({"inputs": [{"id": "a@x.com", "idProperty": "email", "properties": {}}]}),
    )
    log = client_.get("/sandbox/hubspot/_control/requests?limit=5").json()
    entry = log["results"][0]
    assert entry["method"] == "POST" and entry["status"] == 200
    assert entry["headers"]["Authorization"] == "[REDACTED]"
    records = client_.get("/sandbox/hubspot/_control/records?object_type=contact").json()
    assert records["count"] == 1 and records["results"][0]["key"] == "a@x.com"
    bad_seed = client_.post(
        "/sandbox/hubspot/_control/records",
        content_type="application/json",
        data=json.dumps({"object_type": "deal", "records": [{"data": 1}]}),
    )
    assert bad_seed.status_code == 400
    reset = client_.post("/sandbox/hubspot/_control/reset").json()
    assert reset["deleted"]["records"] == 2  # the contact and its property history
    assert not SandboxRecord.objects.filter(kind="hubspot").exists()
    assert not SandboxRequestLog.objects.filter(kind="hubspot").exists()
