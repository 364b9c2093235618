"""HubSpot sandbox: batch upsert/create/update, objects, search, properties, auth, rate limits.

Expected shapes are the ones ../shared/CRM-APIS.md §1 documents, written out literally.
"""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sandbox import credentials as creds
from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db
BASE = "/sandbox/hubspot"


def post(client, path, body, **headers):
    return client.post(
        f"{BASE}{path}", data=json.dumps(body), content_type="application/json", headers=headers
    )


def upsert_inputs(emails, **properties):
    return {
        "inputs": [
            {"id": e, "idProperty": "email", "properties": {"firstname": "F", **properties}} for e in emails
        ]
    }


def contacts():
    return SandboxRecord.objects.filter(kind="hubspot", object_type="contact")


def assert_error_shape(body, category):
    assert body["status"] == "error"
    assert body["category"] == category
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["correlationId"], str)


def test_upsert_creates_then_updates_with_new_flag(hubspot):
    first = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["a@x.com", "b@x.com"]))
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    assert [r["new"] for r in body["results"]] == [True, True]
    assert {r["properties"]["email"] for r in body["results"]} == {"a@x.com", "b@x.com"}
    second = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["A@x.com"], lastname="L"))
    result = second.json()["results"][0]
    assert result["new"] is False
    assert result["id"] == body["results"][0]["id"]
    assert result["properties"]["lastname"] == "L"
    assert contacts().count() == 2
    assert contacts().get(key="a@x.com").write_count == 2


def test_upsert_partial_failure_is_207_with_context(hubspot):
    payload = upsert_inputs(["ok@x.com", "not-an-email"])
    payload["inputs"][1]["objectWriteTraceId"] = "t-2"
    response = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", payload)
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 1 and len(body["results"]) == 1
    error = body["errors"][0]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"] == {"ids": ["not-an-email"], "objectWriteTraceId": ["t-2"]}
    assert error["errors"][0]["code"] == "INVALID_EMAIL"
    assert contacts().count() == 1


def test_unknown_property_is_property_doesnt_exist(hubspot):
    response = post(
        hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["a@x.com"], shoe_size="42")
    )
    assert response.status_code == 207
    assert response.json()["errors"][0]["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"


def test_batch_fault_fails_whole_batch_on_one_bad_input(hubspot):
    payload = upsert_inputs(["ok@x.com", "bad"])
    response = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", payload, **{"X-Sandbox-Fault": "batch"})
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")
    assert contacts().count() == 0
    only_good = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/upsert",
        upsert_inputs(["ok@x.com"]),
        **{"X-Sandbox-Fault": "batch"},
    )
    assert only_good.status_code == 200


def test_batch_limits_and_duplicates_are_rejected_whole(hubspot):
    too_many = post(
        hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs([f"c{i}@x.com" for i in range(101)])
    )
    assert too_many.status_code == 400
    duplicate = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["d@x.com", "D@x.com"]))
    assert duplicate.status_code == 400
    assert "Duplicate IDs" in duplicate.json()["message"]
    malformed = hubspot.post(
        f"{BASE}/crm/v3/objects/contacts/batch/upsert", data="{", content_type="application/json"
    )
    assert malformed.status_code == 400
    assert_error_shape(malformed.json(), "VALIDATION_ERROR")
    assert contacts().count() == 0


def test_upsert_query_count_does_not_grow_with_batch(hubspot):
    def upsert_queries(rows: int, prefix: str) -> int:
        post(
            hubspot,
            "/crm/v3/objects/contacts/batch/upsert",
            upsert_inputs([f"{prefix}seed{i}@x.com" for i in range(rows)]),
        )
        payload = upsert_inputs(
            [f"{prefix}seed{i}@x.com" for i in range(rows // 2)]
            + [f"{prefix}new{i}@x.com" for i in range(rows)]
        )
        with CaptureQueriesContext(connection) as captured:
            response = post(hubspot, "/crm/v3/objects/contacts/batch/upsert", payload)
        assert response.status_code == 200
        return len(captured.captured_queries)

    # About 13: config; savepoint (request transaction); custom properties; existing contacts;
    # savepoint, upsert of the changed rows, insert of the new ones, their histories (select,
    # upsert, insert), release; request log insert; release. Rate limiting is off here.
    # The figure is compared between sizes, not pinned: the claim is that it does not grow.
    # One extra statement was seen once in a full CI run (13 against 14) and not reproduced alone:
    # a difference of one is tolerated; growth with the batch (30 rows against 3) is not.
    small, large = upsert_queries(3, "a"), upsert_queries(30, "b")
    assert large - small <= 1 and large <= 16


def test_batch_create_conflict_and_multistatus_opt_in(hubspot):
    post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["taken@x.com"]))
    existing_id = contacts().get().pk
    plain = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/create",
        {
            "inputs": [
                {"properties": {"email": "new@x.com"}, "associations": []},
                {"properties": {"email": "taken@x.com"}, "associations": []},
            ]
        },
    )
    assert plain.status_code == 409
    assert_error_shape(plain.json(), "CONFLICT")
    assert plain.json()["message"] == f"Contact already exists. Existing ID: {existing_id}"
    assert contacts().count() == 1
    traced = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/create",
        {
            "inputs": [
                {"properties": {"email": "new@x.com"}, "associations": [], "objectWriteTraceId": "1"},
                {"properties": {"email": "taken@x.com"}, "associations": [], "objectWriteTraceId": "2"},
            ]
        },
    )
    assert traced.status_code == 207
    assert traced.json()["errors"][0]["context"]["objectWriteTraceId"] == ["2"]
    assert traced.json()["results"][0]["objectWriteTraceId"] == "1"
    ok = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/create",
        {"inputs": [{"properties": {"email": "third@x.com"}, "associations": []}]},
    )
    assert ok.status_code == 201


