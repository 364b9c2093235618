"""Mautic sandbox: batch new (merge on email, statusCodes), list/where, edit, fields, auth (CRM-APIS §3)."""

import json

import pytest
from django.test import Client

from sandbox import credentials as creds
from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db
BASE = "/sandbox/mautic"


def send(client, method, path, body=None):
    return getattr(client, method)(
        f"{BASE}{path}", data=json.dumps(body) if body is not None else None, content_type="application/json"
    )


def contacts():
    return SandboxRecord.objects.filter(kind="mautic", object_type="contact")


def test_batch_new_merges_on_email_and_reports_each_item(mautic):
    send(mautic, "post", "/api/contacts/batch/new", [{"email": "old@x.com", "firstname": "Old"}])
    response = send(
        mautic,
        "post",
        "/api/contacts/batch/new",
        [{"email": "OLD@x.com", "lastname": "Known"}, {"email": "bad"}, {"email": "new@x.com"}],
    )
    assert response.status_code == 201
    body = response.json()
    assert body["statusCodes"] == [200, 400, 201]
    assert body["errors"] == {
        "1": {"message": "email: A valid email is required.", "code": 400, "type": "api"}
    }
    assert set(body["contacts"]) == {"0", "2"}  # failed items leave gaps: an object keyed by input index
    merged = body["contacts"]["0"]
    assert merged["fields"]["all"]["firstname"] == "Old" and merged["fields"]["all"]["lastname"] == "Known"
    assert contacts().count() == 2
    clean = send(mautic, "post", "/api/contacts/batch/new", [{"email": "z@x.com"}]).json()
    assert isinstance(clean["contacts"], list) and "errors" not in clean


def test_batch_over_the_limit_is_a_500_and_writes_nothing(mautic):
    response = send(mautic, "post", "/api/contacts/batch/new", [{"email": f"c{i}@x.com"} for i in range(201)])
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {
                "code": 500,
                "message": "A max of 200 entities are supported at a time.",
                "details": [],
                "type": None,
            }
        ]
    }
    assert contacts().count() == 0
    assert send(mautic, "post", "/api/contacts/batch/new", {"email": "a@x.com"}).status_code == 400


def test_list_with_where_date_modified_and_order(mautic, client_):
    client_.post(
        f"{BASE}/_control/records",
        content_type="application/json",
        data=json.dumps(
            {
                "object_type": "contact",
                "records": [
                    {"data": {"email": f"w{i}@x.com"}, "updated_at": f"2024-05-0{i + 1}T10:00:00Z"}
                    for i in range(3)
                ],
            }
        ),
    )
    query = (
        "where[0][col]=dateModified&where[0][expr]=gte&where[0][val]=2024-05-02 00:00:00"
        "&orderBy=date_modified&orderByDir=asc&start=0&limit=10"
    )
    body = mautic.get(f"{BASE}/api/contacts?{query}").json()
    assert body["total"] == "2"
    assert [c["fields"]["all"]["email"] for c in body["contacts"].values()] == ["w1@x.com", "w2@x.com"]
    empty = mautic.get(f"{BASE}/api/contacts?search=email:nobody@x.com").json()
    assert empty == {"total": "0", "contacts": []}
    assert (
        mautic.get(f"{BASE}/api/contacts?where[0][col]=dateModified&where[0][val]=never").status_code == 400
    )


def test_single_contact_edit_and_errors(mautic):
    created = send(mautic, "post", "/api/contacts/new", {"email": "s@x.com", "firstname": "S"})
    assert created.status_code == 201
    contact_id = created.json()["contact"]["id"]
    patched = send(mautic, "patch", f"/api/contacts/{contact_id}/edit", {"lastname": "L"})
    assert patched.json()["contact"]["fields"]["all"] == {
        **patched.json()["contact"]["fields"]["all"],
        "firstname": "S",
        "lastname": "L",
    }
    missing = send(mautic, "patch", "/api/contacts/999999/edit", {"lastname": "L"})
    assert missing.status_code == 404
    assert missing.json() == {
        "errors": [{"code": 404, "message": "Item was not found.", "details": [], "type": None}]
    }
    assert send(mautic, "put", "/api/contacts/999999/edit", {"email": "put@x.com"}).status_code == 201
    assert mautic.get(f"{BASE}/api/contacts/{contact_id}").json()["contact"]["id"] == contact_id
    assert mautic.delete(f"{BASE}/api/contacts/{contact_id}/delete").status_code == 200
    assert mautic.get(f"{BASE}/api/contacts/{contact_id}").status_code == 404


def test_batch_edit_reports_unknown_ids(mautic):
    contact_id = send(mautic, "post", "/api/contacts/new", {"email": "e@x.com"}).json()["contact"]["id"]
    body = send(
        mautic,
        "patch",
        "/api/contacts/batch/edit",
        [{"id": contact_id, "firstname": "E"}, {"id": 424242, "firstname": "X"}],
    ).json()
    assert body["statusCodes"] == [200, 404]
    assert body["errors"]["1"]["code"] == 404


def test_custom_fields(mautic):
    created = send(mautic, "post", "/api/fields/contact/new", {"label": "Shoe size", "type": "number"})
    assert created.status_code == 201
    field = created.json()["field"]
    assert field["alias"] == "shoe_size" and field["id"] > 1000
    again = send(mautic, "post", "/api/fields/contact/new", {"label": "Shoe size"})
    assert again.status_code == 422 and "alias" in again.json()["errors"][0]["details"]
    assert (
        send(mautic, "post", "/api/fields/contact/new", {"label": "T", "type": "select"}).status_code == 422
    )
    listed = mautic.get(f"{BASE}/api/fields/contact").json()
    assert listed["total"] == len(listed["fields"]) and "shoe_size" in {f["alias"] for f in listed["fields"]}
    edited = send(mautic, "patch", f"/api/fields/contact/{field['id']}/edit", {"label": "Shoe"})
    assert edited.json()["field"]["label"] == "Shoe"
    assert send(mautic, "patch", "/api/fields/contact/1/edit", {"label": "x"}).status_code == 403
    assert (
        send(mautic, "post", "/api/contacts/new", {"email": "f@x.com", "shoe_size": 44}).json()["contact"][
            "fields"
        ]["all"]["shoe_size"]
        == 44
    )


def test_auth_basic_bearer_and_version_header(mautic, client_):
    me = mautic.get(f"{BASE}/api/users/self")
    assert me.status_code == 200 and me.json()["username"] == creds.MAUTIC_USERNAME
    assert me.headers["Mautic-Version"]
    refused = client_.get(f"{BASE}/api/users/self", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": [
            {"code": 401, "message": "API authorization denied.", "details": [], "type": "access_denied"}
        ]
    }
    token = client_.post(
        f"{BASE}/oauth/v2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.MAUTIC_CLIENT_ID,
            "client_secret": creds.MAUTIC_CLIENT_SECRET,
        },
    ).json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    assert bearer.get(f"{BASE}/api/users/self").status_code == 200
    refreshed = client_.post(
        f"{BASE}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": creds.MAUTIC_CLIENT_ID,
            "client_secret": creds.MAUTIC_CLIENT_SECRET,
            "refresh_token": token["refresh_token"],
        },
    )
    assert refreshed.status_code == 200
    bad = client_.post(f"{BASE}/oauth/v2/token", data={"grant_type": "client_credentials", "client_id": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
