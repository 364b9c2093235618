"""/api/v1/properties/: CRUD, scopes, tenancy, every validation error at once."""

import pytest

from accounts.models import AuditEvent
from properties.models import PropertyDefinition
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/properties/"

SELECT = {
    "object_type": "contacts",
    "name": "company_size",
    "label": "Company size",
    "type": "enumeration",
    "field_type": "select",
    "options": [{"label": "Small", "value": "small"}, {"label": "Large", "value": "large", "hidden": True}],
}


def test_create_normalizes_and_audits(api_client, org):
    response = api_client.post(URL, SELECT, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["group_name"] == "contactinformation"
    assert body["options"] == [
        {"label": "Small", "value": "small", "display_order": 0, "hidden": False},
        {"label": "Large", "value": "large", "display_order": 1, "hidden": True},
    ]
    assert AuditEvent.objects.filter(action="property_definition.create", object_id=str(body["id"])).exists()


def test_bool_without_options_gets_hubspots_true_false(api_client):
    response = api_client.post(
        URL,
        {"name": "is_vip", "label": "VIP", "type": "bool", "field_type": "booleancheckbox"},
        format="json",
    )
    assert response.status_code == 201
    assert [option["value"] for option in response.json()["options"]] == ["true", "false"]


def test_every_rule_broken_is_reported_and_nothing_is_created(api_client):
    response = api_client.post(
        URL,
        {
            "name": "1 Bad-Name",
            "label": " ",
            "type": "enumeration",
            "field_type": "text",
            "options": [
                {"label": "A", "value": "a"},
                {"label": "B", "value": "a"},
                {"label": "", "value": ""},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_property_definition"
    details = body["details"]
    assert set(details) == {"name", "label", "field_type", "options"}
    assert any("appears more than once" in message for message in details["options"])
    assert any("needs a non-empty label" in message for message in details["options"])
    assert not PropertyDefinition.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "x" * 101}, "name"),
        ({"type": "datetime", "field_type": "text", "options": []}, "field_type"),
        (
            {"type": "bool", "field_type": "booleancheckbox", "options": [{"label": "Y", "value": "yes"}]},
            "options",
        ),
        ({"type": "string", "field_type": "text"}, "options"),
        ({"options": []}, "options"),
        ({"type": "phone"}, "type"),
    ],
)
def test_rules(api_client, changes, field):
    response = api_client.post(URL, {**SELECT, **changes}, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_duplicate_name_is_409_with_the_existing_id(api_client, org):
    existing = PropertyDefinitionFactory(organization=org, name="company_size")
    response = api_client.post(URL, SELECT, format="json")
    assert response.status_code == 409
    assert response.json()["details"] == {"existing_id": existing.pk}
    # the same name for leads is another property
    assert api_client.post(URL, {**SELECT, "object_type": "leads"}, format="json").status_code == 201


def test_update_keeps_name_and_object_type(api_client, org):
    definition = PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    response = api_client.patch(f"{URL}{definition.pk}/", {"name": "renamed", "label": "X"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"name"}
    definition.refresh_from_db()
    assert definition.label == "Company Size"
    response = api_client.patch(f"{URL}{definition.pk}/", {"label": "Size of company"}, format="json")
    assert response.status_code == 200
    assert response.json()["label"] == "Size of company"
    event = AuditEvent.objects.get(action="property_definition.update")
    assert event.changes == {"label": {"from": "Company Size", "to": "Size of company"}}


def test_update_rejecting_options_changes_nothing(api_client, org):
    definition = PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    response = api_client.patch(f"{URL}{definition.pk}/", {"options": [], "label": "New"}, format="json")
    assert response.status_code == 400
    definition.refresh_from_db()
    assert len(definition.options) == 2 and definition.label == "Company Size"


def test_delete(api_client, org):
    definition = PropertyDefinitionFactory(organization=org)
    assert api_client.delete(f"{URL}{definition.pk}/").status_code == 204
    assert not PropertyDefinition.objects.exists()
    assert AuditEvent.objects.filter(action="property_definition.delete").exists()


def test_list_filters_by_object_type_with_constant_queries(api_client, org, django_assert_num_queries):
    api_client.get(URL)  # the key's row is cached from here on
    for count in (3, 30):
        PropertyDefinition.objects.all().delete()
        PropertyDefinitionFactory.create_batch(count, organization=org)
        PropertyDefinitionFactory(organization=org, object_type="leads")
        # key usage update, count, page
        with django_assert_num_queries(3):
            response = api_client.get(URL, {"object_type": "contacts", "limit": 100})
        assert response.status_code == 200
        assert response.json()["count"] == count


def test_scopes_read_to_list_admin_to_write(make_api_client, org):
    reader = make_api_client(org, scopes=["read", "write", "sync"])
    assert reader.get(URL).status_code == 200
    response = reader.post(URL, SELECT, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert not PropertyDefinition.objects.exists()


def test_another_organizations_definition_is_404(api_client, other_org):
    definition = PropertyDefinitionFactory(organization=other_org)
    assert api_client.get(f"{URL}{definition.pk}/").status_code == 404
    assert api_client.delete(f"{URL}{definition.pk}/").status_code == 404
    assert api_client.get(URL).json()["count"] == 0
