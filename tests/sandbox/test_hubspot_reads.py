"""HubSpot sandbox reads: batch read and archive, archived records, property history, merges,
property groups by name and the JSON 404 of an unknown path.

Expected shapes are CRM-APIS.md §1.2-§1.7 and HubSpot's reference pages, written out literally.
"""

import json
import uuid

import pytest

from sandbox.models import SandboxRecord
from tests.sandbox.test_hubspot import BASE, assert_error_shape, post, upsert_inputs

pytestmark = pytest.mark.django_db
OBJECTS = "/crm/v3/objects/contacts"


def patch(client, path, body):
    return client.patch(f"{BASE}{path}", data=json.dumps(body), content_type="application/json")


def seed(client, emails, **properties):
    body = post(client, f"{OBJECTS}/batch/upsert", upsert_inputs(emails, **properties)).json()
    return {r["properties"]["email"]: r["id"] for r in body["results"]}


def read_body(ids, **extra):
    return {"inputs": [{"id": i} for i in ids], "properties": ["email", "firstname"], **extra}


def test_batch_read_by_id_answers_the_requested_properties(hubspot):
    ids = seed(hubspot, ["a@x.com", "b@x.com"])
    response = post(hubspot, f"{OBJECTS}/batch/read", read_body(list(ids.values())))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    assert {r["id"] for r in body["results"]} == set(ids.values())
    assert all(set(r["properties"]) == {"email", "firstname"} for r in body["results"])


def test_batch_read_reports_missing_ids_in_one_207_error(hubspot):
    ids = seed(hubspot, ["a@x.com"])
    response = post(hubspot, f"{OBJECTS}/batch/read", read_body([ids["a@x.com"], "999999", "888888"]))
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [ids["a@x.com"]]
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND" and error["status"] == "error"
    assert error["context"] == {"ids": ["999999", "888888"]}
    none_found = post(hubspot, f"{OBJECTS}/batch/read", read_body(["777777"]))
    assert none_found.status_code == 207 and none_found.json()["results"] == []


def test_batch_read_by_email_id_property(hubspot):
    ids = seed(hubspot, ["a@x.com"])
    response = post(
        hubspot, f"{OBJECTS}/batch/read", read_body(["A@x.com", "nobody@x.com"], idProperty="email")
    )
    assert response.status_code == 207
    assert response.json()["results"][0]["id"] == ids["a@x.com"]
    assert response.json()["errors"][0]["context"]["ids"] == ["nobody@x.com"]


def test_reads_by_a_unique_id_property(hubspot):
    created = post(
        hubspot,
        "/crm/v3/properties/contacts",
        {
            "name": "member_no",
            "label": "Member number",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "hasUniqueValue": True,
        },
    )
    assert created.status_code == 201
    ids = seed(hubspot, ["a@x.com"], member_no="M-7")
    read = hubspot.get(f"{BASE}{OBJECTS}/M-7?idProperty=member_no")
    assert read.status_code == 200 and read.json()["id"] == ids["a@x.com"]
    assert hubspot.get(f"{BASE}{OBJECTS}/M-8?idProperty=member_no").status_code == 404
    batch = post(hubspot, f"{OBJECTS}/batch/read", read_body(["M-7", "M-8"], idProperty="member_no"))
    assert [r["id"] for r in batch.json()["results"]] == [ids["a@x.com"]]
    assert batch.json()["errors"][0]["context"]["ids"] == ["M-8"]
    not_unique = hubspot.get(f"{BASE}{OBJECTS}/F?idProperty=firstname")
    assert not_unique.status_code == 400
    assert_error_shape(not_unique.json(), "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": []},
        {"inputs": [{"id": ""}]},
        {"inputs": "1"},
        {"inputs": [{"id": "1"}], "properties": "email"},
        {"inputs": [{"id": "1"}], "idProperty": "firstname"},  # not a unique property
        {"inputs": [{"id": str(i)} for i in range(51)], "propertiesWithHistory": ["email"]},
        {"inputs": [{"id": str(i)} for i in range(101)]},
    ],
)
def test_batch_read_refuses_bad_input_with_400(hubspot, body):
    response = post(hubspot, f"{OBJECTS}/batch/read", body)
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")


