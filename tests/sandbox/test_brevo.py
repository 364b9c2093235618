"""Brevo sandbox: contacts, import, attributes, account, auth, rate limits (../shared/CRM-APIS.md §2)."""

import json

import pytest
from django.test import Client

from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db
BASE = "/sandbox/brevo/v3"


def send(client, method, path, body=None, **headers):
    return getattr(client, method)(
        f"{BASE}{path}",
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers=headers,
    )


def contacts():
    return SandboxRecord.objects.filter(kind="brevo", object_type="contact")


def test_create_then_upsert_then_duplicate(brevo):
    created = send(brevo, "post", "/contacts", {"email": "a@x.com", "attributes": {"FIRSTNAME": "Ann"}})
    assert created.status_code == 201
    assert created.json() == {"id": contacts().get().pk}
    duplicate = send(brevo, "post", "/contacts", {"email": "A@x.com", "attributes": {"LASTNAME": "Lee"}})
    assert duplicate.status_code == 400
    assert duplicate.json() == {
        "code": "duplicate_parameter",
        "message": "Unable to create contact, email is already associated with another Contact",
        "metadata": {"duplicate_identifiers": ["email"]},
    }
    updated = send(
        brevo,
        "post",
        "/contacts",
        {"email": "a@x.com", "attributes": {"lastname": "Lee"}, "updateEnabled": True},
    )
    assert updated.status_code == 204 and updated.content == b""
    assert contacts().get().data["attributes"] == {"FIRSTNAME": "Ann", "LASTNAME": "Lee"}


def test_create_rejects_bad_input_without_writing(brevo):
    assert (
        send(brevo, "post", "/contacts", {"attributes": {"FIRSTNAME": "x"}}).json()["code"]
        == "missing_parameter"
    )
    assert send(brevo, "post", "/contacts", {"email": "nope"}).json()["code"] == "invalid_parameter"
    unknown = send(brevo, "post", "/contacts", {"email": "a@x.com", "attributes": {"SHOE": 42}})
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_parameter"
    assert contacts().count() == 0


def test_read_update_delete_by_email_and_id(brevo):
    contact_id = send(brevo, "post", "/contacts", {"email": "r@x.com"}).json()["id"]
    by_email = send(brevo, "get", "/contacts/r%40x.com")
    assert by_email.status_code == 200 and by_email.json()["id"] == contact_id
    assert "statistics" in by_email.json()
    assert (
        send(brevo, "get", f"/contacts/{contact_id}?identifierType=contact_id").json()["email"] == "r@x.com"
    )
    changed = send(
        brevo, "put", f"/contacts/{contact_id}", {"attributes": {"EMAIL": "new@x.com", "FIRSTNAME": "N"}}
    )
    assert changed.status_code == 204
    assert send(brevo, "get", "/contacts/new@x.com").json()["attributes"] == {"FIRSTNAME": "N"}
    assert send(brevo, "delete", "/contacts/new@x.com").status_code == 204
    missing = send(brevo, "get", "/contacts/new@x.com")
    assert missing.status_code == 404
    assert missing.json() == {"code": "document_not_found", "message": "Contact does not exist"}


def test_list_modified_since_sorted_and_paged(brevo, client_):
    client_.post(
        "/sandbox/brevo/_control/records",
        content_type="application/json",
        data=json.dumps(
            {
                "object_type": "contact",
                "records": [
                    {
                        "data": {"email": f"l{i}@x.com", "attributes": {}},
                        "updated_at": f"2024-03-0{i + 1}T00:00:00Z",
                    }
                    for i in range(4)
                ],
            }
        ),
    )
    page = send(
        brevo, "get", "/contacts?modifiedSince=2024-03-02T00:00:00.000Z&sort=asc&limit=2&offset=0"
    ).json()
    assert page["count"] == 3
    assert [c["email"] for c in page["contacts"]] == ["l1@x.com", "l2@x.com"]
    default = send(brevo, "get", "/contacts").json()
    assert [c["email"] for c in default["contacts"]][0] == "l3@x.com"  # newest first by default
    assert send(brevo, "get", "/contacts?limit=1001").json()["code"] == "out_of_range"
    assert send(brevo, "get", "/contacts?modifiedSince=yesterday").status_code == 400


