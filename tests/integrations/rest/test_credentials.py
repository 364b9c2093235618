"""test_credentials: one authenticated GET of a cheap list; refusals are ok=False, outages raise."""

import pytest
from responses import matchers

from integrations.errors import CrmTimeout, CrmUnavailable
from integrations.registry import connector_for, get_connector_class

BASE = "https://crm.example.test"
KEY = {"api_key": "key-0123456789"}


@pytest.fixture
def rest(make_connection):
    def make(settings=None, **kw):
        kw.setdefault("base_url", BASE)
        kw.setdefault("credentials", KEY)
        return make_connection(settings=settings or {}, **kw)

    return make


def test_ok_fetches_one_record_of_the_test_entity(rest, mocked_responses):
    mocked_responses.get(
        f"{BASE}/api/v1/users",
        json={"data": [{"id": 1}]},
        match=[matchers.query_param_matcher({"page": "1", "per_page": "1"})],
    )
    check = connector_for(rest({"test_entity": "users"})).test_credentials()
    assert check.ok
    assert check.account == {"base_url": BASE, "auth": "api_key", "tested": "/api/v1/users"}


def test_default_test_entity_is_the_first_configured(rest, mocked_responses):
    mocked_responses.get(
        f"{BASE}/api/v1/people",
        json={"data": []},
        match=[matchers.query_param_matcher({"offset": "0", "limit": "1"})],
    )
    connection = rest(
        {
            "endpoints": {e: None for e in ("projects", "tasks", "users", "clients", "comments", "deals")}
            | {"contacts": "/people"},
            "paging": {"style": "offset"},
        }
    )
    assert connector_for(connection).test_credentials().ok


def test_refused_credentials_are_not_ok(rest, mocked_responses):
    mocked_responses.get(f"{BASE}/api/v1/contacts", status=401, json={"message": "Invalid token"})
    check = connector_for(rest()).test_credentials()
    assert not check.ok
    assert check.message == "Authentication failed: Invalid token"


def test_wrong_path_is_not_ok(rest, mocked_responses):
    mocked_responses.get(f"{BASE}/api/v1/contacts", status=404, json={"message": "No route"})
    check = connector_for(rest()).test_credentials()
    assert not check.ok
    assert "No route" in check.message


def test_missing_credentials_are_not_ok_without_a_call(rest, mocked_responses):
    check = connector_for(rest(credentials={})).test_credentials()
    assert not check.ok
    assert len(mocked_responses.calls) == 0


def test_invalid_settings_are_not_ok(rest):
    check = connector_for(rest({"paging": {"page_size": -1}})).test_credentials()
    assert not check.ok
    assert "settings are invalid" in check.message


def test_nothing_to_test_against(rest):
    connection = rest(
        {
            "endpoints": {
                e: None for e in ("projects", "tasks", "users", "clients", "comments", "contacts", "deals")
            }
        }
    )
    check = connector_for(connection).test_credentials()
    assert not check.ok


@pytest.mark.parametrize(("status", "error"), [(503, CrmUnavailable), (504, CrmUnavailable)])
def test_outages_raise(rest, mocked_responses, status, error):
    mocked_responses.get(f"{BASE}/api/v1/contacts", status=status, body="")
    with pytest.raises(error):
        connector_for(rest()).test_credentials()


def test_timeout_raises(rest, mocked_responses):
    import requests

    mocked_responses.get(f"{BASE}/api/v1/contacts", body=requests.ReadTimeout("slow"))
    with pytest.raises(CrmTimeout):
        connector_for(rest()).test_credentials()


def test_registered_with_capabilities_and_config_serializer():
    cls = get_connector_class("rest")
    assert {c.value for c in cls.capabilities} == {
        "push_contacts",
        "pull_contacts",
        "pull_deals",
        "test_credentials",
        "write_records",
    }
    serializer = cls.config_serializer(data={"paging": {"style": "cursor"}})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["endpoints"]["contacts"] == "/contacts"
    assert serializer.validated_data["base_path"] == "/api/{api_version}"
