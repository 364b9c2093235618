"""BrevoConnector pull, attributes API and credential test, against mocked Brevo responses."""

import json
from datetime import UTC, datetime

import pytest
import requests
from responses import matchers

from integrations.connectors.base import RemoteProperty
from integrations.connectors.brevo import BrevoConnector
from integrations.errors import (
    CapabilityNotSupported,
    CrmNotFound,
    CrmRateLimited,
    CrmUnavailable,
    CrmValidationError,
)

from .conftest import API_KEY, BASE, fixture

pytestmark = pytest.mark.django_db

AUTH = matchers.header_matcher({"api-key": API_KEY})
SINCE = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def page_params(offset: int, limit: int = 2, since: str | None = "2024-05-01T00:00:00.000Z") -> list:
    params = {"limit": str(limit), "offset": str(offset), "sort": "asc"}
    if since:
        params["modifiedSince"] = since
    return [AUTH, matchers.query_param_matcher(params)]


# -- pull --------------------------------------------------------------------------------


def test_pull_walks_pages_in_creation_order_from_modified_since(make_connection, mocked_responses):
    connection = make_connection(settings={"rate_limits": {"default": None}, "page_size": 2})
    mocked_responses.get(f"{BASE}/contacts", json=fixture("contacts_list__page1"), match=page_params(0))
    mocked_responses.get(f"{BASE}/contacts", json=fixture("contacts_list__page2"), match=page_params(2))
    pages = list(BrevoConnector(connection).pull_contacts(since=SINCE))
    assert [[r.remote_id for r in p.records] for p in pages] == [["42", "43"], ["44"]]
    assert json.loads(pages[0].next_cursor) == {"since": "2024-05-01T00:00:00.000Z", "offset": 2}
    assert pages[1].next_cursor is None
    ada = pages[0].records[0]
    assert ada.email == "ada@example.com"
    assert ada.properties["first_name"] == "Ada" and ada.properties["phone"] == "+442079460958"
    assert ada.updated_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert pages[0].records[1].properties["company"] == "Navy"
    assert pages[0].records[1].properties["TIER"] == "Gold"


def test_pull_resumes_from_a_cursor(make_connection, mocked_responses):
    connection = make_connection(settings={"rate_limits": {"default": None}, "page_size": 2})
    mocked_responses.get(f"{BASE}/contacts", json=fixture("contacts_list__page2"), match=page_params(2))
    cursor = json.dumps({"since": "2024-05-01T00:00:00.000Z", "offset": 2})
    pages = list(BrevoConnector(connection).pull_contacts(since=None, cursor=cursor))
    assert [r.remote_id for r in pages[0].records] == ["44"]


def test_a_full_pull_sends_no_modified_since(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/contacts", json=fixture("contacts_list__empty"), match=page_params(0, 1000, None)
    )
    pages = list(BrevoConnector(connection).pull_contacts(since=None))
    assert len(pages) == 1 and pages[0].records == [] and pages[0].next_cursor is None