def test_unknown_requested_properties_are_left_out_and_empty_known_ones_are_null(hubspot):
    ids = seed(hubspot, ["a@x.com"])
    contact = hubspot.get(f"{BASE}{OBJECTS}/{ids['a@x.com']}?properties=email,no_such_prop,jobtitle").json()
    assert contact["properties"] == {"email": "a@x.com", "jobtitle": None}
    listed = hubspot.get(f"{BASE}{OBJECTS}?properties=no_such_prop&properties=firstname").json()
    assert listed["results"][0]["properties"] == {"firstname": "F"}
    searched = post(hubspot, f"{OBJECTS}/search", {"properties": ["email", "nope"]}).json()
    assert searched["results"][0]["properties"] == {"email": "a@x.com"}


def test_properties_with_history_lists_each_change_newest_first(hubspot):
    ids = seed(hubspot, ["a@x.com"], jobtitle="Dev")
    contact_id = ids["a@x.com"]
    patch(hubspot, f"{OBJECTS}/{contact_id}", {"properties": {"jobtitle": "CTO"}})
    patch(hubspot, f"{OBJECTS}/{contact_id}", {"properties": {"jobtitle": "CTO"}})  # unchanged: no entry
    read = hubspot.get(f"{BASE}{OBJECTS}/{contact_id}?propertiesWithHistory=jobtitle,nope").json()
    history = read["propertiesWithHistory"]
    assert list(history) == ["jobtitle"]
    assert [entry["value"] for entry in history["jobtitle"]] == ["CTO", "Dev"]
    assert all({"value", "timestamp", "sourceType"} <= set(entry) for entry in history["jobtitle"])
    assert history["jobtitle"][0]["timestamp"] >= history["jobtitle"][1]["timestamp"]
    batch = post(
        hubspot, f"{OBJECTS}/batch/read", read_body([contact_id], propertiesWithHistory=["jobtitle"])
    ).json()
    assert [e["value"] for e in batch["results"][0]["propertiesWithHistory"]["jobtitle"]] == ["CTO", "Dev"]
    listed = hubspot.get(f"{BASE}{OBJECTS}?propertiesWithHistory=firstname").json()
    assert listed["results"][0]["propertiesWithHistory"]["firstname"][0]["value"] == "F"
    plain = hubspot.get(f"{BASE}{OBJECTS}/{contact_id}").json()
    assert "propertiesWithHistory" not in plain


def test_history_of_a_seeded_record_is_its_current_value(hubspot, client_):
    client_.post(
        f"{BASE}/_control/records",
        content_type="application/json",
        data=json.dumps({"object_type": "contact", "records": [{"data": {"email": "s@x.com"}}]}),
    )
    contact_id = str(SandboxRecord.objects.get(kind="hubspot", object_type="contact").pk)
    read = hubspot.get(f"{BASE}{OBJECTS}/{contact_id}?propertiesWithHistory=email").json()
    assert [e["value"] for e in read["propertiesWithHistory"]["email"]] == ["s@x.com"]
    patch(hubspot, f"{OBJECTS}/{contact_id}", {"properties": {"email": "t@x.com"}})
    read = hubspot.get(f"{BASE}{OBJECTS}/{contact_id}?propertiesWithHistory=email").json()
    assert [e["value"] for e in read["propertiesWithHistory"]["email"]] == ["t@x.com", "s@x.com"]


def test_batch_archive_moves_records_to_the_recycle_bin(hubspot):
    ids = seed(hubspot, ["a@x.com", "b@x.com"])
    response = post(
        hubspot, f"{OBJECTS}/batch/archive", {"inputs": [{"id": ids["a@x.com"]}, {"id": "999999"}]}
    )
    assert response.status_code == 204 and response.content == b""
    live = hubspot.get(f"{BASE}{OBJECTS}").json()["results"]
    assert [r["id"] for r in live] == [ids["b@x.com"]]
    assert hubspot.get(f"{BASE}{OBJECTS}/{ids['a@x.com']}").status_code == 404
    archived = hubspot.get(f"{BASE}{OBJECTS}/{ids['a@x.com']}?archived=true")
    assert archived.status_code == 200
    assert archived.json()["archived"] is True and archived.json()["archivedAt"]
    binned = hubspot.get(f"{BASE}{OBJECTS}?archived=true").json()["results"]
    assert [(r["id"], r["archived"]) for r in binned] == [(ids["a@x.com"], True)]
    by_email = hubspot.get(f"{BASE}{OBJECTS}/a@x.com?idProperty=email&archived=true")
    assert by_email.status_code == 200 and by_email.json()["id"] == ids["a@x.com"]
    assert hubspot.get(f"{BASE}{OBJECTS}/a@x.com?idProperty=email").status_code == 404
    live_read = hubspot.get(f"{BASE}{OBJECTS}/{ids['b@x.com']}?archived=true")
    assert live_read.status_code == 404  # archived=true reads only the recycle bin
    # the email is free again, as HubSpot frees an archived contact's email
    assert seed(hubspot, ["a@x.com"])["a@x.com"] != ids["a@x.com"]


