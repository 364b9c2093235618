"""Brevo sandbox: lists, folders, list membership, batch update and unknown paths."""

import json

import pytest
from django.test import Client, override_settings

from sandbox.models import SandboxRecord

pytestmark = pytest.mark.django_db
BASE = "/sandbox/brevo/v3"


def send(client, method, path, body=None):
    return getattr(client, method)(
        f"{BASE}{path}", data=json.dumps(body) if body is not None else None, content_type="application/json"
    )


def records(object_type):
    return SandboxRecord.objects.filter(kind="brevo", object_type=object_type)


def new_folder(client, name="Customers"):
    response = send(client, "post", "/contacts/folders", {"name": name})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def new_list(client, folder_id, name="Newsletter"):
    response = send(client, "post", "/contacts/lists", {"name": name, "folderId": folder_id})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def new_contact(client, email, **extra):
    response = send(client, "post", "/contacts", {"email": email, **extra})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def list_ids_of(client, identifier):
    return send(client, "get", f"/contacts/{identifier}").json()["listIds"]


def test_lists_are_created_read_paged_and_counted(brevo):
    folder = new_folder(brevo)
    first, second, third = (new_list(brevo, folder, f"L{n}") for n in range(3))
    new_contact(brevo, "a@x.com", listIds=[first, second])
    new_contact(brevo, "b@x.com", listIds=[first], emailBlacklisted=True)

    page = send(brevo, "get", "/contacts/lists?limit=2&offset=0").json()
    assert page["count"] == 3
    assert [item["id"] for item in page["lists"]] == [third, second]  # newest first by default
    ascending = send(brevo, "get", "/contacts/lists?limit=2&offset=1&sort=asc").json()
    assert [item["id"] for item in ascending["lists"]] == [second, third]
    assert send(brevo, "get", "/contacts/lists").json()["count"] == 3

    detail = send(brevo, "get", f"/contacts/lists/{first}").json()
    assert detail["name"] == "L0" and detail["folderId"] == folder and detail["dynamicList"] is False
    assert (detail["uniqueSubscribers"], detail["totalSubscribers"], detail["totalBlacklisted"]) == (2, 1, 1)
    assert "campaignStats" not in detail and detail["createdAt"]
    dated = send(
        brevo,
        "get",
        f"/contacts/lists/{first}?startDate=2024-01-01T00:00:00.000Z&endDate=2024-02-01T00:00:00.000Z",
    )
    assert dated.json()["campaignStats"] == []

    folder_body = send(brevo, "get", f"/contacts/folders/{folder}").json()
    # a@x.com is in two of the folder's lists and counts once
    assert folder_body == {
        "id": folder,
        "name": "Customers",
        "totalBlacklisted": 1,
        "totalSubscribers": 1,
        "uniqueSubscribers": 2,
    }


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=51", "out_of_range"),
        ("limit=-1", "out_of_range"),
        ("offset=-1", "out_of_range"),
        ("limit=ten", "invalid_parameter"),
        ("sort=up", "invalid_parameter"),
    ],
)
def test_list_and_folder_paging_refuses_bad_parameters(brevo, query, code):
    for path in ("/contacts/lists", "/contacts/folders"):
        response = send(brevo, "get", f"{path}?{query}")
        assert response.status_code == 400 and response.json()["code"] == code


def test_list_create_update_refuse_bad_input_without_writing(brevo):
    folder = new_folder(brevo)
    for body, code in [
        ({"folderId": folder}, "missing_parameter"),
        ({"name": "  ", "folderId": folder}, "invalid_parameter"),
        ({"name": "L"}, "missing_parameter"),
        ({"name": "L", "folderId": "1"}, "invalid_parameter"),
        ({"name": "L", "folderId": folder + 999}, "invalid_parameter"),
    ]:
        response = send(brevo, "post", "/contacts/lists", body)
        assert response.status_code == 400 and response.json()["code"] == code, body
    assert records("list").count() == 0
    assert send(brevo, "post", "/contacts/lists", [1]).status_code == 400

    list_id = new_list(brevo, folder)
    other = new_folder(brevo, "Other")
    both = send(brevo, "put", f"/contacts/lists/{list_id}", {"name": "N", "folderId": other})
    assert both.status_code == 400 and both.json()["code"] == "invalid_parameter"
    assert send(brevo, "put", f"/contacts/lists/{list_id}", {}).json()["code"] == "missing_parameter"
    assert send(brevo, "put", f"/contacts/lists/{list_id}", {"folderId": 987654}).status_code == 400
    assert records("list").get().data == {"name": "Newsletter", "folderId": folder}

    assert send(brevo, "put", f"/contacts/lists/{list_id}", {"name": "Weekly"}).status_code == 204
    assert send(brevo, "put", f"/contacts/lists/{list_id}", {"folderId": other}).status_code == 204
    assert records("list").get().data == {"name": "Weekly", "folderId": other}


