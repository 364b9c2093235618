import uuid

import pytest

from accounts.models import AuditEvent
from contacts.models import Contact
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def detail(contact_id) -> str:
    return f"{URL}{contact_id}/"


# ---- create ---------------------------------------------------------------------------------


def test_create_normalises_email_and_records_actor_and_audit(api_client, org):
    # when
    response = api_client.post(
        URL,
        {
            "email": " Ada@Example.COM ",
            "first_name": "Ada",
            "tags": ["vip", " vip", "x"],
            "custom_properties": {"score": 3},
        },
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    contact = Contact.objects.get(pk=body["id"])
    assert contact.email == "ada@example.com"
    assert contact.tags == ["vip", "x"]
    assert contact.source == "api"
    assert contact.organization == org
    assert contact.created_by_type == "api_key"
    assert contact.created_by_api_key == api_client.api_key
    assert body["created_by"]["type"] == "api_key"
    event = AuditEvent.objects.get(object_id=str(contact.pk))
    assert event.action == "contact.created"
    assert event.actor_api_key == api_client.api_key
    assert event.changes["email"] == "ada@example.com"


def test_create_duplicate_email_is_409_with_existing_id_and_writes_nothing(api_client, org):
    existing = ContactFactory(organization=org, email="bob@example.com")
    response = api_client.post(URL, {"email": "BOB@example.com"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_email"
    assert body["details"]["existing_id"] == str(existing.pk)
    assert Contact.objects.count() == 1


def test_same_email_in_another_organization_is_fine(api_client, org, other_org):
    ContactFactory(organization=other_org, email="bob@example.com")
    assert api_client.post(URL, {"email": "bob@example.com"}).status_code == 201


def test_contacts_without_email_do_not_collide(api_client):
    assert api_client.post(URL, {"first_name": "A"}).status_code == 201
    assert api_client.post(URL, {"first_name": "B", "email": ""}).status_code == 201
    assert Contact.objects.filter(email="").count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"subtype": "bogus"}, "subtype"),
        ({"status": "gone"}, "status"),
        ({"source": "crm:Hub Spot"}, "source"),
        ({"source": "website"}, "source"),
        ({"tags": "vip"}, "tags"),
        ({"tags": [1, {"a": 1}]}, "tags"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"custom_properties": ["a"]}, "custom_properties"),
        ({"custom_properties": {"Bad-Key": 1}}, "custom_properties"),
        ({"custom_properties": {"nested": {"a": 1}}}, "custom_properties"),
        ({"custom_properties": {"big": "x" * 70_000}}, "custom_properties"),
        ({"custom_properties": {"lst": [1, [2]]}}, "custom_properties"),
        ({"nickname": "Bobby"}, "nickname"),
    ],
)
def test_create_rejects_bad_fields_naming_them(api_client, payload, field):
    response = api_client.post(
        URL, {"email": "x@example.com", **payload} if "email" not in payload else payload
    )
    assert response.status_code == 400, response.json()
    assert any(key == field or key.startswith(f"{field}.") for key in response.json()["details"])
    assert Contact.objects.count() == 0
    assert AuditEvent.objects.filter(object_type="contact").count() == 0


