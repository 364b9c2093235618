"""Contacts' custom_properties checked against the organization's contact definitions."""

import pytest

from core.errors import InvalidInput
from properties.validation import contact_custom_properties_validate
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def definitions(org):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="services", multi=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    PropertyDefinitionFactory(organization=org, name="is_vip", boolean=True)
    PropertyDefinitionFactory(organization=org, name="event_start_date", day=True)
    PropertyDefinitionFactory(organization=org, name="last_call_at", moment=True)
    PropertyDefinitionFactory(organization=org, name="notes_extra")
    # A lead definition does not make the name valid for contacts.
    PropertyDefinitionFactory(organization=org, object_type="leads", name="lead_only")


def _errors(org, values):
    with pytest.raises(InvalidInput) as excinfo:
        contact_custom_properties_validate(organization=org, values=values)
    assert excinfo.value.code == "invalid_custom_properties"
    return excinfo.value.details["custom_properties"]


def test_without_definitions_anything_is_accepted(org, django_assert_num_queries):
    PropertyDefinitionFactory(organization=org, object_type="leads", name="lead_only")
    with django_assert_num_queries(1):
        contact_custom_properties_validate(organization=org, values={"whatever": 1, "x": ["a"]})


def test_valid_values_of_every_type_pass(org, definitions, django_assert_num_queries):
    values = {
        "company_size": "small",
        "services": "Restroom Trailer;Porta Potty",
        "budget": 1250.5,
        "is_vip": True,
        "event_start_date": "2024-06-01",
        "last_call_at": "2024-06-01T10:30:00Z",
        "notes_extra": "hello",
    }
    with django_assert_num_queries(2):  # whether the organization has definitions, then them
        contact_custom_properties_validate(organization=org, values=values)
    with django_assert_num_queries(1):  # the first answer is cached: only the definitions
        contact_custom_properties_validate(organization=org, values=values)
    contact_custom_properties_validate(
        organization=org,
        values={
            "services": ["Shower Trailer"],
            "budget": "42",
            "is_vip": "false",
            "event_start_date": 1717200000000,
            "last_call_at": 1717236000000,
            "company_size": None,
            "notes_extra": "",
        },
    )


def test_every_bad_value_is_named(org, definitions):
    errors = _errors(
        org,
        {
            "company_size": "medium",
            "services": "Restroom Trailer;Helicopter",
            "budget": "lots",
            "is_vip": "yes",
            "event_start_date": "06/01/2024",
            "last_call_at": "yesterday",
            "notes_extra": 12,
            "unknown_field": "x",
            "lead_only": "x",
        },
    )
    assert set(errors) == {
        "company_size",
        "services",
        "budget",
        "is_vip",
        "event_start_date",
        "last_call_at",
        "notes_extra",
        "unknown_field",
        "lead_only",
    }
    assert "'medium' is not one of the options" in errors["company_size"][0]
    assert "Helicopter" in errors["services"][0]
    assert errors["unknown_field"] == ["'unknown_field' is not a defined contact property."]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("company_size", ["small"]),  # a single select takes no list
        ("budget", True),  # a bool is not a number
        ("budget", float("nan")),
        ("event_start_date", "2024-02-30"),  # not a real date
        ("event_start_date", 1717200000001),  # not midnight UTC
        ("is_vip", 1),
        ("services", ["Porta Potty", 3]),
    ],
)
def test_wrong_types_are_rejected(org, definitions, name, value):
    assert name in _errors(org, {name: value})


def test_other_organizations_definitions_do_not_apply(org, other_org, definitions):
    contact_custom_properties_validate(organization=other_org, values={"company_size": "medium"})