def test_unknown_or_malformed_list_and_folder_ids(brevo):
    for method in ("get", "put", "delete"):
        missing = send(brevo, method, "/contacts/lists/987654", {"name": "x"} if method == "put" else None)
        assert missing.status_code == 404
        assert missing.json() == {"code": "document_not_found", "message": "List ID not found"}
        folder = send(brevo, method, "/contacts/folders/987654", {"name": "x"} if method == "put" else None)
        assert folder.json() == {"code": "document_not_found", "message": "Folder ID not found"}
    malformed = send(brevo, "get", "/contacts/lists/abc")
    assert malformed.status_code == 400 and malformed.json()["code"] == "invalid_parameter"
    assert send(brevo, "get", "/contacts/lists/987654/contacts").status_code == 404
    assert send(brevo, "get", "/contacts/folders/987654/lists").status_code == 404
    assert send(brevo, "post", "/contacts/lists/987654/contacts/add", {"ids": [1]}).status_code == 404


def test_list_detail_dates_must_come_together_and_parse(brevo):
    list_id = new_list(brevo, new_folder(brevo))
    lone = send(brevo, "get", f"/contacts/lists/{list_id}?startDate=2024-01-01T00:00:00.000Z")
    assert lone.status_code == 400 and lone.json()["code"] == "missing_parameter"
    bad = send(brevo, "get", f"/contacts/lists/{list_id}?startDate=soon&endDate=later")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
    backwards = send(
        brevo,
        "get",
        f"/contacts/lists/{list_id}?startDate=2024-02-01T00:00:00.000Z&endDate=2024-01-01T00:00:00.000Z",
    )
    assert backwards.status_code == 400


def test_add_and_remove_contacts_by_email_id_and_ext_id(brevo):
    list_id = new_list(brevo, new_folder(brevo))
    ann = new_contact(brevo, "ann@x.com")
    new_contact(brevo, "bob@x.com", ext_id="crm-7")
    added = send(
        brevo, "post", f"/contacts/lists/{list_id}/contacts/add", {"emails": ["ANN@x.com", "nobody@x.com"]}
    )
    assert added.status_code == 201
    assert added.json() == {"contacts": {"success": ["ANN@x.com"], "failure": ["nobody@x.com"]}}
    again = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/add", {"ids": [ann]})
    assert again.json() == {"contacts": {"failure": [ann]}}  # already in the list
    by_ext = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/add", {"extIds": ["crm-7", "crm-8"]})
    assert by_ext.json() == {"contacts": {"success": ["crm-7"], "failure": ["crm-8"]}}
    assert list_ids_of(brevo, "bob@x.com") == [list_id]

    members = send(brevo, "get", f"/contacts/lists/{list_id}/contacts?sort=asc").json()
    assert members["count"] == 2 and [c["email"] for c in members["contacts"]] == ["ann@x.com", "bob@x.com"]

    removed = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/remove", {"ids": [ann, ann + 999]})
    assert removed.json() == {"contacts": {"success": [ann], "failure": [ann + 999]}}
    assert list_ids_of(brevo, "ann@x.com") == []
    back = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/add", {"ids": [ann]})
    assert back.json() == {"contacts": {"success": [ann]}}  # an empty half is left out
    send(brevo, "post", f"/contacts/lists/{list_id}/contacts/remove", {"ids": [ann]})
    out = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/remove", {"emails": ["ann@x.com"]})
    assert out.json() == {"contacts": {"failure": ["ann@x.com"]}}  # already out