@pytest.mark.parametrize("body", [{"inputs": []}, {"inputs": [{"id": ""}]}, {"nothing": 1}])
def test_batch_archive_refuses_bad_input(hubspot, body):
    response = post(hubspot, f"{OBJECTS}/batch/archive", body)
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")


def test_list_with_history_pages_by_at_most_50(hubspot):
    assert hubspot.get(f"{BASE}{OBJECTS}?limit=50&propertiesWithHistory=email").status_code == 200
    response = hubspot.get(f"{BASE}{OBJECTS}?limit=51&propertiesWithHistory=email")
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")
    assert hubspot.get(f"{BASE}{OBJECTS}?limit=100").status_code == 200


def test_archived_flag_must_be_true_or_false(hubspot):
    response = hubspot.get(f"{BASE}{OBJECTS}?archived=maybe")
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")


def test_merge_makes_a_new_record_that_both_old_ids_answer(hubspot):
    ids = seed(hubspot, ["keep@x.com"], jobtitle="CTO")
    ids |= seed(hubspot, ["gone@x.com"], lastname="Other", jobtitle="Dev")
    primary, other = ids["keep@x.com"], ids["gone@x.com"]
    response = post(hubspot, f"{OBJECTS}/merge", {"primaryObjectId": primary, "objectIdToMerge": other})
    assert response.status_code == 200
    survivor = response.json()
    assert survivor["id"] not in (primary, other)
    for old in (primary, other):
        read = hubspot.get(f"{BASE}{OBJECTS}/{old}?properties=email,jobtitle,lastname,hs_merged_object_ids")
        assert read.status_code == 200
        assert read.json()["id"] == survivor["id"]
    props = read.json()["properties"]
    assert props["email"] == "keep@x.com" and props["jobtitle"] == "CTO"  # the primary's values win
    assert props["lastname"] == "Other"  # the merged record fills the gaps
    assert props["hs_merged_object_ids"] == ";".join(sorted([primary, other], key=int))
    by_email = hubspot.get(f"{BASE}{OBJECTS}/keep@x.com?idProperty=email").json()
    assert by_email["id"] == survivor["id"]
    batch = post(hubspot, f"{OBJECTS}/batch/read", read_body([other])).json()
    assert batch["results"][0]["id"] == survivor["id"]
    patched = patch(hubspot, f"{OBJECTS}/{other}", {"properties": {"company": "Acme"}})
    assert patched.status_code == 200 and patched.json()["id"] == survivor["id"]
    history = hubspot.get(f"{BASE}{OBJECTS}/{survivor['id']}?propertiesWithHistory=jobtitle").json()
    assert {e["value"] for e in history["propertiesWithHistory"]["jobtitle"]} == {"CTO", "Dev"}
    listed = hubspot.get(f"{BASE}{OBJECTS}").json()["results"]
    assert [r["id"] for r in listed] == [survivor["id"]]
    assert hubspot.get(f"{BASE}{OBJECTS}?archived=true").json()["results"] == []


def test_a_merge_of_a_merged_record_is_followed(hubspot):
    ids = seed(hubspot, ["a@x.com", "b@x.com", "c@x.com"])
    first = post(
        hubspot, f"{OBJECTS}/merge", {"primaryObjectId": ids["a@x.com"], "objectIdToMerge": ids["b@x.com"]}
    ).json()
    second = post(
        hubspot, f"{OBJECTS}/merge", {"primaryObjectId": ids["c@x.com"], "objectIdToMerge": first["id"]}
    ).json()
    read = hubspot.get(f"{BASE}{OBJECTS}/{ids['a@x.com']}?properties=hs_merged_object_ids").json()
    assert read["id"] == second["id"]
    merged = set(read["properties"]["hs_merged_object_ids"].split(";"))
    assert merged == {ids["a@x.com"], ids["b@x.com"], ids["c@x.com"], first["id"]}