def test_batch_update_by_id_reports_missing_ids(hubspot):
    post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(["u@x.com"]))
    record_id = str(contacts().get().pk)
    response = post(
        hubspot,
        "/crm/v3/objects/contacts/batch/update",
        {
            "inputs": [
                {"id": record_id, "properties": {"lastname": "New"}},
                {"id": "999999", "properties": {"lastname": "Nobody"}},
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["results"][0]["properties"]["lastname"] == "New"
    assert response.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"


def test_single_contact_crud(hubspot):
    created = post(
        hubspot, "/crm/v3/objects/contacts", {"properties": {"email": "s@x.com"}, "associations": []}
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    again = post(
        hubspot, "/crm/v3/objects/contacts", {"properties": {"email": "s@x.com"}, "associations": []}
    )
    assert again.status_code == 409
    assert again.json()["message"] == f"Contact already exists. Existing ID: {contact_id}"
    by_email = hubspot.get(f"{BASE}/crm/v3/objects/contacts/s@x.com?idProperty=email")
    assert by_email.status_code == 200 and by_email.json()["id"] == contact_id
    patched = hubspot.patch(
        f"{BASE}/crm/v3/objects/contacts/{contact_id}",
        data=json.dumps({"properties": {"jobtitle": "CTO"}}),
        content_type="application/json",
    )
    assert patched.json()["properties"]["jobtitle"] == "CTO"
    assert hubspot.delete(f"{BASE}/crm/v3/objects/contacts/{contact_id}").status_code == 204
    missing = hubspot.get(f"{BASE}/crm/v3/objects/contacts/{contact_id}")
    assert missing.status_code == 404
    assert_error_shape(missing.json(), "OBJECT_NOT_FOUND")


def test_list_pages_with_after(hubspot):
    post(hubspot, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs([f"l{i}@x.com" for i in range(3)]))
    first = hubspot.get(f"{BASE}/crm/v3/objects/contacts?limit=2").json()
    assert len(first["results"]) == 2
    second = hubspot.get(
        f"{BASE}/crm/v3/objects/contacts?limit=2&after={first['paging']['next']['after']}"
    ).json()
    assert len(second["results"]) == 1 and "paging" not in second


def search_body(since="0", after="0", limit=200, prop="lastmodifieddate"):
    return {
        "filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE", "value": since}]}],
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": limit,
        "after": after,
    }


def test_search_filters_sorts_and_pages(hubspot, client_):
    client_.post(
        f"{BASE}/_control/records",
        content_type="application/json",
        data=json.dumps(
            {
                "object_type": "contact",
                "records": [
                    {"data": {"email": f"s{i}@x.com"}, "updated_at": f"2024-01-0{i + 1}T00:00:00Z"}
                    for i in range(5)
                ],
            }
        ),
    )
    since = "1704153600000"  # 2024-01-02T00:00:00Z
    page = post(hubspot, "/crm/v3/objects/contacts/search", search_body(since, limit=2))
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 4
    assert [r["properties"]["email"] for r in body["results"]] == ["s1@x.com", "s2@x.com"]
    assert body["paging"]["next"]["after"] == "2"
    rest = post(hubspot, "/crm/v3/objects/contacts/search", search_body(since, after="2", limit=2)).json()
    assert [r["properties"]["email"] for r in rest["results"]] == ["s3@x.com", "s4@x.com"]
    assert "paging" not in rest
    assert "X-HubSpot-RateLimit-Max" not in page.headers  # search answers carry no rate-limit headers


def test_search_limits(hubspot, configure):
    configure("hubspot", options={"search_max_results": 3})
    assert post(hubspot, "/crm/v3/objects/contacts/search", search_body(limit=201)).status_code == 400
    past_cap = post(hubspot, "/crm/v3/objects/contacts/search", search_body(after="3", limit=1))
    assert past_cap.status_code == 400
    assert_error_shape(past_cap.json(), "VALIDATION_ERROR")
    groups = {"filterGroups": [{"filters": []}] * 6, "limit": 10}
    assert post(hubspot, "/crm/v3/objects/contacts/search", groups).status_code == 400
    long_body = search_body()
    long_body["properties"] = ["x" * 100] * 40
    assert post(hubspot, "/crm/v3/objects/contacts/search", long_body).status_code == 400


