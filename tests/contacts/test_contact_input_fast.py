"""The create's fast input path agrees with ContactInputSerializer, body for body.

contact_input_fast must return exactly the serializer's validated_data for a body the
serializer accepts, and None (hand the body to the serializer) for every body it refuses, so
the 400's errors are always the serializer's own, all fields together.
"""

import pytest
from rest_framework.exceptions import ValidationError

from contacts.api.serializers import ContactInputSerializer, contact_input_fast, contact_input_validate

GOOD = [
    {},
    {"email": "ada@example.com"},
    {"email": "  Ada@Example.com  ", "first_name": " Ada ", "last_name": "Lovelace"},
    {"email": None, "first_name": "Ada"},
    {"email": "", "first_name": "Ada"},
    {"first_name": "   ", "last_name": "x" * 150, "phone": "+44 1", "company": "Acme", "job_title": "CTO"},
    {"first_name": "José", "company": "Ünïcode ✓"},
    {"subtype": "customer", "status": "active", "source": "event"},
    {"source": "  crm:hubspot  "},
    {"notes": "  kept as written  "},
    {"notes": ""},
    {"tags": []},
    {"tags": [" a ", "b", "", "c" * 100]},
    {"tags": ["t"] * 100},
    {"custom_properties": {}},
    {"custom_properties": {"plan": "gold", "seats": 3, "x": None, "nested": {"a": [1]}}},
    {
        "email": "full@example.com",
        "first_name": "F",
        "last_name": "L",
        "phone": "1",
        "company": "C",
        "job_title": "J",
        "subtype": "lead",
        "status": "active",
        "source": "api",
        "tags": ["vip"],
        "notes": "n",
        "custom_properties": {"k": "v"},
    },
]

# Accepted by the serializer after a coercion the fast path does not attempt (a number as
# text, an email of spaces read as none): left to the serializer, same values.
LEFT_TO_SERIALIZER = [
    {"email": "   ", "first_name": "Ada"},
    {"first_name": 5},
    {"notes": 3},
    {"tags": [1]},
]

BAD = [
    [],
    "text",
    None,
    {"unknown": 1},
    {"email": "ada@example.com", "emial": "typo"},
    {"email": "not-an-email"},
    {"email": "a@b"},
    {"email": 12},
    {"email": "x" * 250 + "@example.com"},
    {"email": "ada@example.com\x00"},
    {"first_name": None},
    {"first_name": True},
    {"first_name": ["a"]},
    {"first_name": "x" * 151},
    {"first_name": "nul\x00byte"},
    {"first_name": "lone \ud800 surrogate"},
    {"phone": "1" * 65},
    {"company": "c" * 201},
    {"job_title": "j" * 201},
    {"subtype": "boss"},
    {"subtype": ""},
    {"subtype": None},
    {"status": "gone"},
    {"source": ""},
    {"source": "   "},
    {"source": "fax"},
    {"source": "crm:"},
    {"source": "s" * 65},
    {"source": None},
    {"notes": None},
    {"notes": "n" * 100_001},
    {"tags": "vip"},
    {"tags": None},
    {"tags": [None]},
    {"tags": ["t" * 101]},
    {"tags": ["t"] * 101},
    {"tags": {"a": 1}},
    {"custom_properties": []},
    {"custom_properties": None},
    {"custom_properties": "x"},
    {"email": "bad", "first_name": "x" * 151, "subtype": "boss", "tags": "x", "nope": 1},
]


def _serializer(data):
    serializer = ContactInputSerializer(data=data)
    valid = serializer.is_valid()
    return valid, dict(serializer.validated_data) if valid else serializer.errors


@pytest.mark.parametrize("body", GOOD, ids=range(len(GOOD)))
def test_accepted_body_gives_the_serializers_values(body):
    valid, expected = _serializer(body)
    assert valid, expected
    assert contact_input_fast(body) == expected
    assert contact_input_validate(body) == expected


@pytest.mark.parametrize("body", BAD, ids=range(len(BAD)))
def test_refused_body_goes_to_the_serializer_and_gets_its_errors(body):
    valid, errors = _serializer(body)
    assert not valid
    assert contact_input_fast(body) is None
    with pytest.raises(ValidationError) as exc:
        contact_input_validate(body)
    assert exc.value.detail == errors


@pytest.mark.parametrize("body", LEFT_TO_SERIALIZER, ids=range(len(LEFT_TO_SERIALIZER)))
def test_coerced_body_is_left_to_the_serializer(body):
    valid, expected = _serializer(body)
    assert valid, expected
    assert contact_input_fast(body) is None
    assert contact_input_validate(body) == expected


def test_a_form_encoded_body_is_left_to_the_serializer():
    from django.http import QueryDict

    assert contact_input_fast(QueryDict("email=ada@example.com")) is None