def test_create_accepts_crm_source_and_scalar_lists(api_client):
    response = api_client.post(
        URL,
        {
            "email": "c@example.com",
            "source": "crm:hubspot",
            "custom_properties": {"langs": ["en", "de"], "n": None},
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["source"] == "crm:hubspot"


def test_unknown_fields_are_listed(api_client):
    response = api_client.post(URL, {"email": "x@example.com", "foo": 1, "bar": 2})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["details"]) == {"foo", "bar"}


def test_malformed_json_is_400(api_client):
    response = api_client.post(URL, data='{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Contact.objects.count() == 0


def test_a_json_list_body_is_400(api_client):
    response = api_client.post(URL, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert Contact.objects.count() == 0


def test_body_over_1mb_is_413(api_client):
    body = '{"email": "a@example.com", "notes": "' + "x" * (1024 * 1024 + 10) + '"}'
    response = api_client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert Contact.objects.count() == 0


def test_custom_properties_are_checked_against_definitions(api_client, org):
    from properties.models import ObjectType, PropertyDefinition

    PropertyDefinition.objects.create(
        organization=org,
        object_type=ObjectType.CONTACTS,
        name="score",
        label="Score",
        type="number",
        field_type="number",
    )
    bad = api_client.post(URL, {"email": "a@example.com", "custom_properties": {"colour": "red"}})
    assert bad.status_code == 400
    assert "custom_properties.colour" in bad.json()["details"]
    assert Contact.objects.count() == 0
    good = api_client.post(URL, {"email": "a@example.com", "custom_properties": {"score": 5}})
    assert good.status_code == 201, good.json()


def test_read_scope_cannot_create(make_api_client, org):
    client = make_api_client(org, scopes=["read"])
    response = client.post(URL, {"email": "a@example.com"})
    assert response.status_code == 403
    assert Contact.objects.count() == 0


def test_no_key_is_401(anon_client):
    assert anon_client.get(URL).status_code == 401


# ---- read -----------------------------------------------------------------------------------


def test_retrieve(api_client, org):
    contact = ContactFactory(organization=org)
    response = api_client.get(detail(contact.pk))
    assert response.status_code == 200
    assert response.json()["email"] == contact.email


@pytest.mark.parametrize("suffix", ["", "history/"])
def test_other_organizations_contact_is_404(api_client, other_org, suffix):
    contact = ContactFactory(organization=other_org)
    response = api_client.get(detail(contact.pk) + suffix)
    assert response.status_code == 404
    assert response.json()["code"] == "contact_not_found"


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_other_organizations_contact_cannot_be_changed(api_client, other_org, method):
    contact = ContactFactory(organization=other_org, first_name="Old")
    response = getattr(api_client, method)(detail(contact.pk), {"first_name": "New"})
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.first_name == "Old"


@pytest.mark.parametrize("bad_id", [uuid.uuid4(), "not-a-uuid", "123"])
def test_unknown_id_is_404(api_client, bad_id):
    assert api_client.get(detail(bad_id)).status_code == 404


# ---- update / delete -----------------------------------------------------------------------


def test_patch_changes_given_fields_and_audits_old_and_new(api_client, org):
    contact = ContactFactory(organization=org, first_name="Old", company="Acme")
    response = api_client.patch(detail(contact.pk), {"first_name": "New", "email": "NEW@example.com"})
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.first_name, contact.email, contact.company) == ("New", "new@example.com", "Acme")
    event = AuditEvent.objects.get(action="contact.updated")
    assert event.changes["first_name"] == ["Old", "New"]
    assert event.changes["email"][1] == "new@example.com"
    assert "company" not in event.changes


def test_patch_without_changes_records_nothing(api_client, org):
    contact = ContactFactory(organization=org, first_name="Same")
    response = api_client.patch(detail(contact.pk), {"first_name": "Same"})
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="contact.updated").exists()


def test_patch_to_a_taken_email_is_409(api_client, org):
    other = ContactFactory(organization=org, email="taken@example.com")
    contact = ContactFactory(organization=org, email="mine@example.com")
    response = api_client.patch(detail(contact.pk), {"email": "Taken@example.com"})
    assert response.status_code == 409
    assert response.json()["details"]["existing_id"] == str(other.pk)
    contact.refresh_from_db()
    assert contact.email == "mine@example.com"


def test_patch_invalid_value_changes_nothing(api_client, org):
    contact = ContactFactory(organization=org, first_name="Keep", subtype="lead")
    response = api_client.patch(detail(contact.pk), {"first_name": "Changed", "subtype": "bogus"})
    assert response.status_code == 400
    contact.refresh_from_db()
    assert (contact.first_name, contact.subtype) == ("Keep", "lead")


def test_put_resets_omitted_fields_but_keeps_source(api_client, org):
    contact = ContactFactory(organization=org, company="Acme", source="import", tags=["a"])
    response = api_client.put(detail(contact.pk), {"email": contact.email, "first_name": "Only"})
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.first_name, contact.company, contact.tags, contact.source) == ("Only", "", [], "import")


def test_delete_removes_contact_and_registrations_and_audits(api_client, org):
    registration = RegistrationFactory(event__organization=org)
    contact = registration.contact
    response = api_client.delete(detail(contact.pk))
    assert response.status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEvent.objects.filter(action="contact.deleted", object_id=str(contact.pk)).exists()


