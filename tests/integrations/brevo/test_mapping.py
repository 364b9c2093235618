from datetime import UTC, date, datetime

import pytest

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.brevo import mapping

MAP = mapping.effective_mapping(default=mapping.DEFAULT_FIELD_MAPPING, override=None)


def payload(**properties):
    email = properties.pop("email", "ada@example.com")
    return ContactPayload(contact_id="c1", email=email, properties=properties)


def test_attribute_names_are_upper_case_identifiers():
    assert mapping.attribute_name("what service-do you need?") == "WHAT_SERVICE_DO_YOU_NEED"
    assert mapping.attribute_name("firstname") == "FIRSTNAME"


def test_override_renames_and_an_empty_value_removes_a_default_field():
    result = mapping.effective_mapping(
        default=mapping.DEFAULT_FIELD_MAPPING, override={"first_name": "fname", "company": "", "tier": "tier"}
    )
    assert result["first_name"] == "FNAME"
    assert "company" not in result
    assert result["tier"] == "TIER"


def test_contact_body_is_an_upsert_keyed_by_email_with_upper_case_attributes():
    body = mapping.contact_body(
        payload=payload(first_name="Ada", last_name="Lovelace", phone="+44 20 7946 0958", notes="x"),
        mapping=MAP,
    )
    assert body == {
        "email": "ada@example.com",
        "attributes": {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "SMS": "+442079460958"},
        "updateEnabled": True,
    }


def test_absent_and_none_fields_are_left_out_but_an_empty_string_clears():
    body = mapping.contact_body(payload=payload(first_name=None, last_name=""), mapping=MAP)
    assert body["attributes"] == {"LASTNAME": ""}


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (415) 555-0100", "", "+14155550100"),
        ("0044 20 7946 0958", "", "+442079460958"),
        ("06 12 34 56 78", "33", "+33612345678"),
    ],
)
def test_phone_numbers_become_e164(raw, country, expected):
    assert mapping.phone_to_e164(raw, default_country_code=country) == expected


@pytest.mark.parametrize("raw", ["555-0100", "+12", "+1 415 abc 0100"])
def test_phone_numbers_that_cannot_be_e164_are_refused(raw):
    with pytest.raises(mapping.ContactMappingError):
        mapping.phone_to_e164(raw)


def test_a_contact_without_email_or_phone_cannot_be_identified():
    with pytest.raises(mapping.ContactMappingError, match="email or a phone"):
        mapping.contact_body(payload=payload(email=None, first_name="Ada"), mapping=MAP)


def test_a_contact_with_only_a_phone_is_keyed_by_sms():
    body = mapping.contact_body(payload=payload(email=None, phone="+33612345678"), mapping=MAP)
    assert "email" not in body
    assert body["attributes"]["SMS"] == "+33612345678"


def test_values_are_coerced_to_brevo_types():
    assert mapping.attribute_value(date(2024, 5, 1)) == "2024-05-01"
    assert mapping.attribute_value(datetime(2024, 5, 1, 23, 0, tzinfo=UTC)) == "2024-05-01"
    assert mapping.attribute_value(("a", 1)) == ["a", "1"]
    gender = {"enumeration": [{"value": 1, "label": "Men"}, {"value": 2, "label": "Women"}]}
    assert mapping.attribute_value("women", definition=gender) == 2
    assert mapping.attribute_value("2", definition=gender) == 2
    assert mapping.attribute_value("Other", definition=gender) == "Other"


def test_modified_since_is_utc_with_milliseconds():
    value = datetime(2024, 5, 1, 12, 30, 5, 123456, tzinfo=UTC)
    assert mapping.format_datetime(value) == "2024-05-01T12:30:05.123Z"