def test_deal_search_uses_hs_lastmodifieddate(hubspot, client_):
    client_.post(
        f"{BASE}/_control/records",
        content_type="application/json",
        data=json.dumps({"object_type": "deal", "records": [{"dealname": "Big", "amount": "10"}]}),
    )
    body = post(hubspot, "/crm/v3/objects/deals/search", search_body(prop="hs_lastmodifieddate")).json()
    assert body["total"] == 1
    # deals have neither email nor lastmodifieddate: HubSpot ignores names it does not know
    assert body["results"][0]["properties"] == {}
    default = post(hubspot, "/crm/v3/objects/0-3/search", {"limit": 10}).json()
    assert default["results"][0]["properties"]["dealname"] == "Big"
    assert "hs_lastmodifieddate" in default["results"][0]["properties"]


def test_wrong_token_is_hubspot_401(client_):
    response = client_.get(f"{BASE}/account-info/v3/details", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert_error_shape(response.json(), "INVALID_AUTHENTICATION")
    assert client_.get(f"{BASE}/account-info/v3/details").status_code == 401


def test_account_details(hubspot, configure):
    configure("hubspot", rate_limit_enabled=True)
    body = hubspot.get(f"{BASE}/account-info/v3/details").json()
    assert body["portalId"] == creds.HUBSPOT_PORTAL_ID
    assert {"accountType", "timeZone", "companyCurrency", "utcOffsetMilliseconds", "uiDomain"} <= set(body)
    usage = hubspot.get(f"{BASE}/account-info/v3/api-usage/daily/private-apps").json()["results"][0]
    assert usage["name"] == "private-apps-api-calls-daily" and usage["currentUsage"] == 2


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_oauth_refresh_issues_expiring_tokens(client_, configure, version):
    form = {
        "grant_type": "refresh_token",
        "client_id": creds.HUBSPOT_CLIENT_ID,
        "client_secret": creds.HUBSPOT_CLIENT_SECRET,
        "refresh_token": creds.HUBSPOT_REFRESH_TOKEN,
    }
    response = client_.post(f"{BASE}/oauth/{version}/token", data=form)
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 1800
    assert token["refresh_token"] == creds.HUBSPOT_REFRESH_TOKEN
    authed = Client(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    answer = authed.get(f"{BASE}/account-info/v3/details")
    assert answer.status_code == 200
    assert "X-HubSpot-RateLimit-Daily" not in answer.headers  # OAuth calls get no daily headers
    bad = client_.post(f"{BASE}/oauth/{version}/token", data={**form, "refresh_token": "wrong"})
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REFRESH_TOKEN"
    configure("hubspot", options={"access_token_ttl_seconds": -5})
    expired = client_.post(f"{BASE}/oauth/{version}/token", data=form).json()["access_token"]
    gone = Client(HTTP_AUTHORIZATION=f"Bearer {expired}").get(f"{BASE}/account-info/v3/details")
    assert gone.status_code == 401
    assert_error_shape(gone.json(), "EXPIRED_AUTHENTICATION")
    assert "expired" in gone.json()["message"]


def test_rate_limit_headers_and_429_policy(hubspot, configure):
    configure(
        "hubspot",
        rate_limit_enabled=True,
        rate_limits={"ten_secondly": {"max": 2, "interval_ms": 3_600_000, "slot_ms": 60_000}},
    )
    first = hubspot.get(f"{BASE}/account-info/v3/details")
    assert first.headers["X-HubSpot-RateLimit-Max"] == "2"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "1"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "3600000"
    assert first.headers["X-HubSpot-RateLimit-Daily"] == "250000"
    hubspot.get(f"{BASE}/account-info/v3/details")
    refused = hubspot.get(f"{BASE}/account-info/v3/details")
    assert refused.status_code == 429
    body = refused.json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert {"message", "correlationId", "requestId"} <= set(body)
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_search_has_its_own_secondly_limit(hubspot, configure):
    configure(
        "hubspot",
        rate_limit_enabled=True,
        rate_limits={"search": {"max": 1, "interval_ms": 3_600_000, "slot_ms": 60_000}},
    )
    assert post(hubspot, "/crm/v3/objects/contacts/search", {"limit": 1}).status_code == 200
    refused = post(hubspot, "/crm/v3/objects/contacts/search", {"limit": 1})
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "SECONDLY"
    assert refused.json()["message"] == "You have reached your secondly limit."
    assert hubspot.get(f"{BASE}/account-info/v3/details").status_code == 200


def test_rate_limit_switched_off_sends_no_headers(hubspot, configure):
    configure("hubspot", rate_limit_enabled=False)
    response = hubspot.get(f"{BASE}/account-info/v3/details")
    assert response.status_code == 200 and "X-HubSpot-RateLimit-Max" not in response.headers
