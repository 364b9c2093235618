"""Reading entities page by page: paging styles, the incremental cursor, field maps, errors."""

from datetime import UTC, datetime

import pytest
import requests
from responses import matchers

from integrations.errors import (
    CapabilityNotSupported,
    CrmAuthError,
    CrmNotFound,
    CrmRateLimited,
    CrmTimeout,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.registry import connector_for
from tests.integrations.rest.support import query

BASE = "https://crm.example.test"
CONTACTS = f"{BASE}/api/v1/contacts"
KEY = {"api_key": "key-0123456789"}


def contact(n, updated="2026-01-0{n}T00:00:00Z"):
    return {
        "id": n,
        "first_name": f"F{n}",
        "email": f"c{n}@example.test",
        "updated_at": updated.format(n=n),
    }


@pytest.fixture
def rest(make_connection):
    def make(settings=None, **kw):
        kw.setdefault("base_url", BASE)
        kw.setdefault("credentials", KEY)
        return make_connection(settings=settings or {}, **kw)

    return make


class TestPagingStyles:
    def test_page_per_page_with_total(self, rest, mocked_responses):
        connection = rest({"paging": {"page_size": 2, "total_path": "meta.total"}})
        mocked_responses.get(
            CONTACTS,
            json={"data": [contact(1), contact(2)], "meta": {"total": 3}},
            match=[matchers.query_param_matcher({"page": "1", "per_page": "2"})],
        )
        mocked_responses.get(
            CONTACTS,
            json={"data": [contact(3)], "meta": {"total": 3}},
            match=[matchers.query_param_matcher({"page": "2", "per_page": "2"})],
        )
        pages = list(connector_for(connection).pull_contacts(since=None))
        assert [[r.remote_id for r in p.records] for p in pages] == [["1", "2"], ["3"]]
        assert pages[0].next_cursor is not None
        assert pages[1].next_cursor is None
        assert [p.raw_count for p in pages] == [2, 1]

    def test_offset_limit_with_custom_names(self, rest, mocked_responses):
        connection = rest(
            {
                "paging": {
                    "style": "offset",
                    "page_size": 2,
                    "offset_param": "skip",
                    "limit_param": "take",
                    "items_path": "results",
                }
            }
        )
        mocked_responses.get(
            CONTACTS,
            json={"results": [contact(1), contact(2)]},
            match=[matchers.query_param_matcher({"skip": "0", "take": "2"})],
        )
        mocked_responses.get(
            CONTACTS, json={"results": []}, match=[matchers.query_param_matcher({"skip": "2", "take": "2"})]
        )
        pages = list(connector_for(connection).pull_contacts(since=None))
        assert [len(p.records) for p in pages] == [2, 0]

    def test_cursor_paging(self, rest, mocked_responses):
        connection = rest(
            {
                "paging": {
                    "style": "cursor",
                    "page_size": 50,
                    "cursor_param": "after",
                    "next_cursor_path": "paging.next.after",
                }
            }
        )
        mocked_responses.get(
            CONTACTS,
            json={"data": [contact(1)], "paging": {"next": {"after": "tok-2"}}},
            match=[matchers.query_param_matcher({"limit": "50"})],
        )
        mocked_responses.get(
            CONTACTS,
            json={"data": [contact(2)], "paging": {}},
            match=[matchers.query_param_matcher({"limit": "50", "after": "tok-2"})],
        )
        pages = list(connector_for(connection).pull_contacts(since=None))
        assert [p.records[0].remote_id for p in pages] == ["1", "2"]

    def test_list_params_and_body_as_a_bare_list(self, rest, mocked_responses):
        connection = rest(
            {"paging": {"items_path": "", "page_size": 5}, "list_params": {"sort": "updated_at"}}
        )
        mocked_responses.get(
            CONTACTS,
            json=[contact(1)],
            match=[matchers.query_param_matcher({"sort": "updated_at", "page": "1", "per_page": "5"})],
        )
        pages = list(connector_for(connection).pull_contacts(since=None))
        assert len(pages) == 1


class TestIncremental:
    def test_since_becomes_the_updated_since_param(self, rest, mocked_responses):
        connection = rest({"updated_since_param": "modified_after", "updated_since_format": "epoch"})
        mocked_responses.get(
            CONTACTS,
            json={"data": []},
            match=[
                matchers.query_param_matcher({"modified_after": "1767225600", "page": "1", "per_page": "100"})
            ],
        )
        list(connector_for(connection).pull_contacts(since=datetime(2026, 1, 1, tzinfo=UTC)))

    def test_cursor_resumes_the_same_pass_with_its_filter(self, rest, mocked_responses):
        connection = rest({"paging": {"page_size": 2}})
        since = datetime(2026, 1, 1, tzinfo=UTC)
        mocked_responses.get(CONTACTS, json={"data": [contact(1), contact(2)]})
        first = next(iter(connector_for(connection).pull_contacts(since=since)))
        # Resume later, in another process, with a different `since`: the cursor's filter wins.
        mocked_responses.get(
            CONTACTS,
            json={"data": [contact(3)]},
            match=[
                matchers.query_param_matcher(
                    {"updated_since": "2026-01-01T00:00:00Z", "page": "2", "per_page": "2"}
                )
            ],
        )
        resumed = list(
            connector_for(connection).pull_contacts(
                since=datetime(2030, 1, 1, tzinfo=UTC), cursor=first.next_cursor
            )
        )
        assert [r.remote_id for r in resumed[0].records] == ["3"]
        assert resumed[-1].next_cursor is None
        assert query(mocked_responses.calls[0].request)["updated_since"] == "2026-01-01T00:00:00Z"

    def test_without_an_updated_since_param_every_pull_is_full(self, rest, mocked_responses):
        connection = rest({"updated_since_param": ""})
        mocked_responses.get(
            CONTACTS,
            json={"data": []},
            match=[matchers.query_param_matcher({"page": "1", "per_page": "100"})],
        )
        list(connector_for(connection).pull_contacts(since=datetime(2026, 1, 1, tzinfo=UTC)))

    def test_garbage_cursor_is_a_validation_error(self, rest):
        with pytest.raises(CrmValidationError):
            list(connector_for(rest()).pull_contacts(since=None, cursor="garbage"))


class TestFieldMapsAndEntities:
    def test_contacts_and_deals_come_back_under_local_names(self, rest, mocked_responses):
        connection = rest(
            {
                "field_maps": {
                    "contacts": {"first_name": "name.first", "email": "emails.0.address"},
                    "deals": {"name": "title", "amount": "value.amount"},
                },
                "updated_at_path": "meta.modified",
            },
            field_mapping={"phone": "mobile"},
        )
        mocked_responses.get(
            CONTACTS,
            json={
                "data": [
                    {
                        "id": "c1",
                        "name": {"first": "Ada"},
                        "emails": [{"address": "Ada@Example.test"}],
                        "mobile": "+1",
                        "meta": {"modified": 1767225600},
                    }
                ]
            },
        )
        mocked_responses.get(
            f"{BASE}/api/v1/deals",
            json={"data": [{"id": 9, "title": "House", "value": {"amount": 500000}, "stage": "won"}]},
        )
        contact_record = list(connector_for(connection).pull_contacts(since=None))[0].records[0]
        assert contact_record.object_type == "contacts"
        assert contact_record.properties == {
            "first_name": "Ada",
            "email": "Ada@Example.test",
            "phone": "+1",
            "meta": {"modified": 1767225600},
        }
        assert contact_record.email == "ada@example.test"
        assert contact_record.updated_at == datetime(2026, 1, 1, tzinfo=UTC)
        deal = list(connector_for(connection).pull_deals(since=None))[0].records[0]
        assert deal.object_type == "deals"
        assert deal.remote_id == "9"
        assert deal.properties == {"name": "House", "amount": 500000, "stage": "won"}

    @pytest.mark.parametrize("entity", ["projects", "tasks", "users", "clients", "comments"])
    def test_read_entity_reads_any_configured_entity(self, entity, rest, mocked_responses):
        connection = rest()
        mocked_responses.get(f"{BASE}/api/v1/{entity}", json={"data": [{"id": 1, "title": "x"}]})
        pages = list(connector_for(connection).read_entity(entity))
        assert pages[0].records[0].object_type == entity
        assert pages[0].records[0].properties == {"title": "x"}

    def test_items_without_an_id_are_skipped_but_counted(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, json={"data": [{"first_name": "no id"}, contact(1)]})
        page = list(connector_for(rest()).pull_contacts(since=None))[0]
        assert [r.remote_id for r in page.records] == ["1"]
        assert page.raw_count == 2

    def test_unconfigured_and_unknown_entities(self, rest):
        connector = connector_for(rest({"endpoints": {"deals": None}}))
        with pytest.raises(CapabilityNotSupported, match="settings.endpoints.deals"):
            list(connector.pull_deals(since=None))
        with pytest.raises(CapabilityNotSupported):
            list(connector.read_entity("invoices"))

    def test_base_path_and_api_version(self, rest, mocked_responses):
        connection = rest(
            {"api_version": "v3", "base_path": "/rest/{api_version}", "endpoints": {"tasks": "/todo"}}
        )
        mocked_responses.get(f"{BASE}/rest/v3/todo", json={"data": []})
        list(connector_for(connection).read_entity("tasks"))

    def test_invalid_settings_are_a_validation_error(self, rest, mocked_responses):
        with pytest.raises(CrmValidationError, match="settings are invalid"):
            list(connector_for(rest({"paging": {"style": "link"}})).pull_contacts(since=None))

    def test_no_base_url(self, rest):
        with pytest.raises(CrmValidationError, match="no base URL"):
            list(connector_for(rest(base_url="")).pull_contacts(since=None))


class TestErrors:
    def test_401(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, status=401, json={"error": "Invalid API key"})
        with pytest.raises(CrmAuthError, match="Invalid API key") as caught:
            list(connector_for(rest()).pull_contacts(since=None))
        assert caught.value.status == 401
        assert not caught.value.retriable

    def test_429_with_retry_after(self, rest, mocked_responses):
        mocked_responses.get(
            CONTACTS, status=429, json={"message": "slow down"}, headers={"Retry-After": "7"}
        )
        with pytest.raises(CrmRateLimited) as caught:
            list(connector_for(rest()).pull_contacts(since=None))
        assert caught.value.retry_after == 7
        assert caught.value.retriable

    def test_429_without_retry_after(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, status=429, body="Too Many Requests")
        with pytest.raises(CrmRateLimited) as caught:
            list(connector_for(rest()).pull_contacts(since=None))
        assert caught.value.retry_after is None

    def test_5xx(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, status=503, json={"message": "maintenance"})
        with pytest.raises(CrmUnavailable, match="maintenance") as caught:
            list(connector_for(rest()).pull_contacts(since=None))
        assert caught.value.retriable

    def test_timeout(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, body=requests.ReadTimeout("read timed out"))
        with pytest.raises(CrmTimeout):
            list(connector_for(rest()).pull_contacts(since=None))

    def test_malformed_json(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, body="<html>oops", content_type="application/json")
        with pytest.raises(CrmUnavailable, match="not JSON"):
            list(connector_for(rest()).pull_contacts(since=None))

    def test_json_without_the_list(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, json={"contacts": []})
        with pytest.raises(CrmUnavailable, match="no list of records at 'data'"):
            list(connector_for(rest()).pull_contacts(since=None))

    def test_404_of_an_endpoint(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, status=404, json={"message": "no route"})
        with pytest.raises(CrmNotFound):
            list(connector_for(rest()).pull_contacts(since=None))

    def test_error_after_the_first_page_keeps_the_first(self, rest, mocked_responses):
        mocked_responses.get(CONTACTS, json={"data": [contact(1), contact(2)], "meta": {"total": 4}})
        mocked_responses.get(CONTACTS, status=502, body="bad gateway")
        pages = connector_for(rest({"paging": {"page_size": 2, "total_path": "meta.total"}})).pull_contacts(
            since=None
        )
        first = next(pages)
        assert first.next_cursor
        with pytest.raises(CrmUnavailable):
            next(pages)


class TestRateLimit:
    def test_preset_limit_and_override(self, rest):
        from integrations.ratelimit import limiter_for

        connector = connector_for(rest())
        assert connector.client.limiters["default"].limit == 100
        assert connector.client.limiters["default"].window == 60
        unlimited = connector_for(rest({"rate_limits": {"default": None}}))
        assert unlimited.client.limiters["default"].unlimited
        assert (
            limiter_for(rest({"rate_limits": {"default": {"limit": 5, "window": 2}}}), default=(1, 1)).limit
            == 5
        )

    def test_a_spent_budget_stops_before_the_call(self, rest, settings, mocked_responses):
        settings.CRM_RATE_LIMIT_MAX_WAIT = 0
        connection = rest({"rate_limits": {"default": {"limit": 2, "window": 60}}})
        mocked_responses.get(CONTACTS, json={"data": []})
        mocked_responses.get(CONTACTS, json={"data": []})
        connector = connector_for(connection)
        list(connector.pull_contacts(since=None))
        list(connector.pull_contacts(since=None))
        with pytest.raises(CrmRateLimited) as caught:
            list(connector.pull_contacts(since=None))
        assert caught.value.retry_after > 0
        assert len(mocked_responses.calls) == 2


def test_bad_timeouts_are_a_validation_error_not_a_crash(rest):
    with pytest.raises(CrmValidationError, match="read_timeout"):
        connector_for(rest({"read_timeout": "soon"})).push_contacts([])


def test_extra_headers_are_sent(rest, mocked_responses):
    mocked_responses.get(CONTACTS, json={"data": []}, match=[matchers.header_matcher({"X-Tenant": "t1"})])
    list(connector_for(rest({"headers": {"X-Tenant": "t1"}})).pull_contacts(since=None))