def test_pull_errors_raise_their_category(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts", status=400, json=fixture("contacts_list__bad_request"))
    with pytest.raises(CrmValidationError, match="modifiedSince"):
        list(BrevoConnector(connection).pull_contacts(since=SINCE))


def test_pull_429_carries_retry_after(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/contacts", status=429, json=fixture("any__rate_limited"), headers={"Retry-After": "2"}
    )
    with pytest.raises(CrmRateLimited) as info:
        list(BrevoConnector(connection).pull_contacts(since=SINCE))
    assert info.value.retry_after == 2.0


def test_pull_malformed_json_is_unavailable(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts", status=200, body="<html>maintenance</html>")
    with pytest.raises(CrmUnavailable):
        list(BrevoConnector(connection).pull_contacts(since=SINCE))


# -- attributes --------------------------------------------------------------------------


def test_list_properties_reads_every_attribute(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"), match=[AUTH])
    props = {p.name: p for p in BrevoConnector(connection).list_properties(object_type="contacts")}
    assert props["TIER"].type == "enumeration" and [o["label"] for o in props["TIER"].options] == [
        "Gold",
        "Silver",
    ]
    assert props["DOB"].type == "date"
    assert props["SCORE"].crm_defined and props["ORDER_ID"].crm_defined and not props["FIRSTNAME"].crm_defined


def test_only_contacts_have_attributes(connection):
    with pytest.raises(CapabilityNotSupported):
        BrevoConnector(connection).list_properties(object_type="deals")


def test_create_properties_creates_missing_ones_and_reports_each(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    mocked_responses.post(
        f"{BASE}/contacts/attributes/category/PLAN",
        status=201,
        match=[
            AUTH,
            matchers.json_params_matcher(
                {
                    "type": "category",
                    "enumeration": [{"value": 1, "label": "Free"}, {"value": 2, "label": "Pro"}],
                }
            ),
        ],
    )
    mocked_responses.post(
        f"{BASE}/contacts/attributes/normal/SCORE_X",
        status=400,
        json=fixture("create_attribute__bad_request"),
        match=[matchers.json_params_matcher({"type": "float"})],
    )
    results = BrevoConnector(connection).create_properties(
        object_type="contacts",
        properties=[
            RemoteProperty(name="dob", label="Birthday", type="date", field_type="date"),
            RemoteProperty(
                name="plan",
                label="Plan",
                type="enumeration",
                field_type="select",
                options=[{"label": "Free", "value": "free"}, {"label": "Pro", "value": "pro"}],
            ),
            RemoteProperty(name="score_x", label="Score", type="number", field_type="number"),
        ],
    )
    assert [(r.contact_id, r.ok, r.created) for r in results] == [
        ("dob", True, False),
        ("plan", True, True),
        ("score_x", False, None),
    ]
    assert results[1].remote_id == "category/PLAN"
    assert results[2].error.category == "validation"


def test_update_property_adds_options_keeping_brevo_ids(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    mocked_responses.put(
        f"{BASE}/contacts/attributes/category/TIER",
        status=204,
        match=[
            AUTH,
            matchers.json_params_matcher(
                {
                    "enumeration": [
                        {"value": 1, "label": "Gold"},
                        {"value": 2, "label": "Silver"},
                        {"value": 3, "label": "Bronze"},
                    ]
                }
            ),
        ],
    )
    prop = RemoteProperty(
        name="tier",
        label="Tier",
        type="enumeration",
        field_type="select",
        options=[{"label": "Gold"}, {"label": "Silver"}, {"label": "Bronze"}],
    )
    updated = BrevoConnector(connection).update_property(object_type="contacts", prop=prop)
    assert [o["label"] for o in updated.options] == ["Gold", "Silver", "Bronze"]


def test_update_property_with_nothing_to_change_sends_nothing(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    prop = RemoteProperty(name="dob", label="DOB", type="date", field_type="date")
    assert BrevoConnector(connection).update_property(object_type="contacts", prop=prop).name == "DOB"


def test_update_property_cannot_change_a_type(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    prop = RemoteProperty(name="dob", label="DOB", type="number", field_type="number")
    with pytest.raises(CrmValidationError, match="cannot change"):
        BrevoConnector(connection).update_property(object_type="contacts", prop=prop)


def test_update_property_of_a_missing_attribute_is_not_found(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    with pytest.raises(CrmNotFound):
        BrevoConnector(connection).update_property(
            object_type="contacts", prop=RemoteProperty(name="nope", label="N", type="string")
        )


def test_update_property_404_from_brevo_is_not_found(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"))
    mocked_responses.put(
        f"{BASE}/contacts/attributes/category/TIER", status=404, json=fixture("update_attribute__not_found")
    )
    prop = RemoteProperty(
        name="tier", label="T", type="enumeration", field_type="select", options=[{"label": "New"}]
    )
    with pytest.raises(CrmNotFound, match="Attribute not found"):
        BrevoConnector(connection).update_property(object_type="contacts", prop=prop)


# -- credential test ---------------------------------------------------------------------


def test_credentials_are_checked_once_then_cached(connection, mocked_responses):
    account = mocked_responses.get(f"{BASE}/account", json=fixture("account__ok"), match=[AUTH])
    first = BrevoConnector(connection).test_credentials()
    second = BrevoConnector(connection).test_credentials()
    assert first.ok and second.ok
    assert first.account["email"] == "owner@example.com" and first.account["plans"] == ["free"]
    assert "recently" in second.message
    assert account.call_count == 1


def test_a_new_key_is_checked_again(connection, mocked_responses):
    account = mocked_responses.get(f"{BASE}/account", json=fixture("account__ok"))
    BrevoConnector(connection).test_credentials()
    connection.credentials = {"api_key": "xkeysib-another-key-123456"}
    connection.save()
    BrevoConnector(connection).test_credentials()
    assert account.call_count == 2


def test_a_refused_key_is_reported_and_not_cached(connection, mocked_responses):
    account = mocked_responses.get(f"{BASE}/account", status=401, json=fixture("any__unauthorized"))
    first = BrevoConnector(connection).test_credentials()
    second = BrevoConnector(connection).test_credentials()
    assert not first.ok and "Key not found" in first.message
    assert not second.ok
    assert account.call_count == 2
    assert API_KEY not in first.message


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": 429, "json": {"code": "too_many_requests", "message": "slow down"}}, CrmRateLimited),
        ({"status": 503, "body": "unavailable"}, CrmUnavailable),
        ({"body": requests.exceptions.ConnectTimeout("connect")}, CrmUnavailable),
    ],
)
def test_transient_failures_of_the_credential_test_raise(connection, mocked_responses, kwargs, error):
    mocked_responses.get(f"{BASE}/account", **kwargs)
    with pytest.raises(error):
        BrevoConnector(connection).test_credentials()


def test_the_credential_test_uses_the_hourly_bucket(make_connection, mocked_responses):
    connection = make_connection(settings={"rate_limits": {"hourly": {"limit": 1, "window": 3600}}})
    mocked_responses.get(f"{BASE}/account", status=401, json=fixture("any__unauthorized"))
    BrevoConnector(connection).test_credentials()
    with pytest.raises(CrmRateLimited):
        BrevoConnector(connection).test_credentials()