def test_merge_refusals(hubspot):
    ids = seed(hubspot, ["a@x.com"])
    same = post(
        hubspot, f"{OBJECTS}/merge", {"primaryObjectId": ids["a@x.com"], "objectIdToMerge": ids["a@x.com"]}
    )
    assert same.status_code == 400
    assert_error_shape(same.json(), "VALIDATION_ERROR")
    missing = post(
        hubspot, f"{OBJECTS}/merge", {"primaryObjectId": ids["a@x.com"], "objectIdToMerge": "999999"}
    )
    assert missing.status_code == 404
    assert_error_shape(missing.json(), "OBJECT_NOT_FOUND")
    malformed = post(hubspot, f"{OBJECTS}/merge", {"primaryObjectId": ids["a@x.com"]})
    assert malformed.status_code == 400
    assert SandboxRecord.objects.filter(kind="hubspot", object_type="contact").count() == 1


GROUPS = "/crm/v3/properties/contacts/groups"


def test_property_group_read_update_archive(hubspot):
    created = post(hubspot, GROUPS, {"name": "events", "label": "Events", "displayOrder": 3})
    assert created.status_code == 201
    read = hubspot.get(f"{BASE}{GROUPS}/events")
    assert read.status_code == 200
    assert read.json() == {"name": "events", "label": "Events", "displayOrder": 3, "archived": False}
    updated = patch(hubspot, f"{GROUPS}/events", {"label": "Event data", "displayOrder": 1})
    assert updated.status_code == 200
    assert updated.json()["label"] == "Event data" and updated.json()["displayOrder"] == 1
    assert hubspot.get(f"{BASE}{GROUPS}/events").json()["label"] == "Event data"
    assert hubspot.delete(f"{BASE}{GROUPS}/events").status_code == 204
    gone = hubspot.get(f"{BASE}{GROUPS}/events")
    assert gone.status_code == 404
    assert_error_shape(gone.json(), "OBJECT_NOT_FOUND")
    assert "events" not in {g["name"] for g in hubspot.get(f"{BASE}{GROUPS}").json()["results"]}


def test_property_group_refusals(hubspot):
    assert hubspot.get(f"{BASE}{GROUPS}/contactinformation").status_code == 200
    for response in (
        patch(hubspot, f"{GROUPS}/contactinformation", {"label": "Mine"}),
        hubspot.delete(f"{BASE}{GROUPS}/contactinformation"),
    ):
        assert response.status_code == 400  # HubSpot's own groups stay as they are
    assert patch(hubspot, f"{GROUPS}/nope", {"label": "X"}).status_code == 404
    assert hubspot.delete(f"{BASE}{GROUPS}/nope").status_code == 404
    post(hubspot, GROUPS, {"name": "events", "label": "Events"})
    for body in ({"name": "renamed"}, {"label": ""}, {"displayOrder": "first"}):
        response = patch(hubspot, f"{GROUPS}/events", body)
        assert response.status_code == 400
        assert_error_shape(response.json(), "VALIDATION_ERROR")
    post(
        hubspot,
        "/crm/v3/properties/contacts",
        {"name": "venue", "label": "Venue", "type": "string", "fieldType": "text", "groupName": "events"},
    )
    held = hubspot.delete(f"{BASE}{GROUPS}/events")
    assert held.status_code == 400 and "venue" in held.json()["message"]
    assert hubspot.get(f"{BASE}{GROUPS}/events").status_code == 200


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/crm/v3/nothing/here"),
        ("post", "/crm/v4/objects/contacts"),
        ("delete", "/"),
        ("get", "/crm/v3/objects/contacts/1/extra/segments"),
    ],
)
def test_unknown_path_is_hubspot_json_404(hubspot, settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(hubspot, method)(f"{BASE}{path}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert_error_shape(body, "OBJECT_NOT_FOUND")
    uuid.UUID(body["correlationId"])
    assert path in body["message"]


@pytest.mark.parametrize("debug", [True, False])
def test_wrong_method_on_a_known_path_is_hubspot_json_405(hubspot, settings, debug):
    settings.DEBUG = debug
    response = hubspot.put(f"{BASE}{OBJECTS}", data="{}", content_type="application/json")
    assert response.status_code == 405
    body = response.json()
    assert body["status"] == "error" and body["category"] and body["correlationId"]


def test_unknown_path_needs_no_token(client_):
    response = client_.get(f"{BASE}/crm/v3/nowhere")
    assert response.status_code == 404
    assert_error_shape(response.json(), "OBJECT_NOT_FOUND")
