"""The sandbox Mautic's answers over real HTTP match schemas written from Mautic's developer docs.

Each emulated answer (contact, contacts list, batch new/edit/delete, fields, errors) is fetched
through a live server with `requests`, as a user's script would, and validated.
"""

import jsonschema
import pytest
import requests
from django.urls import Resolver404, resolve

from tests.sandbox import mautic_schemas as schemas

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server):
    try:
        resolve("/sandbox/mautic/api/contacts")
    except Resolver404:
        pytest.skip("the Mautic sandbox is not mounted at /sandbox/mautic/")
    from sandbox import credentials as creds

    base = f"{live_server.url}/sandbox/mautic"
    requests.post(f"{base}/_control/reset?config=1", timeout=10).raise_for_status()
    session = requests.Session()
    session.auth = (creds.MAUTIC_USERNAME, creds.MAUTIC_PASSWORD)

    def call(method, path, *, status, schema, **kwargs):
        response = session.request(method, f"{base}{path}", timeout=10, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        jsonschema.Draft202012Validator(schema).validate(body)
        return body

    return call


@pytest.fixture
def services(api):
    body = {
        "label": "Services",
        "type": "multiselect",
        "description": "What the customer rents",
        "properties": {"list": [{"label": "Sink", "value": "sink"}, {"label": "Shower", "value": "shower"}]},
    }
    return api("POST", "/api/fields/contact/new", json=body, status=201, schema=schemas.FIELD_ONE)["field"]


def test_fields_answers(api, services):
    listed = api("GET", "/api/fields/contact", status=200, schema=schemas.FIELD_LIST)
    assert services["alias"] in {f["alias"] for f in listed["fields"]}
    api("GET", f"/api/fields/contact/{services['id']}", status=200, schema=schemas.FIELD_ONE)
    edited = api(
        "PATCH",
        f"/api/fields/contact/{services['id']}/edit",
        json={"description": "Units"},
        status=200,
        schema=schemas.FIELD_ONE,
    )
    assert edited["field"]["description"] == "Units"
    api("POST", "/api/fields/contact/new", json={"label": "Plain"}, status=201, schema=schemas.FIELD_ONE)
    api("DELETE", f"/api/fields/contact/{services['id']}/delete", status=200, schema=schemas.FIELD_ONE)
    api("GET", f"/api/fields/contact/{services['id']}", status=404, schema=schemas.ERROR)
    api("POST", "/api/fields/contact/new", json={"type": "text"}, status=422, schema=schemas.ERROR)


def test_contact_answers(api, services):
    created = api(
        "POST",
        "/api/contacts/new",
        json={"email": "a@example.com", "firstname": "Ann", "services": ["sink", "shower"]},
        status=201,
        schema=schemas.CONTACT_ONE,
    )
    contact_id = created["contact"]["id"]
    api("GET", f"/api/contacts/{contact_id}", status=200, schema=schemas.CONTACT_ONE)
    minimal = {"type": "object", "properties": {"contact": schemas.MINIMAL_CONTACT}}
    api("GET", f"/api/contacts/{contact_id}?minimal=1", status=200, schema=minimal)
    api(
        "PATCH",
        f"/api/contacts/{contact_id}/edit",
        json={"services": "sink"},
        status=200,
        schema=schemas.CONTACT_ONE,
    )
    api(
        "PUT",
        "/api/contacts/987654/edit",
        json={"email": "b@example.com"},
        status=201,
        schema=schemas.CONTACT_ONE,
    )
    api("GET", "/api/contacts", status=200, schema=schemas.CONTACT_LIST)
    api("GET", "/api/contacts?minimal=1&limit=1", status=200, schema=schemas.CONTACT_LIST_MINIMAL)
    empty = api(
        "GET", "/api/contacts?search=email:nobody@example.com", status=200, schema=schemas.CONTACT_LIST
    )
    assert empty == {"total": "0", "contacts": []}
    api("DELETE", f"/api/contacts/{contact_id}/delete", status=200, schema=schemas.CONTACT_ONE)
    api("GET", f"/api/contacts/{contact_id}", status=404, schema=schemas.ERROR)
    api("POST", "/api/contacts/new", json={"email": "not-an-email"}, status=400, schema=schemas.ERROR)


def test_batch_answers(api, services):
    created = api(
        "POST",
        "/api/contacts/batch/new",
        json=[
            {"email": "a@example.com", "services": ["sink"]},
            {"email": "b@example.com", "services": "sink|shower"},
            {"email": "c@example.com", "services": ["jacuzzi"]},
        ],
        status=201,
        schema=schemas.BATCH_WRITE,
    )
    assert created["statusCodes"] == [201, 201, 400] and set(created["contacts"]) == {"0", "1"}
    ids = [created["contacts"][key]["id"] for key in ("0", "1")]
    edited = api(
        "PATCH",
        "/api/contacts/batch/edit",
        json=[{"id": ids[0], "firstname": "A"}, {"id": 999999, "firstname": "X"}],
        status=200,
        schema=schemas.BATCH_WRITE,
    )
    assert edited["statusCodes"] == [200, 404]
    deleted = api(
        "DELETE",
        f"/api/contacts/batch/delete?ids={ids[0]},999999,{ids[1]}",
        status=200,
        schema=schemas.BATCH_DELETE,
    )
    assert set(deleted["contacts"]) == {"0", "2"} and set(deleted["errors"]) == {"1"}
    api("DELETE", "/api/contacts/batch/delete", status=400, schema=schemas.ERROR)
    api("POST", "/api/contacts/batch/new", json={"not": "a list"}, status=400, schema=schemas.ERROR)


def test_errors_for_unknown_paths_methods_and_credentials(api):
    api("GET", "/api/unknown", status=404, schema=schemas.ERROR)
    api("PUT", "/api/contacts/batch/new", json=[], status=405, schema=schemas.ERROR)
    api("GET", "/api/contacts", status=401, schema=schemas.ERROR, auth=("nobody", "wrong"))


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (schemas.CONTACT_LIST, {"total": "1", "contacts": {}}),
        (schemas.FIELD_ONE, {"field": {"id": 1, "label": "x"}}),
        (schemas.ERROR, {"errors": {"code": 404}}),
        (schemas.BATCH_WRITE, {"contacts": [], "statusCodes": ["201"]}),
        (schemas.BATCH_NEW_REQUEST, [{"email": "a@x.com", "services": ["a", "b"]}]),
        (schemas.BATCH_NEW_REQUEST, [{"email": "a@x.com"}] * 201),
        (schemas.FIELD_NEW_REQUEST, {"label": "X", "group": "contactinformation"}),
    ],
    ids=[
        "empty-map-as-object",
        "field-without-description",
        "error-as-object",
        "status-as-string",
        "request-with-an-array-value",
        "request-over-the-batch-limit",
        "field-in-a-group-mautic-lacks",
    ],
)
def test_the_schemas_refuse_what_mautic_does_not_send(schema, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(body)
