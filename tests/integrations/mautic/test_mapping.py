from datetime import UTC, date, datetime

import pytest

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.mautic import mapping

from .conftest import fixture

MAP = mapping.effective_mapping(default=mapping.DEFAULT_FIELD_MAPPING, override=None)


def test_contact_body_uses_aliases_and_leaves_out_absent_fields():
    payload = ContactPayload(
        contact_id="c1",
        email="ada@example.com",
        properties={"first_name": "Ada", "last_name": None, "job_title": "Engineer", "notes": "not mapped"},
    )
    assert mapping.contact_body(payload=payload, mapping=MAP) == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "position": "Engineer",
    }


def test_an_override_renames_and_an_empty_value_drops():
    result = mapping.effective_mapping(
        default=mapping.DEFAULT_FIELD_MAPPING,
        override={"phone": "Mobile", "company": "", "tier": "Customer Tier"},
    )
    assert result["phone"] == "mobile" and "company" not in result and result["tier"] == "customer_tier"


def test_a_contact_with_nothing_mapped_is_refused():
    with pytest.raises(mapping.ContactMappingError):
        mapping.contact_body(
            payload=ContactPayload(contact_id="c", email=None, properties={"x": 1}), mapping=MAP
        )


def test_values_are_coerced():
    assert mapping.field_value(True) == 1
    assert mapping.field_value(date(2024, 1, 2)) == "2024-01-02"
    assert mapping.field_value(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02 03:04:05"


def test_a_list_is_sent_as_mautics_multiselect_string():
    assert mapping.field_value(["Shower Trailer", "Portable Toilet"]) == "Shower Trailer|Portable Toilet"
    assert mapping.field_value(("a", "", None, 3)) == "a|3"
    assert mapping.field_value({"b", "a"}) == "a|b"
    assert mapping.field_value([]) == ""
    body = mapping.contact_body(
        payload=ContactPayload(contact_id="c", email="a@x.com", properties={"services": ["a", "b"]}),
        mapping={"email": "email", "services": "services"},
    )
    assert body == {"email": "a@x.com", "services": "a|b"}


def test_batch_parts_are_read_by_index_from_lists_and_objects():
    assert mapping.by_index([1, 2]) == {0: 1, 1: 2}
    assert mapping.by_index({"0": "a", "2": "c", "x": "?"}) == {0: "a", 2: "c"}
    assert mapping.by_index(None) == {}


def test_remote_record_maps_fields_back_to_local_names():
    contact = fixture("contacts_list__page1")["contacts"]["12"]
    record = mapping.remote_record(contact=contact, mapping=MAP)
    assert record.remote_id == "12" and record.email == "grace@example.com"
    assert record.properties["first_name"] == "Grace" and record.properties["company"] == "Navy"
    assert record.properties["tier"] == "gold"
    assert "firstname" not in record.properties and "id" not in record.properties
    assert record.updated_at == datetime(2024, 5, 1, 12, 5, tzinfo=UTC)


def test_a_remapped_field_never_reads_back_the_wrong_remote_field():
    remapped = mapping.effective_mapping(default=mapping.DEFAULT_FIELD_MAPPING, override={"phone": "mobile"})
    contact = {"id": 1, "fields": {"all": {"phone": "landline", "mobile": "+33612345678"}}}
    assert mapping.remote_record(contact=contact, mapping=remapped).properties["phone"] == "+33612345678"


def test_grouped_fields_are_flattened_when_all_is_missing():
    contact = {
        "id": 5,
        "fields": {"core": {"email": {"value": "a@b.c"}}, "social": {"twitter": {"value": "@a"}}},
    }
    assert mapping.contact_fields(contact) == {"email": "a@b.c", "twitter": "@a"}


def test_where_values_are_in_the_instance_zone():
    value = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert mapping.where_value(value) == "2024-05-01 12:00:00"
    assert mapping.where_value(value, zone=mapping.instance_zone("Europe/Paris")) == "2024-05-01 14:00:00"
    assert mapping.instance_zone("Not/AZone") is UTC


def test_fields_become_remote_properties():
    fields = {f["alias"]: mapping.remote_property(f) for f in fixture("fields_list__ok")["fields"]}
    assert fields["tier"].type == "enumeration" and [o["value"] for o in fields["tier"].options] == [
        "gold",
        "silver",
    ]
    assert fields["tier"].remote_id == "40" and not fields["tier"].crm_defined
    assert fields["email"].crm_defined and fields["newsletter"].type == "bool"


@pytest.mark.parametrize(
    ("prop", "type_", "properties"),
    [
        (RemoteProperty(name="nick", label="Nick", type="string", field_type="text"), "text", None),
        (RemoteProperty(name="bio", label="Bio", type="string", field_type="textarea"), "textarea", None),
        (RemoteProperty(name="score", label="Score", type="number", field_type="number"), "number", None),
        (RemoteProperty(name="vip", label="VIP", type="bool", field_type="booleancheckbox"), "boolean", None),
        (RemoteProperty(name="seen", label="Seen", type="datetime", field_type="date"), "datetime", None),
        (
            RemoteProperty(
                name="tier",
                label="Tier",
                type="enumeration",
                field_type="select",
                options=[{"label": "G", "value": "g"}],
            ),
            "select",
            {"list": [{"label": "G", "value": "g"}]},
        ),
        (
            RemoteProperty(
                name="tags",
                label="Tags",
                type="enumeration",
                field_type="checkbox",
                options=[{"label": "A", "value": "a"}],
            ),
            "multiselect",
            {"list": [{"label": "A", "value": "a"}]},
        ),
    ],
)
def test_property_definitions_become_field_bodies(prop, type_, properties):
    body = mapping.field_body(prop)
    assert body["type"] == type_ and body["alias"] == prop.name and body["label"] == prop.label
    assert body["object"] == "lead"
    if properties is not None:
        assert body["properties"] == properties


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"errors": [{"code": 404, "message": "Item was not found.", "details": []}]},
            ("Item was not found.", 404),
        ),
        ({"error": {"message": "old", "code": 403}}, ("old", 403)),
        ({"error": "invalid_grant", "error_description": "expired"}, ("expired", None)),
        ("plain text", ("plain text", None)),
        (None, ("", None)),
    ],
)
def test_every_error_shape_gives_a_message(body, expected):
    message, code, _details = mapping.error_messages(body)
    assert (message, code) == expected
