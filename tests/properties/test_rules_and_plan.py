"""Definition rules and the diff, without a database."""

import pytest

from integrations.connectors.base import RemoteProperty
from properties import rules
from properties.sync import plan_build, property_differences

VALID = {"name": "size", "label": "Size", "type": "string", "field_type": "text", "options": []}


@pytest.mark.parametrize("name", ["a", "what_service_do_you_need_", "x1_" + "a" * 97])
def test_valid_names(name):
    assert rules.definition_errors({**VALID, "name": name}) == {}


@pytest.mark.parametrize("name", ["", "1abc", "_abc", "Abc", "a-b", "a b", "é", "a" * 101, None, 5])
def test_invalid_names(name):
    assert "name" in rules.definition_errors({**VALID, "name": name})


@pytest.mark.parametrize(
    ("type_", "field_type"),
    [(t, f) for t, allowed in rules.ALLOWED_FIELD_TYPES.items() for f in allowed],
)
def test_every_allowed_pair_passes_the_field_type_rule(type_, field_type):
    assert "field_type" not in rules.definition_errors({**VALID, "type": type_, "field_type": field_type})


@pytest.mark.parametrize(
    ("type_", "field_type"),
    [
        ("number", "text"),
        ("date", "text"),
        ("datetime", "number"),
        ("string", "select"),
        ("bool", "checkbox"),
    ],
)
def test_disallowed_pairs(type_, field_type):
    assert "field_type" in rules.definition_errors({**VALID, "type": type_, "field_type": field_type})


def test_all_errors_at_once():
    errors = rules.definition_errors(
        {
            "name": "Bad",
            "label": "",
            "type": "enumeration",
            "field_type": "nope",
            "options": "x",
            "hidden": "no",
        }
    )
    assert set(errors) == {"name", "label", "field_type", "options", "hidden"}


def test_seed_camel_case_round_trip():
    entry = {
        "name": "what_service_do_you_need_",
        "label": "What services do you need?",
        "type": "enumeration",
        "fieldType": "checkbox",
        "groupName": "contactinformation",
        "description": "Service selection checkboxes",
        "options": [{"label": "Restroom Trailer", "value": "Restroom Trailer", "displayOrder": 1}],
    }
    values = rules.definition_from_json(entry)
    assert rules.definition_errors(values) == {}
    assert values["options"] == [
        {"label": "Restroom Trailer", "value": "Restroom Trailer", "display_order": 1, "hidden": False}
    ]


def _prop(**kwargs):
    base = {"name": "size", "label": "Size", "type": "string", "field_type": "text", "group_name": "g"}
    return RemoteProperty(**{**base, **kwargs})


def test_fields_the_crm_does_not_report_are_not_differences():
    assert property_differences(_prop(), _prop(label="", group_name="", field_type="")) == {}


def test_option_differences():
    options = [{"label": "A", "value": "a", "display_order": 0, "hidden": False}]
    local = _prop(type="enumeration", field_type="select", options=options)
    # same options, the CRM reports no order/hidden
    assert (
        property_differences(
            local, _prop(type="enumeration", field_type="select", options=[{"label": "A", "value": "a"}])
        )
        == {}
    )
    relabelled = [{"label": "B", "value": "a", "display_order": 0, "hidden": False}]
    assert "options" in property_differences(
        local, _prop(type="enumeration", field_type="select", options=relabelled)
    )
    two = [*options, {"label": "C", "value": "c", "display_order": 1, "hidden": False}]
    swapped = [{**two[0], "display_order": 1}, {**two[1], "display_order": 0}]
    assert "options" in property_differences(_prop(options=two), _prop(options=swapped))


def test_projection_lets_a_crm_compare_in_its_own_terms():
    def upper(prop):
        return RemoteProperty(
            name=prop.name.upper(), label=prop.name.upper(), type=prop.type, group_name="normal"
        )

    plan = plan_build(
        object_type="contacts",
        local=[_prop()],
        remote=[RemoteProperty(name="SIZE", label="SIZE", type="string", group_name="normal")],
        project=upper,
    )
    [change] = plan.changes
    assert change.action == "skip"
    assert change.local.name == "size"
