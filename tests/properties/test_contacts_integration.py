"""Contacts written through the contacts API are checked against the organization's definitions."""

import pytest

from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_model():
    try:
        from contacts.models import Contact
    except ImportError:
        pytest.skip("the contacts app has no Contact model yet")
    return Contact


def test_contact_with_bad_custom_properties_is_400_naming_each_field(api_client, org, contact_model):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    response = api_client.post(
        "/api/v1/contacts/",
        {
            "email": "a@example.com",
            "custom_properties": {"company_size": "medium", "budget": "lots", "nope": 1},
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid_custom_properties"
    assert set(body["details"]) == {
        f"custom_properties.{name}" for name in ("company_size", "budget", "nope")
    }
    assert not contact_model.objects.exists()


def test_contact_with_valid_custom_properties_is_created(api_client, org, contact_model):
    PropertyDefinitionFactory(organization=org, name="services", multi=True)
    response = api_client.post(
        "/api/v1/contacts/",
        {"email": "b@example.com", "custom_properties": {"services": "Restroom Trailer;Porta Potty"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert contact_model.objects.get().custom_properties == {"services": "Restroom Trailer;Porta Potty"}
