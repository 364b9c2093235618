"""The Brevo sandbox's requests and responses validate against Brevo's OpenAPI spec.

The spec is read where it lives (see brevo_spec); every test here skips only when the file
is absent.
"""

import json

import jsonschema
import pytest

from .brevo_spec import assert_request_matches, assert_response_matches, operation, spec, validate

pytestmark = pytest.mark.django_db
BASE = "/sandbox/brevo/v3"


def call(client, method, path, spec_path, body=None, *, schema: str | None = None, off_spec: bool = False):
    """Send `body` (checked against the operation's request schema, or the component `schema`),
    then check the answer. `off_spec` bodies are meant to break the schema, and must."""
    if body is not None:
        check = (
            (lambda: validate({"$ref": f"#/components/schemas/{schema}"}, body))
            if schema
            else (lambda: assert_request_matches(spec_path, method, body))
        )
        if off_spec:
            with pytest.raises(jsonschema.ValidationError):
                check()
        else:
            check()
    response = getattr(client, method)(
        f"{BASE}{path}", data=json.dumps(body) if body is not None else None, content_type="application/json"
    )
    assert_response_matches(spec_path, method, response)
    return response


def test_contacts_endpoints_match_the_spec(brevo):
    create = {"email": "c@x.com", "attributes": {"FIRSTNAME": "Cy", "LASTNAME": "Lo"}, "updateEnabled": True}
    contact_id = call(brevo, "post", "/contacts", "/contacts", create).json()["id"]
    call(brevo, "post", "/contacts", "/contacts", {**create, "attributes": {"FIRSTNAME": "C2"}})  # 204
    call(brevo, "post", "/contacts", "/contacts", {"email": "c@x.com"})  # 400 duplicate, contactErrorModel
    call(brevo, "post", "/contacts", "/contacts", {"email": "not-an-email"})  # 400
    call(
        brevo,
        "get",
        "/contacts?limit=10&offset=0&sort=asc&modifiedSince=2020-01-01T00:00:00.000Z",
        "/contacts",
    )
    call(brevo, "get", "/contacts?limit=5000", "/contacts")  # 400 errorModel
    call(brevo, "get", "/contacts/c%40x.com", "/contacts/{identifier}")
    call(brevo, "get", f"/contacts/{contact_id}", "/contacts/{identifier}")
    call(brevo, "get", "/contacts/nobody%40x.com", "/contacts/{identifier}")  # 404
    call(
        brevo, "put", f"/contacts/{contact_id}", "/contacts/{identifier}", {"attributes": {"LASTNAME": "L2"}}
    )
    call(
        brevo, "put", "/contacts/nobody%40x.com", "/contacts/{identifier}", {"attributes": {"LASTNAME": "x"}}
    )
    call(brevo, "delete", f"/contacts/{contact_id}", "/contacts/{identifier}")
    call(brevo, "delete", f"/contacts/{contact_id}", "/contacts/{identifier}")  # 404


def test_import_and_process_match_the_spec(brevo):
    body = {
        "jsonBody": [{"email": "i@x.com", "attributes": {"FIRSTNAME": "Imp"}}],
        "listIds": [3],
        "updateExistingContacts": True,
        "emptyContactsAttributes": False,
    }
    process_id = call(brevo, "post", "/contacts/import", "/contacts/import", body).json()["processId"]
    call(brevo, "post", "/contacts/import", "/contacts/import", {"listIds": [3]})  # 400
    call(brevo, "get", f"/processes/{process_id}", "/processes/{processId}")
    call(brevo, "get", "/processes/987654", "/processes/{processId}")  # 404


def test_attributes_and_account_match_the_spec(brevo):
    path = "/contacts/attributes/{attributeCategory}/{attributeName}"
    call(brevo, "post", "/contacts/attributes/normal/COMPANY", path, {"type": "text"})
    call(brevo, "post", "/contacts/attributes/normal/COMPANY", path, {"type": "text"})  # 400 duplicate
    call(
        brevo,
        "post",
        "/contacts/attributes/category/TIER",
        path,
        {"enumeration": [{"value": 1, "label": "Gold"}]},
    )
    call(
        brevo,
        "put",
        "/contacts/attributes/category/TIER",
        path,
        {"enumeration": [{"value": 2, "label": "Silver"}]},
    )
    call(
        brevo,
        "put",
        "/contacts/attributes/normal/MISSING",
        path,
        {"enumeration": [{"value": 2, "label": "S"}]},
    )
    call(brevo, "delete", "/contacts/attributes/normal/COMPANY", path)
    call(brevo, "get", "/contacts/attributes", "/contacts/attributes")
    call(brevo, "get", "/account", "/account")


