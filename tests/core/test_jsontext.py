import json
from datetime import UTC, datetime

import pytest

from core import jsontext


def test_compact_json_the_standard_library_reads_back_equal():
    value = {"name": "Zoë", 1: [1.5, None, True], "nested": {"a": 'x"y\\z\n'}}
    text = jsontext.dumps(value)
    assert text == '{"name":"Zoë","1":[1.5,null,true],"nested":{"a":"x\\"y\\\\z\\n"}}'
    assert json.loads(text) == json.loads(json.dumps(value))


def test_datetimes_are_rfc3339_and_default_converts_the_rest():
    class Odd:
        def __str__(self):
            return "odd"

    text = jsontext.dumps({"at": datetime(2026, 11, 26, 9, 30, tzinfo=UTC), "x": Odd()}, default=str)
    assert text == '{"at":"2026-11-26T09:30:00+00:00","x":"odd"}'


def test_nan_is_written_as_null_not_as_invalid_json():
    assert jsontext.dumps([float("nan"), float("inf")]) == "[null,null]"


@pytest.mark.parametrize(
    "value",
    [
        {"id": 2**70},  # beyond orjson's 64 bits
        {"text": "half a pair \udc00"},  # a lone surrogate, which json.loads accepts from a CRM
    ],
)
def test_what_orjson_refuses_takes_the_standard_librarys_path(value):
    text = jsontext.dumps(value)
    assert json.loads(text) == value
    assert jsontext.dumps_bytes(value) == text.encode()


def test_what_neither_can_write_raises_type_error():
    with pytest.raises(TypeError):
        jsontext.dumps({"x": object()})