def test_history_lists_audit_events_newest_first(api_client, org):
    created = api_client.post(URL, {"email": "h@example.com"}).json()
    api_client.patch(detail(created["id"]), {"first_name": "H"})
    response = api_client.get(detail(created["id"]) + "history/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [e["action"] for e in body["results"]] == ["contact.updated", "contact.created"]
    assert body["results"][0]["changes"] == {"first_name": ["", "H"]}


# ---- list, filters, ordering, query count -------------------------------------------------------


def _emails(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return sorted(c["email"] for c in response.json()["results"])


def test_list_is_scoped_to_the_organization(api_client, org, other_org):
    ContactFactory(organization=org, email="mine@example.com")
    ContactFactory(organization=other_org, email="theirs@example.com")
    response = api_client.get(URL)
    assert _emails(response) == ["mine@example.com"]
    assert response.json()["count"] == 1


def test_list_filters(api_client, org):
    event = EventFactory(organization=org)
    a = ContactFactory(
        organization=org, email="a@example.com", subtype="customer", tags=["vip"], company="Globex Ltd"
    )
    ContactFactory(
        organization=org, email="b@example.com", status="bounced", source="crm:hubspot", first_name="Zed"
    )
    ContactFactory(organization=org, without_email=True, first_name="Nomail")
    RegistrationFactory(event=event, contact=a)

    assert _emails(api_client.get(URL, {"subtype": "customer"})) == ["a@example.com"]
    assert _emails(api_client.get(URL, {"status": "bounced"})) == ["b@example.com"]
    assert _emails(api_client.get(URL, {"source": "crm:hubspot"})) == ["b@example.com"]
    assert _emails(api_client.get(URL, {"tag": "vip"})) == ["a@example.com"]
    assert _emails(api_client.get(URL, {"tag": "vi"})) == []
    assert _emails(api_client.get(URL, {"email": "A@EXAMPLE.com"})) == ["a@example.com"]
    assert _emails(api_client.get(URL, {"event": str(event.pk)})) == ["a@example.com"]
    assert _emails(api_client.get(URL, {"q": "globex"})) == ["a@example.com"]
    assert _emails(api_client.get(URL, {"q": "zed"})) == ["b@example.com"]
    assert _emails(api_client.get(URL, {"has_email": "false"})) == [""]
    assert _emails(api_client.get(URL, {"has_email": "true"})) == ["a@example.com", "b@example.com"]
    assert len(_emails(api_client.get(URL, {"created_after": "2000-01-01"}))) == 3
    assert _emails(api_client.get(URL, {"created_before": "2000-01-01T00:00:00Z"})) == []
    assert len(_emails(api_client.get(URL, {"updated_after": "2000-01-01T00:00:00+00:00"}))) == 3
    assert _emails(api_client.get(URL, {"updated_before": "2000-01-01"})) == []


def test_list_ordering(api_client, org):
    for email in ("c@example.com", "a@example.com", "b@example.com"):
        ContactFactory(organization=org, email=email)
    response = api_client.get(URL, {"ordering": "email"})
    assert [c["email"] for c in response.json()["results"]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    response = api_client.get(URL, {"ordering": "-email"})
    assert [c["email"] for c in response.json()["results"]][0] == "c@example.com"


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "notadate"},
        {"updated_before": "2024-13-45"},
        {"subtype": "bogus"},
        {"status": "x"},
        {"source": "Web Site"},
        {"event": "not-a-uuid"},
        {"has_email": "maybe"},
        {"ordering": "password"},
    ],
)
def test_bad_filter_values_are_400(api_client, org, params):
    ContactFactory(organization=org)
    response = api_client.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_filter"
    assert set(params) <= set(body["details"])


def test_pagination_returns_total(api_client, org):
    ContactFactory.create_batch(7, organization=org)
    body = api_client.get(URL, {"limit": 3, "offset": 3}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert body["next"] and body["previous"]


@pytest.mark.parametrize("rows", [3, 30])
def test_list_query_count_does_not_grow_with_page_size(api_client, org, rows, django_assert_num_queries):
    event = EventFactory(organization=org)
    for contact in ContactFactory.create_batch(rows, organization=org, tags=["vip"]):
        RegistrationFactory(event=event, contact=contact)
    # 1 key lookup, 1 key usage update, 1 count, 1 page of contacts
    with django_assert_num_queries(4):
        response = api_client.get(URL, {"limit": 100, "tag": "vip", "event": str(event.pk), "q": "e"})
    assert response.status_code == 200