def test_remove_all_runs_a_completed_process(brevo):
    list_id = new_list(brevo, new_folder(brevo))
    for n in range(3):
        new_contact(brevo, f"c{n}@x.com", listIds=[list_id, 999])
    removed = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/remove", {"all": True})
    assert removed.status_code == 201
    body = removed.json()["contacts"]
    assert body["total"] == 3
    assert send(brevo, "get", f"/processes/{body['processId']}").json()["status"] == "completed"
    assert [list_ids_of(brevo, f"c{n}@x.com") for n in range(3)] == [[999]] * 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_parameter"),
        ({"emails": ["a@x.com"], "ids": [1]}, "invalid_parameter"),
        ({"emails": "a@x.com"}, "invalid_parameter"),
        ({"ids": ["1"]}, "invalid_parameter"),
        ({"ids": [True]}, "invalid_parameter"),
        ({"ids": []}, "out_of_range"),
        ({"ids": list(range(151))}, "out_of_range"),
        ({"all": True}, "missing_parameter"),  # only remove takes all
    ],
)
def test_add_refuses_bad_bodies_without_writing(brevo, body, code):
    list_id = new_list(brevo, new_folder(brevo))
    contact_id = new_contact(brevo, "a@x.com")
    response = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/add", body)
    assert response.status_code == 400 and response.json()["code"] == code
    assert records("contact").get(pk=contact_id).data.get("listIds") == []


def test_remove_all_must_be_true(brevo):
    list_id = new_list(brevo, new_folder(brevo))
    response = send(brevo, "post", f"/contacts/lists/{list_id}/contacts/remove", {"all": False})
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


def test_list_contacts_filter_by_modified_since_and_page(brevo, client_):
    list_id = new_list(brevo, new_folder(brevo))
    client_.post(
        "/sandbox/brevo/_control/records",
        content_type="application/json",
        data=json.dumps(
            {
                "object_type": "contact",
                "records": [
                    {
                        "key": f"m{i}@x.com",
                        "data": {
                            "email": f"m{i}@x.com",
                            "attributes": {},
                            "listIds": [list_id] if i else [12],
                        },
                        "updated_at": f"2024-03-0{i + 1}T00:00:00Z",
                    }
                    for i in range(4)
                ],
            }
        ),
    )
    page = send(
        brevo,
        "get",
        f"/contacts/lists/{list_id}/contacts?modifiedSince=2024-03-03T00:00:00.000Z&sort=asc&limit=1&offset=1",
    ).json()
    assert page["count"] == 2 and [c["email"] for c in page["contacts"]] == ["m3@x.com"]
    # 12 is not list_id 1 or 2 although it contains the digit: membership is exact
    assert send(brevo, "get", f"/contacts/lists/{list_id}/contacts").json()["count"] == 3
    assert send(brevo, "get", f"/contacts/lists/{list_id}/contacts?limit=501").status_code == 400
    assert send(brevo, "get", f"/contacts/lists/{list_id}/contacts?modifiedSince=x").status_code == 400


def test_deleting_a_list_or_a_folder_unlinks_its_contacts(brevo):
    folder = new_folder(brevo)
    kept_folder = new_folder(brevo, "Kept")
    first, second = new_list(brevo, folder, "A"), new_list(brevo, folder, "B")
    kept = new_list(brevo, kept_folder, "K")
    new_contact(brevo, "a@x.com", listIds=[first, second, kept])
    assert send(brevo, "delete", f"/contacts/lists/{first}").status_code == 204
    assert list_ids_of(brevo, "a@x.com") == sorted([second, kept])
    assert send(brevo, "delete", f"/contacts/folders/{folder}").status_code == 204
    assert list_ids_of(brevo, "a@x.com") == [kept]
    assert set(records("list").values_list("pk", flat=True)) == {kept}
    assert send(brevo, "get", f"/contacts/folders/{folder}").status_code == 404


def test_folders_paged_renamed_and_their_lists(brevo):
    first, second = new_folder(brevo, "F1"), new_folder(brevo, "F2")
    inside = [new_list(brevo, second, f"L{n}") for n in range(3)]
    new_list(brevo, first, "elsewhere")
    page = send(brevo, "get", "/contacts/folders?limit=1").json()
    assert page["count"] == 2 and [f["id"] for f in page["folders"]] == [second]
    assert send(brevo, "put", f"/contacts/folders/{first}", {"name": "Renamed"}).status_code == 204
    assert send(brevo, "get", f"/contacts/folders/{first}").json()["name"] == "Renamed"
    assert send(brevo, "put", f"/contacts/folders/{first}", {}).json()["code"] == "missing_parameter"
    assert send(brevo, "post", "/contacts/folders", {"name": 3}).json()["code"] == "invalid_parameter"
    lists = send(brevo, "get", f"/contacts/folders/{second}/lists?sort=asc&limit=2&offset=1").json()
    assert lists["count"] == 3 and [item["id"] for item in lists["lists"]] == inside[1:]
    assert "folderId" not in lists["lists"][0]  # getFolderLists items are getList


