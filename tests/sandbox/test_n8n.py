"""n8n sandbox: webhook auth, HMAC signature, idempotent dedupe, the node's answers (CRM-APIS.md §4)."""

import base64
import hashlib
import hmac
import json

import pytest

from sandbox import credentials as creds
from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db
URL = f"/sandbox/n8n/webhook/{creds.N8N_WEBHOOK_PATH}"


def signed(body, secret=creds.N8N_HMAC_SECRET):
    raw = json.dumps(body).encode()
    return raw, "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def deliver(client, body, *, auth=True, secret=creds.N8N_HMAC_SECRET, url=URL, **headers):
    raw, signature = signed(body, secret)
    if auth:
        headers[creds.N8N_HEADER_NAME] = creds.N8N_HEADER_VALUE
    headers[creds.N8N_SIGNATURE_HEADER] = signature
    return client.post(url, data=raw, content_type="application/json", headers=headers)


def deliveries():
    return SandboxRecord.objects.filter(kind="n8n", object_type=f"delivery:{creds.N8N_WEBHOOK_PATH}")


def test_batch_is_accepted_and_deduplicated_by_idempotency_key(client_):
    batch = [
        {"email": "a@x.com", "idempotency_key": "c1:v1"},
        {"email": "b@x.com", "idempotency_key": "c2:v1"},
    ]
    first = deliver(client_, {"contacts": batch})
    assert first.status_code == 200 and first.json() == {"message": "Workflow was started"}
    assert deliver(client_, batch).status_code == 200  # a bare array works too; both keys already seen
    assert deliveries().count() == 2
    assert set(deliveries().values_list("key", flat=True)) == {"c1:v1", "c2:v1"}


def test_last_node_mode_reports_duplicates(client_, configure):
    configure("n8n", options={"respond": "last_node"})
    deliver(client_, [{"email": "a@x.com", "idempotency_key": "k"}])
    again = deliver(
        client_, [{"email": "a@x.com", "idempotency_key": "k"}, {"email": "b@x.com", "idempotency_key": "k2"}]
    )
    assert again.json() == {
        "received": 1,
        "duplicates": 1,
        "results": [
            {"idempotency_key": "k", "ok": True, "duplicate": True},
            {"idempotency_key": "k2", "ok": True, "duplicate": False},
        ],
    }


def test_header_auth_failures_are_plain_text(client_):
    missing = deliver(client_, [{"email": "a@x.com"}], auth=False)
    assert missing.status_code == 403 and missing.content == b"Authorization data is wrong!"
    wrong = deliver(client_, [{"email": "a@x.com"}], auth=False, **{creds.N8N_HEADER_NAME: "nope"})
    assert wrong.status_code == 403
    assert deliveries().count() == 0


def test_basic_auth_mode(client_, configure):
    configure("n8n", credentials={"auth": "basic"})
    missing = deliver(client_, [{"email": "a@x.com"}], auth=False)
    assert missing.status_code == 401 and missing.content == b"Authorization is required!"
    assert missing.headers["WWW-Authenticate"] == 'Basic realm="Webhook"'
    basic = base64.b64encode(f"{creds.N8N_BASIC_USERNAME}:{creds.N8N_BASIC_PASSWORD}".encode()).decode()
    ok = deliver(client_, [{"email": "a@x.com"}], auth=False, Authorization=f"Basic {basic}")
    assert ok.status_code == 200


def test_bad_signature_is_refused_by_the_workflow(client_):
    response = deliver(client_, [{"email": "a@x.com"}], secret="other-secret")
    assert response.status_code == 401
    assert deliveries().count() == 0


def test_probe_and_unregistered_paths(client_, configure):
    probe = client_.get(URL)
    assert probe.status_code == 404
    assert (
        probe.json()["message"]
        == "This webhook is not registered for GET requests. Did you mean to make a POST request?"
    )
    unknown = deliver(client_, [], url="/sandbox/n8n/webhook/elsewhere")
    assert unknown.json()["message"] == 'The requested webhook "POST elsewhere" is not registered.'
    assert "active" in unknown.json()["hint"]
    test_url = deliver(client_, [], url=f"/sandbox/n8n/webhook-test/{creds.N8N_WEBHOOK_PATH}")
    assert test_url.status_code == 404 and "Execute workflow" in test_url.json()["hint"]
    configure("n8n", options={"active": False})
    assert deliver(client_, [{"email": "a@x.com"}]).status_code == 404
    assert deliveries().count() == 0