def test_import_is_asynchronous_with_a_process(brevo, configure):
    send(brevo, "post", "/contacts", {"email": "old@x.com", "attributes": {"FIRSTNAME": "Old"}})
    configure("brevo", options={"import_processing_ms": 3_600_000})
    body = {
        "jsonBody": [
            {"email": "old@x.com", "attributes": {"LASTNAME": "Known", "UNKNOWN": 1}},
            {"email": "new@x.com", "attributes": {"FIRSTNAME": "New"}},
            {"email": "broken"},
        ],
        "listIds": [2],
    }
    accepted = send(brevo, "post", "/contacts/import", body)
    assert accepted.status_code == 202
    process_id = accepted.json()["processId"]
    process = send(brevo, "get", f"/processes/{process_id}").json()
    assert process == {"id": process_id, "status": "in_process", "name": "IMPORTUSER"}
    configure("brevo", options={"import_processing_ms": 0})
    SandboxRecord.objects.filter(pk=process_id).update(data={"name": "IMPORTUSER", "ready_at_ms": 0})
    assert send(brevo, "get", f"/processes/{process_id}").json()["status"] == "completed"
    assert contacts().get(key="old@x.com").data["attributes"] == {"FIRSTNAME": "Old", "LASTNAME": "Known"}
    assert contacts().get(key="new@x.com").data["listIds"] == [2]
    assert contacts().count() == 2
    assert send(brevo, "get", "/processes/999999").json() == {
        "code": "invalid_parameter",
        "message": "processId is invalid",
    }


def test_import_rejects_missing_source_or_lists(brevo):
    assert send(brevo, "post", "/contacts/import", {"listIds": [1]}).json()["code"] == "missing_parameter"
    assert send(brevo, "post", "/contacts/import", {"jsonBody": [{"email": "a@x.com"}]}).status_code == 400
    assert contacts().count() == 0


def test_attributes_create_list_update(brevo):
    assert send(brevo, "post", "/contacts/attributes/normal/company", {"type": "text"}).status_code == 201
    names = {a["name"] for a in send(brevo, "get", "/contacts/attributes").json()["attributes"]}
    assert {"FIRSTNAME", "LASTNAME", "SMS", "COMPANY"} <= names
    again = send(brevo, "post", "/contacts/attributes/normal/COMPANY", {"type": "text"})
    assert again.status_code == 400 and again.json()["code"] == "invalid_parameter"
    assert send(brevo, "post", "/contacts/attributes/weird/X", {"type": "text"}).status_code == 400
    assert send(brevo, "post", "/contacts/attributes/normal/Y", {"type": "id"}).status_code == 400
    category = send(
        brevo, "post", "/contacts/attributes/category/TIER", {"enumeration": [{"value": 1, "label": "Gold"}]}
    )
    assert category.status_code == 201
    updated = send(
        brevo, "put", "/contacts/attributes/category/TIER", {"enumeration": [{"value": 2, "label": "S"}]}
    )
    assert updated.status_code == 204
    assert send(brevo, "put", "/contacts/attributes/normal/NOPE", {}).json()["code"] == "document_not_found"
    assert (
        send(brevo, "post", "/contacts", {"email": "c@x.com", "attributes": {"COMPANY": "Acme"}}).status_code
        == 201
    )


def test_account_and_auth(brevo, client_):
    account = send(brevo, "get", "/account").json()
    assert {"email", "firstName", "lastName", "companyName", "plan", "relay"} <= set(account)
    refused = client_.get(f"{BASE}/account", HTTP_API_KEY="wrong")
    assert refused.status_code == 401
    assert refused.json() == {"code": "unauthorized", "message": "Key not found"}


def test_rate_limit_headers_and_429(brevo, configure):
    configure(
        "brevo",
        rate_limit_enabled=True,
        rate_limits={
            "contacts": {"max": 2, "interval_ms": 3_600_000, "slot_ms": 60_000},
            "other_hourly": {"max": 1, "interval_ms": 3_600_000, "slot_ms": 3_600_000},
        },
    )
    first = send(brevo, "get", "/contacts")
    assert first.headers["x-sib-ratelimit-limit"] == "2"
    assert first.headers["x-sib-ratelimit-remaining"] == "1"
    assert int(first.headers["x-sib-ratelimit-reset"]) > 0
    send(brevo, "get", "/contacts")
    refused = send(brevo, "get", "/contacts")
    assert refused.status_code == 429
    assert refused.json() == {"code": "too_many_requests", "message": "The expected rate limit is exceeded."}
    assert refused.headers["x-sib-ratelimit-remaining"] == "0"
    # /v3/account has its own (hourly) bucket
    assert send(brevo, "get", "/account").status_code == 200
    assert send(brevo, "get", "/account").status_code == 429


def test_other_methods_answer_brevo_405(brevo):
    response = Client(HTTP_API_KEY="sandbox-brevo-key").patch(f"{BASE}/contacts")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