def test_create_and_update_add_lists_and_unlink_removes_them(brevo):
    contact_id = new_contact(brevo, "u@x.com", listIds=[3, 2, 3])
    assert list_ids_of(brevo, contact_id) == [2, 3]
    send(brevo, "put", f"/contacts/{contact_id}", {"listIds": [5], "unlinkListIds": [2]})
    assert list_ids_of(brevo, contact_id) == [3, 5]
    upsert = send(brevo, "post", "/contacts", {"email": "u@x.com", "listIds": [7], "updateEnabled": True})
    assert upsert.status_code == 204
    assert list_ids_of(brevo, contact_id) == [3, 5, 7]
    refused = send(brevo, "put", f"/contacts/{contact_id}", {"unlinkListIds": "2"})
    assert refused.status_code == 400 and list_ids_of(brevo, contact_id) == [3, 5, 7]


def test_batch_update_changes_every_contact(brevo):
    ann = new_contact(brevo, "ann@x.com", attributes={"FIRSTNAME": "Ann"}, listIds=[1])
    new_contact(brevo, "bob@x.com")
    new_contact(brevo, "sms@x.com", attributes={"SMS": "+33612345678"})
    response = send(
        brevo,
        "post",
        "/contacts/batch",
        {
            "contacts": [
                {"id": ann, "attributes": {"LASTNAME": "Lee"}, "listIds": [2], "unlinkListIds": [1]},
                {"email": "BOB@x.com", "attributes": {"EMAIL": "robert@x.com"}, "emailBlacklisted": True},
                {"sms": "+33612345678", "ext_id": "e-1"},
            ]
        },
    )
    assert response.status_code == 204 and response.content == b""
    ann_now = send(brevo, "get", f"/contacts/{ann}").json()
    assert ann_now["attributes"] == {"FIRSTNAME": "Ann", "LASTNAME": "Lee"} and ann_now["listIds"] == [2]
    robert = send(brevo, "get", "/contacts/robert@x.com").json()
    assert robert["emailBlacklisted"] is True
    assert send(brevo, "get", "/contacts/bob@x.com").status_code == 404
    assert records("contact").get(key="sms@x.com").data["ext_id"] == "e-1"


def test_batch_update_with_an_unknown_contact_writes_nothing(brevo):
    ann = new_contact(brevo, "ann@x.com")
    before = records("contact").get(pk=ann)
    response = send(
        brevo,
        "post",
        "/contacts/batch",
        {
            "contacts": [
                {"id": ann, "attributes": {"LASTNAME": "Lee"}},
                {"email": "ghost@x.com", "attributes": {"LASTNAME": "G"}},
                {"id": ann + 999},
            ]
        },
    )
    assert response.status_code == 404
    assert response.json() == {"code": "document_not_found", "message": "No contact found for indexes 1,2"}
    after = records("contact").get(pk=ann)
    assert (after.data, after.write_count, after.updated_at) == (before.data, 1, before.updated_at)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_parameter"),
        ({"contacts": []}, "invalid_parameter"),
        ({"contacts": {"email": "ann@x.com"}}, "invalid_parameter"),
        ({"contacts": ["ann@x.com"]}, "invalid_parameter"),
        ({"contacts": [{"attributes": {"LASTNAME": "x"}}]}, "invalid_parameter"),
        ({"contacts": [{"email": "ann@x.com", "id": 1}]}, "invalid_parameter"),
        ({"contacts": [{"id": "1"}]}, "invalid_parameter"),
        ({"contacts": [{"email": "ann@x.com", "attributes": {"SHOE": 1}}]}, "invalid_parameter"),
        ({"contacts": [{"email": "ann@x.com", "listIds": ["1"]}]}, "invalid_parameter"),
        ({"contacts": [{"email": "ann@x.com", "attributes": {"EMAIL": "bob@x.com"}}]}, "duplicate_parameter"),
        (
            {"contacts": [{"email": "ann@x.com", "attributes": {"EMAIL": "not-an-email"}}]},
            "invalid_parameter",
        ),
    ],
)
def test_batch_update_refuses_bad_input_without_writing(brevo, body, code):
    new_contact(brevo, "ann@x.com", attributes={"FIRSTNAME": "Ann"})
    new_contact(brevo, "bob@x.com")
    before = {r.pk: (r.key, r.data, r.write_count) for r in records("contact")}
    response = send(brevo, "post", "/contacts/batch", body)
    assert response.status_code == 400 and response.json()["code"] == code
    assert {r.pk: (r.key, r.data, r.write_count) for r in records("contact")} == before