def test_remote_record_uses_local_names_for_mapped_attributes():
    record = mapping.remote_record(
        item={
            "id": 247,
            "email": "meg@example.com",
            "emailBlacklisted": False,
            "smsBlacklisted": False,
            "createdAt": "2017-05-01T17:05:03Z",
            "modifiedAt": "2017-05-02T17:05:03.000+02:00",
            "listIds": [43],
            "attributes": {"FIRSTNAME": "Meg", "SMS": "33058407250", "CITY": "New-York"},
        },
        mapping=MAP,
    )
    assert record.remote_id == "247"
    assert record.email == "meg@example.com"
    assert record.properties["first_name"] == "Meg"
    assert record.properties["phone"] == "33058407250"
    assert record.properties["CITY"] == "New-York"
    assert record.updated_at == datetime(2017, 5, 2, 15, 5, 3, tzinfo=UTC)


def test_attributes_become_remote_properties():
    gender = mapping.remote_property(
        {
            "name": "GENDER",
            "category": "category",
            "type": "text",
            "enumeration": [{"value": 1, "label": "Men"}, {"value": 2, "label": "Women"}],
        }
    )
    assert (gender.type, gender.field_type, gender.group_name) == ("enumeration", "select", "category")
    assert [o["value"] for o in gender.options] == ["Men", "Women"]
    assert not gender.crm_defined
    dob = mapping.remote_property({"name": "DOB", "category": "normal", "type": "date"})
    assert (dob.type, dob.field_type) == ("date", "date")
    calc = mapping.remote_property({"name": "SCORE", "category": "calculated", "calculatedValue": "x"})
    assert calc.crm_defined


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        (
            RemoteProperty(name="nickname", label="Nick", type="string"),
            ("normal", "NICKNAME", {"type": "text"}),
        ),
        (RemoteProperty(name="score", label="S", type="number"), ("normal", "SCORE", {"type": "float"})),
        (RemoteProperty(name="vip", label="V", type="bool"), ("normal", "VIP", {"type": "boolean"})),
        (RemoteProperty(name="born", label="B", type="datetime"), ("normal", "BORN", {"type": "date"})),
        (
            RemoteProperty(
                name="tier",
                label="T",
                type="enumeration",
                field_type="select",
                options=[{"label": "Gold", "value": "gold"}, {"label": "Silver", "value": "silver"}],
            ),
            (
                "category",
                "TIER",
                {
                    "type": "category",
                    "enumeration": [{"value": 1, "label": "Gold"}, {"value": 2, "label": "Silver"}],
                },
            ),
        ),
        (
            RemoteProperty(
                name="services",
                label="S",
                type="enumeration",
                field_type="checkbox",
                options=[{"label": "A"}],
            ),
            ("normal", "SERVICES", {"type": "multiple-choice", "multiCategoryOptions": ["A"]}),
        ),
    ],
)
def test_property_definitions_become_attribute_definitions(prop, expected):
    assert mapping.attribute_definition(prop) == expected


def test_attribute_update_keeps_existing_ids_and_numbers_new_labels():
    prop = RemoteProperty(
        name="tier",
        label="T",
        type="enumeration",
        field_type="select",
        options=[{"label": "Gold"}, {"label": "Bronze"}],
    )
    existing = {"name": "TIER", "category": "category", "enumeration": [{"value": 7, "label": "Gold"}]}
    assert mapping.attribute_update(prop=prop, existing=existing) == (
        "category",
        "TIER",
        {"enumeration": [{"value": 7, "label": "Gold"}, {"value": 8, "label": "Bronze"}]},
    )
    unchanged = {"name": "TIER", "category": "category", "enumeration": [{"value": 7, "label": "Gold"}]}
    same = RemoteProperty(
        name="tier", label="T", type="enumeration", field_type="select", options=[{"label": "Gold"}]
    )
    assert mapping.attribute_update(prop=same, existing=unchanged) is None


def test_error_details_tolerate_any_body():
    assert mapping.error_details({"code": "duplicate_parameter", "message": "m", "metadata": {"x": 1}}) == (
        "duplicate_parameter",
        "m",
        {"x": 1},
    )
    assert mapping.error_details("<html>oops</html>") == ("", "<html>oops</html>", {})
    assert mapping.error_details(None) == ("", "", {})
