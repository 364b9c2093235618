"""/api/v1/conflicts/: list with filters, detail, resolve; scopes, tenancy, errors, query counts."""

import pytest

from contacts.models import Contact
from crm_sync.models import SyncConflict
from crm_sync.services.conflicts import conflict_record
from crm_sync.services.merge import FieldConflict
from tests.contacts.factories import ContactFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conflicts/"


def make_conflict(connection, *, email=None, **conflicts):
    contact = ContactFactory(organization=connection.organization, first_name="Anne", phone="+1 555 0101")
    if email:
        Contact.objects.filter(pk=contact.pk).update(email=email)
    return conflict_record(
        contact=contact,
        connection=connection,
        conflicts=conflicts
        or {
            "first_name": FieldConflict(base="Ann", local="Anne", remote="Annie"),
            "phone": FieldConflict(base="+1 555 0100", local="+1 555 0101", remote="+1 555 0199"),
        },
        remote_updated_at=None,
    )


def test_list_shows_the_organizations_conflicts_newest_first(api_client, connection, other_org):
    older, newer = make_conflict(connection), make_conflict(connection)
    make_conflict(CrmConnectionFactory(organization=other_org))
    body = api_client.get(URL).json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
    row = body["results"][0]
    assert row["status"] == "open" and row["crm"] == "scripted" and row["connection_id"] == connection.pk
    assert row["contact_id"] == str(newer.contact_id)
    assert row["fields"]["first_name"] == {"base": "Ann", "local": "Anne", "remote": "Annie"}
    assert row["resolution"] is None


def test_list_filters_by_connection_status_and_contact(api_client, org, connection, scripted):
    second = CrmConnectionFactory(organization=org, kind="scripted", name="second")
    a, b, c = make_conflict(connection), make_conflict(second), make_conflict(connection)
    SyncConflict.objects.filter(pk=c.pk).update(status="resolved")
    ids = lambda params: [row["id"] for row in api_client.get(URL, params).json()["results"]]  # noqa: E731
    assert ids({"connection": second.pk}) == [b.pk]
    assert ids({"status": "resolved"}) == [c.pk]
    assert ids({"status": "open", "connection": connection.pk}) == [a.pk]
    assert ids({"contact": str(a.contact_id)}) == [a.pk]


@pytest.mark.parametrize("params", [{"status": "closed"}, {"connection": "x"}, {"contact": "not-a-uuid"}])
def test_a_bad_filter_is_a_400_with_the_error_body(api_client, connection, params):
    response = api_client.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_filter" and set(params) <= set(body["details"])


def test_list_paginates_with_a_total(api_client, connection):
    for _ in range(3):
        make_conflict(connection)
    body = api_client.get(URL, {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


@pytest.mark.parametrize("rows", [2, 20])
def test_list_query_count_is_constant(api_client, connection, rows, django_assert_num_queries):
    for _ in range(rows):
        make_conflict(connection)
    # key lookup, key usage update, count, one page with its connections and contacts joined
    with django_assert_num_queries(4):
        assert api_client.get(URL, {"limit": 100}).json()["count"] == rows


def test_detail_and_another_organizations_conflict_is_a_404(api_client, connection, other_org):
    mine = make_conflict(connection)
    theirs = make_conflict(CrmConnectionFactory(organization=other_org))
    assert api_client.get(f"{URL}{mine.pk}/").json()["id"] == mine.pk
    for url in (f"{URL}{theirs.pk}/", f"{URL}{theirs.pk}/resolve/", f"{URL}999999/", f"{URL}abc/"):
        method = api_client.post if url.endswith("resolve/") else api_client.get
        response = (
            method(url, {"choice": "local"}, format="json") if method == api_client.post else method(url)
        )
        assert response.status_code == 404, url
        assert response.json()["code"] == "conflict_not_found"
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_reading_needs_read_and_resolving_needs_sync(org, connection, make_api_client):
    conflict = make_conflict(connection)
    reader = make_api_client(org, scopes=["read"])
    assert reader.get(URL).status_code == 200
    response = reader.post(f"{URL}{conflict.pk}/resolve/", {"choice": "local"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    assert make_api_client(org, scopes=["sync"]).get(URL).status_code == 403
    conflict.refresh_from_db()
    assert conflict.status == "open"


def test_resolve_per_field_through_the_api(org, connection, make_api_client):
    conflict = make_conflict(connection)
    client = make_api_client(org, scopes=["sync"])
    response = client.post(
        f"{URL}{conflict.pk}/resolve/",
        {"fields": {"first_name": "local", "phone": {"value": "+1 555 0123"}}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "resolved" and body["pushed"] is True
    assert body["resolution"] == {
        "first_name": {"choice": "local", "value": "Anne"},
        "phone": {"choice": "custom", "value": "+1 555 0123"},
    }
    assert body["resolved_by_label"].startswith("api_key:")
    assert Contact.objects.get(pk=conflict.contact_id).phone == "+1 555 0123"
    again = client.post(f"{URL}{conflict.pk}/resolve/", {"choice": "remote"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "conflict_already_resolved"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({}, "choice"),
        ({"choice": "mine"}, "choice"),
        ({"fields": "local"}, "fields"),
        ({"fields": {"first_name": "local"}}, "fields"),
        ({"fields": {"first_name": "local", "phone": {"value": "x" * 100}}}, "phone"),
    ],
)
def test_a_bad_resolve_body_is_a_400_and_leaves_the_conflict_open(api_client, connection, payload, where):
    conflict = make_conflict(connection)
    response = api_client.post(f"{URL}{conflict.pk}/resolve/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == "validation_error"
    # details are field paths: the field itself or one of its parts ("fields.phone")
    assert any(key == where or key.startswith(f"{where}.") for key in body["details"])
    conflict.refresh_from_db()
    assert conflict.status == "open"
    assert Contact.objects.get(pk=conflict.contact_id).phone == "+1 555 0101"


def test_the_schema_documents_the_conflicts_endpoints(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {"/api/v1/conflicts/", "/api/v1/conflicts/{id}/", "/api/v1/conflicts/{id}/resolve/"} <= set(paths)
    listed = {p["name"] for p in paths["/api/v1/conflicts/"]["get"]["parameters"]}
    assert {"connection", "status", "contact", "limit", "offset"} <= listed
    resolve = paths["/api/v1/conflicts/{id}/resolve/"]["post"]
    assert {"200", "400", "404", "409"} <= set(resolve["responses"])
    examples = resolve["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"] == {"choice": "local"} for e in examples.values())
