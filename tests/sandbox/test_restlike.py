"""Generic REST CRM (seed 002), Brivity and TopProducer (modelled on seed 004) sandboxes."""

import json

import pytest
from django.test import Client

from sandbox import credentials as creds
from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def rest(db):
    return Client(headers={creds.REST_API_KEY_HEADER: creds.REST_API_KEY})


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def seed(kind, entity, count):
    records = [
        {
            "data": {"email": f"{kind}{i}@x.com", "first_name": f"N{i}"},
            "updated_at": f"2024-06-{i + 1:02d}T00:00:00Z",
        }
        for i in range(count)
    ]
    response = post(
        Client(), f"/sandbox/{kind}/_control/records", {"object_type": entity, "records": records}
    )
    assert response.status_code == 201


def test_jwt_login_refresh_rotates_and_authenticates(client_):
    login = post(
        client_,
        "/sandbox/rest/auth/login",
        {"username": creds.REST_USERNAME, "password": creds.REST_PASSWORD},
    )
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert bearer.get("/sandbox/rest/api/v1/contacts").status_code == 200
    refreshed = post(client_, "/sandbox/rest/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != tokens["refresh_token"]
    reused = post(client_, "/sandbox/rest/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["code"] == "invalid_refresh_token"
    wrong = post(client_, "/sandbox/rest/auth/login", {"username": "sandbox", "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "Invalid username or password.",
        "code": "invalid_credentials",
        "details": {},
    }


def test_oauth_client_credentials_and_api_key(client_, rest):
    token = client_.post(
        "/sandbox/rest/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.REST_CLIENT_ID,
            "client_secret": creds.REST_CLIENT_SECRET,
        },
    )
    assert token.status_code == 200 and "refresh_token" not in token.json()
    bad = client_.post(
        "/sandbox/rest/oauth/token", data={"grant_type": "client_credentials", "client_id": "x"}
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert rest.get("/sandbox/rest/api/v1/me").status_code == 200
    refused = client_.get("/sandbox/rest/api/v1/contacts", headers={"X-API-Key": "wrong"})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert client_.get("/sandbox/rest/api/v1/health").json() == {"status": "ok"}


def test_three_paging_styles_and_updated_since(rest):
    seed("rest", "contacts", 5)
    page = rest.get("/sandbox/rest/api/v1/contacts?page=2&per_page=2").json()
    assert page["meta"] == {"page": 2, "per_page": 2, "total": 5, "total_pages": 3}
    assert len(page["data"]) == 2
    offset = rest.get("/sandbox/rest/api/v1/contacts?offset=4&limit=2").json()
    assert offset["meta"] == {"offset": 4, "limit": 2, "total": 5} and len(offset["data"]) == 1
    since = rest.get(
        "/sandbox/rest/api/v1/contacts?paging=cursor&limit=2&updated_since=2024-06-02T00:00:00Z"
    ).json()
    assert [c["email"] for c in since["data"]] == ["rest1@x.com", "rest2@x.com"]
    following = rest.get(
        f"/sandbox/rest/api/v1/contacts?cursor={since['meta']['next_cursor']}&limit=2"
        "&updated_since=2024-06-02T00:00:00Z"
    ).json()
    assert [c["email"] for c in following["data"]] == ["rest3@x.com", "rest4@x.com"]
    assert following["meta"]["next_cursor"] is None
    assert rest.get("/sandbox/rest/api/v1/contacts?cursor=garbage").status_code == 400
    assert rest.get("/sandbox/rest/api/v1/contacts?per_page=101").status_code == 400
    assert rest.get("/sandbox/rest/api/v1/contacts?updated_since=soon").status_code == 400


def test_create_update_conflict_and_entities(rest):
    created = post(rest, "/sandbox/rest/api/v1/contacts", {"email": "c@x.com", "first_name": "C"})
    assert created.status_code == 201
    record_id = created.json()["id"]
    conflict = post(rest, "/sandbox/rest/api/v1/contacts", {"email": "C@x.com"})
    assert conflict.status_code == 409 and conflict.json()["details"] == {"id": record_id}
    patched = rest.patch(
        f"/sandbox/rest/api/v1/contacts/{record_id}",
        data=json.dumps({"last_name": "L"}),
        content_type="application/json",
    )
    assert patched.json()["first_name"] == "C" and patched.json()["last_name"] == "L"
    assert post(rest, "/sandbox/rest/api/v1/contacts", {"email": "bad"}).status_code == 400
    found = rest.get("/sandbox/rest/api/v1/contacts?email=C@X.com").json()
    assert [c["id"] for c in found["data"]] == [record_id]
    assert rest.get("/sandbox/rest/api/v1/contacts?email=other@x.com").json()["data"] == []
    assert post(rest, "/sandbox/rest/api/v1/projects", {"name": "P"}).status_code == 201
    assert rest.get("/sandbox/rest/api/v1/widgets").status_code == 404
    assert rest.get("/sandbox/rest/api/v1/contacts/999999").json()["code"] == "not_found"
    assert SandboxRecord.objects.filter(kind="rest", object_type="contacts").count() == 1


def test_rate_limit_answers_429_with_retry_after(rest, configure):
    configure("rest", rate_limits={"api": {"max": 1, "interval_ms": 60_000, "slot_ms": 1_000}})
    first = rest.get("/sandbox/rest/api/v1/contacts")
    assert first.headers["X-RateLimit-Limit"] == "1" and first.headers["X-RateLimit-Remaining"] == "0"
    refused = rest.get("/sandbox/rest/api/v1/contacts")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["code"] == "rate_limited"


def test_brivity_token_token_auth_and_deals(client_):
    seed("brivity", "deals", 3)
    brivity = Client(HTTP_AUTHORIZATION=f"Token token={creds.BRIVITY_API_TOKEN}")
    body = brivity.get("/sandbox/brivity/v1/deals?page=1&per_page=2").json()
    assert body["meta"]["total"] == 3 and {"id", "created_at", "updated_at"} <= set(body["data"][0])
    assert post(brivity, "/sandbox/brivity/v1/contacts", {"email": "lead@x.com"}).status_code == 201
    refused = client_.get("/sandbox/brivity/v1/deals", HTTP_AUTHORIZATION="Token token=wrong")
    assert refused.status_code == 401
    assert (
        client_.get(
            "/sandbox/brivity/v1/transactions", HTTP_AUTHORIZATION=f"Token token={creds.BRIVITY_API_TOKEN}"
        ).status_code
        == 404
    )


def test_topproducer_client_credentials_and_transactions(client_):
    seed("topproducer", "transactions", 2)
    token = post(
        client_,
        "/sandbox/topproducer/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": creds.TOPPRODUCER_CLIENT_ID,
            "client_secret": creds.TOPPRODUCER_CLIENT_SECRET,
        },
    )
    assert token.status_code == 200
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    body = bearer.get("/sandbox/topproducer/v2/transactions?updated_since=2024-06-02T00:00:00Z").json()
    assert body["meta"] == {"offset": 0, "limit": 50, "total": 1}
    assert "updatedAt" in body["data"][0]
    assert client_.get("/sandbox/topproducer/v2/contacts").status_code == 401