def test_rate_limited_answer_matches_the_error_model_shape(brevo, configure):
    """The spec's errorModel enum has no rate-limit code; the 429 keeps its shape (code, message strings)."""
    configure(
        "brevo",
        rate_limit_enabled=True,
        rate_limits={"contacts": {"max": 1, "interval_ms": 3_600_000, "slot_ms": 60_000}},
    )
    brevo.get(f"{BASE}/contacts")
    refused = brevo.get(f"{BASE}/contacts")
    assert refused.status_code == 429
    assert "429" in operation("/contacts", "get")["responses"]
    error_model = json.loads(json.dumps(spec()["components"]["schemas"]["errorModel"]))
    error_model["properties"]["code"].pop("enum")
    validate(error_model, refused.json())


def test_lists_and_folders_match_the_spec(brevo):
    folder_id = call(brevo, "post", "/contacts/folders", "/contacts/folders", {"name": "Shop"}).json()["id"]
    call(brevo, "post", "/contacts/folders", "/contacts/folders", {})  # 400 missing name
    call(brevo, "get", "/contacts/folders?limit=10&offset=0&sort=asc", "/contacts/folders")
    call(brevo, "get", "/contacts/folders?limit=51", "/contacts/folders")  # 400
    folder_path = "/contacts/folders/{folderId}"
    call(brevo, "get", f"/contacts/folders/{folder_id}", folder_path)
    call(brevo, "get", "/contacts/folders/987654", folder_path)  # 404
    call(brevo, "put", f"/contacts/folders/{folder_id}", folder_path, {"name": "Shop 2"})
    call(brevo, "put", "/contacts/folders/987654", folder_path, {"name": "x"})  # 404

    list_body = {"name": "Buyers", "folderId": folder_id}
    list_id = call(brevo, "post", "/contacts/lists", "/contacts/lists", list_body).json()["id"]
    call(
        brevo, "post", "/contacts/lists", "/contacts/lists", {"name": "No folder", "folderId": 987654}
    )  # 400
    call(brevo, "post", "/contacts", "/contacts", {"email": "m@x.com", "listIds": [list_id]})
    call(brevo, "get", "/contacts/lists?limit=50&offset=0&sort=desc", "/contacts/lists")
    call(brevo, "get", "/contacts/lists?sort=sideways", "/contacts/lists")  # 400
    list_path = "/contacts/lists/{listId}"
    call(brevo, "get", f"/contacts/lists/{list_id}", list_path)
    dates = "startDate=2024-01-01T00:00:00.000Z&endDate=2024-02-01T00:00:00.000Z"
    call(brevo, "get", f"/contacts/lists/{list_id}?{dates}", list_path)
    call(brevo, "get", f"/contacts/lists/{list_id}?startDate=2024-01-01T00:00:00.000Z", list_path)  # 400
    call(brevo, "get", "/contacts/lists/987654", list_path)  # 404
    call(brevo, "put", f"/contacts/lists/{list_id}", list_path, {"name": "Buyers 2"})
    call(brevo, "put", f"/contacts/lists/{list_id}", list_path, {"name": "B", "folderId": folder_id})  # 400
    call(brevo, "put", "/contacts/lists/987654", list_path, {"name": "x"})  # 404
    call(brevo, "get", f"/contacts/folders/{folder_id}/lists?limit=5", "/contacts/folders/{folderId}/lists")
    call(brevo, "get", "/contacts/folders/987654/lists", "/contacts/folders/{folderId}/lists")  # 404

    members = "/contacts/lists/{listId}/contacts"
    call(brevo, "get", f"/contacts/lists/{list_id}/contacts?limit=500&sort=asc", members)
    call(brevo, "get", f"/contacts/lists/{list_id}/contacts?modifiedSince=2020-01-01T00:00:00Z", members)
    call(brevo, "get", f"/contacts/lists/{list_id}/contacts?limit=501", members)  # 400
    call(brevo, "get", "/contacts/lists/987654/contacts", members)  # 404

    call(brevo, "delete", f"/contacts/lists/{list_id}", list_path)
    call(brevo, "delete", f"/contacts/lists/{list_id}", list_path)  # 404
    call(brevo, "delete", f"/contacts/folders/{folder_id}", folder_path)
    call(brevo, "delete", f"/contacts/folders/{folder_id}", folder_path)  # 404