def test_import_new_list_is_created_in_its_folder_with_blacklists(brevo):
    folder = new_folder(brevo)
    body = {
        "jsonBody": [{"email": "i@x.com", "attributes": {"FIRSTNAME": "Imp"}}],
        "newList": {"listName": "Imported", "folderId": folder},
        "emailBlacklist": True,
    }
    assert send(brevo, "post", "/contacts/import", body).status_code == 202
    created = records("list").get()
    assert created.data == {"name": "Imported", "folderId": folder}
    contact = send(brevo, "get", "/contacts/i@x.com").json()
    assert contact["listIds"] == [created.pk] and contact["emailBlacklisted"] is True


@pytest.mark.parametrize(
    "new_list",
    [{"listName": "X"}, {"listName": "X", "folderId": 987654}, {"listName": "X", "folderId": "1"}, "X"],
)
def test_import_new_list_needs_an_existing_folder(brevo, new_list):
    body = {"jsonBody": [{"email": "i@x.com"}], "newList": new_list}
    response = send(brevo, "post", "/contacts/import", body)
    assert response.status_code == 400
    assert not records("list").exists() and not records("contact").exists()
    assert not records("process").exists()


def test_import_list_ids_must_be_integers(brevo):
    response = send(brevo, "post", "/contacts/import", {"jsonBody": [{"email": "i@x.com"}], "listIds": ["2"]})
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"
    assert not records("contact").exists()


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path",
    [
        "/sandbox/brevo/v3/nope",
        "/sandbox/brevo/v3/contacts/1/2/3",
        "/sandbox/brevo/v2/contacts",
        "/sandbox/brevo/",
    ],
)
def test_unknown_paths_answer_brevo_json_not_django_html(brevo, debug, path):
    with override_settings(DEBUG=debug):
        response = brevo.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "not_found",
        "message": f"GET {path} is not an endpoint of the Brevo sandbox",
    }


def test_unknown_paths_need_no_key_and_documented_unemulated_ones_are_not_contacts(client_):
    assert client_.post(f"{BASE}/unknown/thing").json()["code"] == "not_found"
    segments = Client(HTTP_API_KEY="sandbox-brevo-key").get(f"{BASE}/contacts/segments")
    assert segments.status_code == 404 and segments.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/contacts/lists"),
        ("delete", "/contacts/folders"),
        ("get", "/contacts/batch"),
        ("put", "/contacts/lists/1/contacts/add"),
        ("post", "/contacts/folders/1/lists"),
    ],
)
def test_wrong_methods_answer_brevo_405(brevo, method, path):
    response = send(brevo, method, path)
    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": f"{method.upper()} is not allowed here.",
    }


def test_contacts_list_filters_by_lists_and_ids(brevo):
    first = new_contact(brevo, "a@x.com", listIds=[1, 12])
    second = new_contact(brevo, "b@x.com", listIds=[2])
    new_contact(brevo, "c@x.com", listIds=[21])

    def emails(query):
        response = send(brevo, "get", f"/contacts?sort=asc&{query}")
        assert response.status_code == 200, response.content
        return [c["email"] for c in response.json()["contacts"]], response.json()["count"]

    assert emails("listIds=1") == (["a@x.com"], 1)
    assert emails("listIds=1&listIds=2") == (["a@x.com", "b@x.com"], 2)
    assert emails("listIds=2,21") == (["b@x.com", "c@x.com"], 2)
    assert emails(f"ids={second}&ids={first}") == (["a@x.com", "b@x.com"], 2)
    assert emails(f"ids={first}&listIds=2") == ([], 0)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("listIds=one", "invalid_parameter"),
        ("ids=-1", "invalid_parameter"),
        ("ids=" + ",".join(str(n) for n in range(1, 22)), "out_of_range"),
        ("segmentId=3", "invalid_parameter"),
        ('filter=equals(FIRSTNAME,"Ann")', "invalid_parameter"),
    ],
)
def test_contacts_list_refuses_filters_it_cannot_apply(brevo, query, code):
    new_contact(brevo, "a@x.com")
    response = send(brevo, "get", f"/contacts?{query}")
    assert response.status_code == 400 and response.json()["code"] == code


def test_a_null_ext_id_is_not_stored(brevo):
    contact_id = new_contact(brevo, "n@x.com", ext_id=None)
    send(brevo, "post", "/contacts/batch", {"contacts": [{"id": contact_id, "ext_id": None}]})
    assert "ext_id" not in records("contact").get(pk=contact_id).data
