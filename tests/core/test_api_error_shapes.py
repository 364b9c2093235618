"""Under /api/ every error is the JSON error body, in DEBUG as in production, with one `details` shape."""

import pytest
from django.test import override_settings

from contacts.models import Contact
from core.api import validation_details

pytestmark = pytest.mark.django_db


def assert_error_body(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == code
    assert isinstance(body["details"], dict)
    return body


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/no-such-thing", "/api/nope", "/api/v2/"])
def test_an_unknown_api_path_is_the_json_404_body(api_client, debug, method, path):
    with override_settings(DEBUG=debug):
        response = getattr(api_client, method)(path, {}, format="json")
    body = assert_error_body(response, 404, "not_found")
    assert body["details"] == {"path": path}


@pytest.mark.parametrize("debug", [True, False])
def test_a_post_without_its_trailing_slash_is_the_same_call(api_client, org, debug):
    # given: the path Django's APPEND_SLASH answered with a 500 (it cannot redirect a POST)
    with override_settings(DEBUG=debug):
        response = api_client.post("/api/v1/contacts", {"email": "ada@example.com"}, format="json")
    # then: the contact is created, as with the slash
    assert response.status_code == 201, response.content
    assert Contact.objects.filter(organization=org, email="ada@example.com").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1"),
        ("get", "/api/v1/contacts"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/properties"),
        ("get", "/api/v1/connections"),
        ("get", "/api/v1/conflicts"),
        ("get", "/api/v1/sync-runs"),
        ("get", "/api/v1/contacts/sync-stats"),
        ("get", "/api/v1/admin/crm-config"),
        ("get", "/api/schema"),
    ],
)
def test_every_route_works_without_its_trailing_slash(api_client, method, path):
    assert getattr(api_client, method)(path).status_code == 200


def test_a_detail_route_without_its_slash_reaches_the_view(api_client, org):
    contact = Contact.objects.create(organization=org, email="bob@example.com")
    assert api_client.get(f"/api/v1/contacts/{contact.pk}").json()["email"] == "bob@example.com"
    assert api_client.delete(f"/api/v1/contacts/{contact.pk}").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_an_unknown_field_does_not_hide_a_bad_email(api_client):
    response = api_client.post("/api/v1/contacts/", {"email": "not-an-email", "emial": "x"}, format="json")
    body = assert_error_body(response, 400, "validation_error")
    assert body["details"] == {"email": ["Enter a valid email address."], "emial": ["Unknown field."]}
    assert not Contact.objects.exists()


def test_sync_inputs_report_unknown_and_bad_fields_together(api_client):
    response = api_client.post(
        "/api/v1/contacts/bulk-queue-sync/", {"contact_ids": [], "crm": "hubspot", "force": "x", "x": 1}
    )
    body = assert_error_body(response, 400, "validation_error")
    assert set(body["details"]) == {"contact_ids", "force", "x"}


def test_nested_errors_are_flattened_to_field_paths(api_client):
    response = api_client.post(
        "/api/v1/contacts/bulk-queue-sync/", {"contact_ids": ["ok", "x" * 65], "crm": "hubspot"}
    )
    body = assert_error_body(response, 400, "validation_error")
    assert list(body["details"]) == ["contact_ids.1"]
    assert all(isinstance(message, str) for message in body["details"]["contact_ids.1"])


def test_validation_details_shape():
    detail = {
        "event": {"name": ["Required."], "starts_at": ["Bad date."]},
        "contact_ids": {3: ["Too long."]},
        "tags": [{}, {"x": ["No."]}],
        "email": "Bad.",
        "non_field_errors": ["Whole body."],
    }
    assert validation_details(detail) == {
        "event.name": ["Required."],
        "event.starts_at": ["Bad date."],
        "contact_ids.3": ["Too long."],
        "tags.1.x": ["No."],
        "email": ["Bad."],
        "non_field_errors": ["Whole body."],
    }
    assert validation_details(["Expected an object."]) == {"non_field_errors": ["Expected an object."]}


def test_the_api_root_lists_the_sync_endpoints(api_client):
    links = api_client.get("/api/v1/").json()
    assert links["contacts"].endswith("/api/v1/contacts/")
    assert links["sync-stats"].endswith("/api/v1/contacts/sync-stats/")
    assert links["sync-queue-all"].endswith("/api/v1/contacts/queue-all-sync/")
    assert links["sync-status"].endswith("/api/v1/contacts/{contact_id}/sync-status/")
    assert links["sync-crm-config"].endswith("/api/v1/admin/crm-config/")
    assert links["sync-runs"].endswith("/api/v1/sync-runs/")
