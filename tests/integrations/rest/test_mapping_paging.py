"""Field maps, timestamps, paging styles and the pull cursor of the REST connector (no HTTP)."""

from datetime import UTC, datetime

import pytest

from integrations.connectors.base import ContactPayload
from integrations.connectors.rest.mapping import (
    contact_body,
    format_timestamp,
    parse_timestamp,
    path_get,
    path_set,
    record_from_item,
)
from integrations.connectors.rest.paging import Pager, PagingConfig, PullCursor
from integrations.errors import CrmUnavailable, CrmValidationError


class TestPaths:
    def test_get_nested_and_list_index(self):
        data = {"meta": {"next": "abc"}, "emails": [{"address": "a@x.io"}]}
        assert path_get(data, "meta.next") == "abc"
        assert path_get(data, "emails.0.address") == "a@x.io"
        assert path_get(data, "emails.3.address", None) is None
        assert path_get(data, "") is data

    def test_set_creates_nested_dicts(self):
        body = {}
        path_set(body, "name.first", "Ada")
        path_set(body, "name.last", "Lovelace")
        path_set(body, "email", "ada@x.io")
        assert body == {"name": {"first": "Ada", "last": "Lovelace"}, "email": "ada@x.io"}


class TestContactBody:
    def test_only_mapped_fields_present_in_payload_are_sent(self):
        payload = ContactPayload(
            contact_id="1",
            email="ada@x.io",
            properties={"first_name": "Ada", "job_title": "Engineer", "unmapped": "x"},
        )
        body = contact_body(
            payload=payload,
            field_map={"first_name": "firstName", "email": "contact.email", "last_name": "lastName"},
        )
        # last_name is absent from the payload: not sent as null; unmapped fields never sent.
        assert body == {"firstName": "Ada", "contact": {"email": "ada@x.io"}}

    def test_properties_email_wins_over_payload_email(self):
        payload = ContactPayload(contact_id="1", email="old@x.io", properties={"email": "new@x.io"})
        assert contact_body(payload=payload, field_map={"email": "email"}) == {"email": "new@x.io"}


class TestTimestamps:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2026-01-20T10:30:00Z", datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            ("2026-01-20T12:30:00+02:00", datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            ("2026-01-20T10:30:00", datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            (1768905000, datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            (1768905000000, datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            ("1768905000", datetime(2026, 1, 20, 10, 30, tzinfo=UTC)),
            ("not a date", None),
            (None, None),
            (True, None),
            ({"a": 1}, None),
        ],
    )
    def test_parse(self, value, expected):
        assert parse_timestamp(value) == expected

    def test_format_styles(self):
        moment = datetime(2026, 1, 20, 10, 30, tzinfo=UTC)
        assert format_timestamp(moment, style="iso") == "2026-01-20T10:30:00Z"
        assert format_timestamp(moment, style="epoch") == "1768905000"
        assert format_timestamp(moment, style="epoch_ms") == "1768905000000"


class TestRecordFromItem:
    def test_mapped_properties_under_local_names(self):
        item = {
            "id": 7,
            "firstName": "Ada",
            "email": " Ada@X.io ",
            "lastModified": "2026-01-20T10:30:00Z",
            "x": 1,
        }
        record = record_from_item(
            item=item,
            object_type="contact",
            field_map={"first_name": "firstName", "email": "email", "phone": "phone"},
            id_path="id",
            updated_at_path="lastModified",
        )
        assert record.remote_id == "7"
        # Mapped fields under local names; unmapped ones keep their remote names; no id repeat.
        assert record.properties == {
            "first_name": "Ada",
            "email": " Ada@X.io ",
            "lastModified": item["lastModified"],
            "x": 1,
        }
        assert record.email == "ada@x.io"
        assert record.updated_at == datetime(2026, 1, 20, 10, 30, tzinfo=UTC)

    def test_without_a_map_the_item_is_kept_whole(self):
        item = {"id": "p1", "title": "Roof", "updated_at": None}
        record = record_from_item(
            item=item, object_type="project", field_map={}, id_path="id", updated_at_path=""
        )
        assert record.properties == {"title": "Roof", "updated_at": None}
        assert record.updated_at is None

    def test_item_without_id_gives_none(self):
        result = record_from_item(
            item={"name": "x"}, object_type="deal", field_map={}, id_path="id", updated_at_path=""
        )
        assert result is None


