"""contacts.services.common.jsonable: the shortcut for flat dicts gives what the JSON round trip gives."""

import uuid
from datetime import UTC, datetime

from contacts.services.common import jsonable


def test_a_flat_dict_of_scalars_is_an_equal_copy():
    value = {"email": "a@example.com", "n": 3, "score": 1.5, "ok": True, "none": None}
    copied = jsonable(value)
    assert copied == value and copied is not value


def test_anything_else_still_goes_through_json():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    key = uuid.UUID(int=5)
    assert jsonable({"at": when}) == {"at": "2026-01-02T03:04:05Z"}
    assert jsonable({"id": key}) == {"id": str(key)}
    assert jsonable({"nested": {"t": (1, 2)}}) == {"nested": {"t": [1, 2]}}
    assert jsonable({1: "int key"}) == {"1": "int key"}
    assert jsonable([when]) == ["2026-01-02T03:04:05Z"]
