"""Mautic sandbox: multiselect values, field descriptions, empty groups, minimal=1, batch delete."""

import json

import pytest

from tests.sandbox.test_mautic import BASE, contacts, send

pytestmark = pytest.mark.django_db
SERVICES = {
    "label": "Services",
    "type": "multiselect",
    "properties": {"list": [{"label": s, "value": s} for s in ("Shower Trailer", "Portable Toilet", "Sink")]},
}


@pytest.fixture
def services(mautic):
    response = send(mautic, "post", "/api/fields/contact/new", SERVICES)
    assert response.status_code == 201, response.json()
    return response.json()["field"]


def test_batch_new_takes_a_multiselect_as_an_array_or_a_pipe_string_and_stores_it_pipe_joined(
    mautic, services
):
    # when
    response = send(
        mautic,
        "post",
        "/api/contacts/batch/new",
        [
            {"email": "a@x.com", "services": ["Shower Trailer", "Portable Toilet"]},
            {"email": "b@x.com", "services": "Sink|Shower Trailer"},
            {"email": "c@x.com", "services": "Sink"},
        ],
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["statusCodes"] == [201, 201, 201]
    assert [c["fields"]["all"]["services"] for c in body["contacts"]] == [
        "Shower Trailer|Portable Toilet",
        "Sink|Shower Trailer",
        "Sink",
    ]
    assert body["contacts"][0]["fields"]["core"]["services"]["value"] == "Shower Trailer|Portable Toilet"
    stored = contacts().get(key="a@x.com").data["services"]
    assert stored == "Shower Trailer|Portable Toilet"


def test_single_create_and_edits_take_arrays_for_a_multiselect(mautic, services):
    created = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com", "services": ["Sink"]})
    assert created.status_code == 201, created.json()
    contact_id = created.json()["contact"]["id"]
    patched = send(
        mautic, "patch", f"/api/contacts/{contact_id}/edit", {"services": ["Sink", "Portable Toilet"]}
    )
    assert patched.json()["contact"]["fields"]["all"]["services"] == "Sink|Portable Toilet"
    batch = send(mautic, "patch", "/api/contacts/batch/edit", [{"id": contact_id, "services": []}])
    # an empty selection is an empty value: skipped unless overwriteWithBlank, as Mautic does
    assert batch.json()["contacts"][0]["fields"]["all"]["services"] == "Sink|Portable Toilet"
    put = send(mautic, "put", f"/api/contacts/{contact_id}/edit", {"email": "a@x.com", "services": []})
    assert put.json()["contact"]["fields"]["all"]["services"] == ""


@pytest.mark.parametrize(
    "value",
    [["Shower Trailer", "Hot Tub"], "Hot Tub", [["Sink"]], {"a": "Sink"}],
    ids=["array-with-unknown-option", "unknown-option", "nested-array", "object"],
)
def test_a_multiselect_value_outside_the_options_fails_its_item_only(mautic, services, value):
    response = send(
        mautic,
        "post",
        "/api/contacts/batch/new",
        [{"email": "ok@x.com", "services": ["Sink"]}, {"email": "bad@x.com", "services": value}],
    )
    assert response.status_code == 201
    body = response.json()
    assert body["statusCodes"] == [201, 400]
    assert body["errors"]["1"] == {
        "message": "services: This value is not valid.",
        "code": 400,
        "type": "api",
    }
    assert list(contacts().values_list("key", flat=True)) == ["ok@x.com"]


def test_other_fields_keep_refusing_arrays(mautic, services):
    response = send(
        mautic, "post", "/api/contacts/batch/new", [{"email": "a@x.com", "firstname": ["A", "B"]}]
    )
    assert response.json()["errors"]["0"]["message"] == "firstname: This value should be a scalar."
    single = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com", "city": ["X"]})
    assert single.status_code == 400
    assert single.json()["errors"][0]["message"] == "city: This value should be a scalar."
    assert not contacts().exists()


def test_a_select_value_must_be_one_of_its_options(mautic):
    field = {"label": "Size", "type": "select", "properties": {"list": [{"label": "S", "value": "s"}]}}
    assert send(mautic, "post", "/api/fields/contact/new", field).status_code == 201
    ok = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com", "size": "s"})
    assert ok.status_code == 201 and ok.json()["contact"]["fields"]["all"]["size"] == "s"
    bad = send(mautic, "post", "/api/contacts/new", {"email": "b@x.com", "size": "xl"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"] == "size: This value is not valid."


def test_field_description_is_stored_and_returned_on_get_post_and_patch(mautic):
    created = send(mautic, "post", "/api/fields/contact/new", {"label": "Budget", "description": "In USD"})
    assert created.status_code == 201 and created.json()["field"]["description"] == "In USD"
    field_id = created.json()["field"]["id"]
    assert mautic.get(f"{BASE}/api/fields/contact/{field_id}").json()["field"]["description"] == "In USD"
    patched = send(mautic, "patch", f"/api/fields/contact/{field_id}/edit", {"description": "In EUR"})
    assert patched.json()["field"]["description"] == "In EUR"
    listed = {f["alias"]: f for f in mautic.get(f"{BASE}/api/fields/contact").json()["fields"]}
    assert listed["budget"]["description"] == "In EUR"
    assert listed["email"]["description"] is None
    # a text field has no options: PHP's empty array, []
    assert listed["budget"]["properties"] == []


def test_a_description_that_is_not_a_string_is_a_422_and_changes_nothing(mautic):
    created = send(mautic, "post", "/api/fields/contact/new", {"label": "Budget", "description": "In USD"})
    field_id = created.json()["field"]["id"]
    bad = send(mautic, "patch", f"/api/fields/contact/{field_id}/edit", {"description": ["x"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["details"] == {"description": ["This value should be of type string."]}
    assert mautic.get(f"{BASE}/api/fields/contact/{field_id}").json()["field"]["description"] == "In USD"
    assert (
        send(mautic, "post", "/api/fields/contact/new", {"label": "X", "description": 3}).status_code == 422
    )


def test_empty_field_groups_are_json_lists(mautic):
    body = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com"}).json()["contact"]
    assert body["fields"]["personal"] == [] and body["fields"]["professional"] == []
    assert isinstance(body["fields"]["core"], dict) and body["fields"]["core"]["email"]["value"] == "a@x.com"


def test_minimal_leaves_out_tags_utmtags_and_do_not_contact(mautic):
    contact_id = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com"}).json()["contact"]["id"]
    lists = ("tags", "utmtags", "doNotContact")
    full = mautic.get(f"{BASE}/api/contacts/{contact_id}").json()["contact"]
    assert all(name in full for name in lists)
    minimal = mautic.get(f"{BASE}/api/contacts/{contact_id}?minimal=1").json()["contact"]
    assert not any(name in minimal for name in lists) and minimal["fields"]["all"]["email"] == "a@x.com"
    listed = mautic.get(f"{BASE}/api/contacts?minimal=1").json()["contacts"][str(contact_id)]
    assert not any(name in listed for name in lists)
    assert all(
        name in mautic.get(f"{BASE}/api/contacts").json()["contacts"][str(contact_id)] for name in lists
    )


def _create(mautic, *emails):
    body = send(mautic, "post", "/api/contacts/batch/new", [{"email": e} for e in emails]).json()
    return [c["id"] for c in body["contacts"]]


def test_batch_delete_by_query_ids(mautic):
    first, second, third = _create(mautic, "a@x.com", "b@x.com", "c@x.com")
    response = mautic.delete(f"{BASE}/api/contacts/batch/delete?ids={first},{third}")
    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["contacts"]] == [first, third] and "errors" not in body
    assert list(contacts().values_list("pk", flat=True)) == [second]


def test_batch_delete_by_body_ids_reports_unknown_ones_by_index(mautic):
    (first,) = _create(mautic, "a@x.com")
    response = mautic.delete(
        f"{BASE}/api/contacts/batch/delete",
        data=json.dumps({"ids": [424242, first, "x"]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["contacts"] == {"1": body["contacts"]["1"]} and body["contacts"]["1"]["id"] == first
    assert set(body["errors"]) == {"0", "2"} and body["errors"]["0"]["code"] == 404
    assert not contacts().exists()


def test_batch_delete_without_ids_or_over_the_limit_deletes_nothing(mautic, configure):
    _create(mautic, "a@x.com", "b@x.com")
    missing = mautic.delete(f"{BASE}/api/contacts/batch/delete")
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == 400
    configure("mautic", options={"batch_max": 1})
    ids = ",".join(str(pk) for pk in contacts().values_list("pk", flat=True))
    over = mautic.delete(f"{BASE}/api/contacts/batch/delete?ids={ids}")
    assert over.status_code == 500 and "A max of 1 entities" in over.json()["errors"][0]["message"]
    assert mautic.post(f"{BASE}/api/contacts/batch/delete?ids={ids}").status_code == 405
    assert contacts().count() == 2


def test_a_single_create_names_the_refused_field_in_its_details(mautic, services):
    response = send(mautic, "post", "/api/contacts/new", {"email": "a@x.com", "services": ["Hot Tub"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["details"] == {"services": ["This value is not valid."]}
    contact_id = send(mautic, "post", "/api/contacts/new", {"email": "b@x.com"}).json()["contact"]["id"]
    edit = send(mautic, "patch", f"/api/contacts/{contact_id}/edit", {"email": "not-an-email"})
    assert edit.json()["errors"][0]["details"] == {"email": ["A valid email is required."]}
