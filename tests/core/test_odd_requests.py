"""Requests a careless (or hostile) client sends: each is a clear 4xx, and nothing is stored or lost.

Chunked bodies, empty and blanking contacts, JSON nested too deep, NUL characters in custom
properties, and invalid pagination.
"""

import json
import socket
from io import BytesIO
from urllib.parse import urlsplit

import pytest

from contacts.models import Contact
from core.parsers import JSON_MAX_DEPTH, json_depth_exceeds

URL = "/api/v1/contacts/"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == code, body
    return body


# ---------------------------------------------------------------------------------------
# Chunked request bodies
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_chunked_body_is_refused_not_read_as_empty(api_client):
    """The WSGI environ of a chunked request: a Transfer-Encoding header and no Content-Length."""
    body = json.dumps({"email": "ada@example.com", "first_name": "Ada"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    response = api_client.generic(
        "POST",
        URL,
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
        **{"wsgi.input": BytesIO(chunked)},
    )
    _error(response, 411, "length_required")
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_transfer_encoding_with_a_content_length_is_refused_too(api_client):
    body = json.dumps({"email": "ada@example.com"})
    response = api_client.generic(
        "POST", URL, body, content_type="application/json", HTTP_TRANSFER_ENCODING="gzip, chunked"
    )
    _error(response, 411, "length_required")
    assert not Contact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_a_real_socket_is_refused(live_server, org, make_api_client):
    client = make_api_client(org)
    body = json.dumps({"email": "ada@example.com", "first_name": "Ada"}).encode()
    address = urlsplit(live_server.url)
    request = (
        f"POST {URL} HTTP/1.1\r\n"
        f"Host: {address.hostname}:{address.port}\r\n"
        f"Authorization: Api-Key {client.raw_key}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 411 " in status_line, answer[:500]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["code"] == "length_required"
    assert not Contact.objects.exists()


# ---------------------------------------------------------------------------------------
# A contact is someone
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"email": ""}, {"first_name": "  ", "last_name": ""}, {"company": "Acme", "phone": "+1 555"}],
)
def test_a_contact_without_email_or_name_is_refused(api_client, body):
    _error(api_client.post(URL, body, format="json"), 400, "contact_identity_required")
    assert not Contact.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{"email": "a@example.com"}, {"first_name": "Ada"}, {"last_name": "Lovelace"}]
)
def test_an_email_or_a_name_is_enough(api_client, body):
    assert api_client.post(URL, body, format="json").status_code == 201


@pytest.mark.django_db
def test_put_of_an_empty_object_does_not_blank_a_contact(api_client):
    created = api_client.post(URL, {"email": "ada@example.com", "first_name": "Ada"}, format="json").json()
    _error(api_client.put(f"{URL}{created['id']}/", {}, format="json"), 400, "contact_identity_required")
    contact = Contact.objects.get(pk=created["id"])
    assert contact.email == "ada@example.com" and contact.first_name == "Ada"
    # A PUT with what a create needs replaces the rest.
    response = api_client.put(f"{URL}{created['id']}/", {"last_name": "Lovelace"}, format="json")
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.email, contact.first_name, contact.last_name) == ("", "", "Lovelace")


@pytest.mark.django_db
def test_patch_that_would_leave_no_email_or_name_is_refused(api_client):
    created = api_client.post(URL, {"email": "ada@example.com"}, format="json").json()
    _error(
        api_client.patch(f"{URL}{created['id']}/", {"email": None}, format="json"),
        400,
        "contact_identity_required",
    )
    assert Contact.objects.get(pk=created["id"]).email == "ada@example.com"


# ---------------------------------------------------------------------------------------
# JSON nested too deep
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_json_nested_100000_levels_is_a_400(api_client, opener, closer):
    body = opener * 100_000 + "1" + closer * 100_000
    response = api_client.generic("POST", URL, body, content_type="application/json")
    details = _error(response, 400, "json_too_deep")["details"]
    assert details == {"max_depth": JSON_MAX_DEPTH}
    assert not Contact.objects.exists()


def test_depth_counts_only_structure_not_strings():
    inside_a_string = json.dumps({"notes": "[" * 10_000, "x": '\\"{{{{'})
    assert not json_depth_exceeds(inside_a_string, limit=3)
    assert not json_depth_exceeds("[" * 64 + "]" * 64)
    assert json_depth_exceeds("[" * 65 + "]" * 65)
    assert json_depth_exceeds('{"a": [{"b": [1]}]}', limit=3)


@pytest.mark.django_db
def test_ordinary_nesting_and_bad_json_still_behave(api_client):
    body = json.dumps({"email": "a@example.com", "custom_properties": {"tier": "gold"}})
    assert api_client.generic("POST", URL, body, content_type="application/json").status_code == 201
    response = api_client.generic("POST", URL, '{"email": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


# ---------------------------------------------------------------------------------------
# NUL characters
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("value", ["a\x00b", ["ok", "bad\x00"]])
def test_nul_in_a_custom_property_is_a_400_on_every_database(api_client, value):
    body = {"email": "nul@example.com", "custom_properties": {"note": value}}
    details = _error(api_client.post(URL, body, format="json"), 400, "invalid_custom_properties")["details"]
    assert "Null characters are not allowed." in details["custom_properties.note"]
    assert not Contact.objects.exists()
    created = api_client.post(URL, {"email": "nul@example.com"}, format="json").json()
    response = api_client.patch(
        f"{URL}{created['id']}/", {"custom_properties": {"note": value}}, format="json"
    )
    _error(response, 400, "invalid_custom_properties")
    assert Contact.objects.get(pk=created["id"]).custom_properties == {}


# ---------------------------------------------------------------------------------------
# Pagination
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "limit=-1",
        "limit=abc",
        "limit=0",
        "limit=",
        "limit=1.5",
        "offset=-5",
        "offset=x",
        "offset=1e3",
        "limit=٣",
    ],
)
def test_invalid_pagination_is_a_400(api_client, query):
    name = query.partition("=")[0]
    details = _error(api_client.get(f"{URL}?{query}"), 400, "invalid_pagination")["details"]
    assert name in details


@pytest.mark.django_db
def test_valid_pagination_and_the_ceiling(api_client):
    for index in range(3):
        api_client.post(URL, {"email": f"p{index}@example.com"}, format="json")
    body = api_client.get(f"{URL}?limit=2&offset=1").json()
    assert (body["count"], body["limit"], body["offset"], len(body["results"])) == (3, 2, 1, 2)
    assert api_client.get(f"{URL}?limit=100000").json()["limit"] == 500


@pytest.mark.django_db
def test_sync_failures_pagination_is_checked_too(api_client, org):
    from tests.integrations.factories import CrmConnectionFactory

    CrmConnectionFactory(organization=org, kind="hubspot")
    response = api_client.get("/api/v1/contacts/sync-failures/?crm=hubspot&limit=-3")
    _error(response, 400, "invalid_pagination")