class TestPager:
    def test_page_style_stops_on_total(self):
        pager = Pager(PagingConfig(style="page", page_size=2, total_path="meta.total"))
        assert pager.first_token() == "1"
        assert pager.params("1") == {"page": "1", "per_page": 2}
        body = {"data": [{"id": 1}, {"id": 2}], "meta": {"total": 3}}
        assert pager.next_token("1", body, pager.items(body)) == "2"
        body = {"data": [{"id": 3}], "meta": {"total": 3}}
        assert pager.next_token("2", body, pager.items(body)) is None

    def test_page_style_full_page_at_total_stops(self):
        pager = Pager(PagingConfig(style="page", page_size=2, total_path="meta.total"))
        body = {"data": [{"id": 3}, {"id": 4}], "meta": {"total": 4}}
        assert pager.next_token("2", body, pager.items(body)) is None

    def test_page_style_without_total_stops_on_short_page(self):
        pager = Pager(
            PagingConfig(style="page", page_size=2, page_param="p", per_page_param="size", first_page=0)
        )
        assert pager.params(pager.first_token()) == {"p": "0", "size": 2}
        full = {"data": [{"id": 1}, {"id": 2}]}
        assert pager.next_token("0", full, pager.items(full)) == "1"
        short = {"data": [{"id": 3}]}
        assert pager.next_token("1", short, pager.items(short)) is None
        empty = {"data": []}
        assert pager.next_token("1", empty, pager.items(empty)) is None

    def test_has_more_flag_wins(self):
        pager = Pager(PagingConfig(style="page", page_size=2, has_more_path="has_more"))
        body = {"data": [{"id": 1}], "has_more": True}
        assert pager.next_token("1", body, pager.items(body)) == "2"
        body = {"data": [{"id": 1}, {"id": 2}], "has_more": False}
        assert pager.next_token("1", body, pager.items(body)) is None

    def test_offset_style(self):
        pager = Pager(
            PagingConfig(style="offset", page_size=2, offset_param="skip", limit_param="take", items_path="")
        )
        assert pager.params(pager.first_token()) == {"skip": "0", "take": 2}
        body = [{"id": 1}, {"id": 2}]
        assert pager.next_token("0", body, pager.items(body)) == "2"
        body = [{"id": 3}]
        assert pager.next_token("2", body, pager.items(body)) is None

    def test_offset_style_with_total(self):
        pager = Pager(PagingConfig(style="offset", page_size=2, items_path="items", total_path="total"))
        body = {"items": [{"id": 1}, {"id": 2}], "total": 2}
        assert pager.next_token("0", body, pager.items(body)) is None

    def test_cursor_style(self):
        pager = Pager(
            PagingConfig(style="cursor", page_size=50, cursor_param="after", next_cursor_path="paging.next")
        )
        assert pager.first_token() is None
        assert pager.params(None) == {"limit": 50}
        assert pager.params("abc") == {"limit": 50, "after": "abc"}
        body = {"data": [{"id": 1}], "paging": {"next": "abc"}}
        assert pager.next_token(None, body, pager.items(body)) == "abc"
        body = {"data": [{"id": 2}], "paging": {"next": None}}
        assert pager.next_token("abc", body, pager.items(body)) is None

    def test_cursor_repeated_is_refused(self):
        pager = Pager(PagingConfig(style="cursor"))
        body = {"data": [{"id": 1}], "next_cursor": "same"}
        with pytest.raises(CrmUnavailable, match="same cursor"):
            pager.next_token("same", body, pager.items(body))

    @pytest.mark.parametrize("body", [{"data": {"id": 1}}, {"other": []}, {"data": [1, 2]}, "text", None])
    def test_broken_list_bodies_are_unavailable(self, body):
        with pytest.raises(CrmUnavailable):
            Pager(PagingConfig()).items(body)


class TestPullCursor:
    def test_round_trip(self):
        cursor = PullCursor(
            since=datetime(2026, 1, 1, tzinfo=UTC), page="3", newest=datetime(2026, 1, 2, 5, tzinfo=UTC)
        )
        assert PullCursor.decode(cursor.encode()) == cursor
        empty = PullCursor(since=None, page=None, newest=None)
        assert PullCursor.decode(empty.encode()) == empty

    @pytest.mark.parametrize("garbage", ["", "not-base64!!", "e30", "WzFd"])
    def test_garbage_is_a_validation_error(self, garbage):
        with pytest.raises(CrmValidationError):
            PullCursor.decode(garbage)