def test_list_membership_matches_the_spec(brevo):
    folder_id = call(brevo, "post", "/contacts/folders", "/contacts/folders", {"name": "F"}).json()["id"]
    list_body = {"name": "L", "folderId": folder_id}
    list_id = call(brevo, "post", "/contacts/lists", "/contacts/lists", list_body).json()["id"]
    contact_id = call(brevo, "post", "/contacts", "/contacts", {"email": "m@x.com"}).json()["id"]
    # The spec's request oneOf cannot hold (none of its alternatives requires anything, so every
    # body matches all of them): each body is checked against the alternative it is meant as.
    add, remove = "/contacts/lists/{listId}/contacts/add", "/contacts/lists/{listId}/contacts/remove"
    adding, removing = f"/contacts/lists/{list_id}/contacts/add", f"/contacts/lists/{list_id}/contacts/remove"
    by_email = {"emails": ["m@x.com", "ghost@x.com"]}
    call(brevo, "post", adding, add, by_email, schema="addContactToListByEmails")
    call(brevo, "post", adding, add, {"ids": [contact_id]}, schema="addContactToListByIDs")
    call(brevo, "post", adding, add, {"extIds": ["nobody"]}, schema="addContactToListByExtIDs")
    call(brevo, "post", adding, add, {"ids": []}, schema="addContactToListByIDs", off_spec=True)  # 400
    missing = "/contacts/lists/987654/contacts/add"
    call(brevo, "post", missing, add, {"ids": [contact_id]}, schema="addContactToListByIDs")  # 404
    call(brevo, "post", removing, remove, {"ids": [contact_id]}, schema="removeContactFromListByIDs")
    call(brevo, "post", removing, remove, {"all": True}, schema="removeContactFromListByAll")
    by_string = {"emails": "m@x.com"}
    call(brevo, "post", removing, remove, by_string, schema="removeContactFromListByEmails", off_spec=True)
    missing = "/contacts/lists/987654/contacts/remove"
    call(brevo, "post", missing, remove, {"all": True}, schema="removeContactFromListByAll")  # 404


def test_batch_update_matches_the_spec(brevo):
    contact_id = call(brevo, "post", "/contacts", "/contacts", {"email": "b@x.com"}).json()["id"]
    body = {
        "contacts": [
            {"id": contact_id, "attributes": {"FIRSTNAME": "B"}, "listIds": [4], "unlinkListIds": [5]},
            {"email": "b@x.com", "smsBlacklisted": True},
        ]
    }
    call(brevo, "post", "/contacts/batch", "/contacts/batch", body)  # 204
    call(
        brevo,
        "post",
        "/contacts/batch",
        "/contacts/batch",
        {"contacts": [{"id": contact_id, "email": "b@x.com"}]},
    )
    call(brevo, "post", "/contacts/batch", "/contacts/batch", {"contacts": [{"email": "ghost@x.com"}]})  # 404


def test_import_with_a_new_list_matches_the_spec(brevo):
    folder_id = call(brevo, "post", "/contacts/folders", "/contacts/folders", {"name": "F"}).json()["id"]
    body = {
        "fileBody": "EMAIL;FIRSTNAME\nf@x.com;Fi",
        "newList": {"listName": "Imported", "folderId": folder_id},
        "emailBlacklist": False,
        "smsBlacklist": False,
        "disableNotification": True,
    }
    call(brevo, "post", "/contacts/import", "/contacts/import", body)
    call(brevo, "post", "/contacts/import", "/contacts/import", {**body, "newList": {"listName": "X"}})  # 400
