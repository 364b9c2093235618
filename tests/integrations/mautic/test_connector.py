"""MauticConnector against mocked Mautic responses: push, pull, fields, credentials, auth."""

import base64
import json
from datetime import UTC, datetime

import pytest
import requests
from responses import matchers

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.mautic import MauticConnector
from integrations.errors import (
    CapabilityNotSupported,
    CrmAuthError,
    CrmLocked,
    CrmNotFound,
    CrmRateLimited,
    CrmTimeout,
    CrmUnavailable,
    CrmValidationError,
)

from .conftest import BASE, PASSWORD, USERNAME, fixture

pytestmark = pytest.mark.django_db

BASIC = matchers.header_matcher(
    {"Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()}
)
BATCH = f"{BASE}/api/contacts/batch/new"


def contact(n: int, **properties) -> ContactPayload:
    email = properties.pop("email", f"person{n}@example.com")
    properties.setdefault("first_name", f"P{n}")
    return ContactPayload(contact_id=f"c{n}", email=email, properties=properties)


def item(n: int, **fields) -> dict:
    return {"email": f"person{n}@example.com", "firstname": f"P{n}", **fields}


# -- push --------------------------------------------------------------------------------


def test_a_batch_creates_and_merges_with_per_item_status(connection, mocked_responses):
    mocked_responses.post(
        BATCH,
        status=201,
        json=fixture("batch_new__created"),
        match=[BASIC, matchers.json_params_matcher([item(1, company="Acme"), item(2)])],
    )
    first, second = MauticConnector(connection).push_contacts([contact(1, company="Acme"), contact(2)])
    assert (first.ok, first.remote_id, first.created) == (True, "11", True)
    assert (second.ok, second.remote_id, second.created) == (True, "12", False)
    assert first.request == item(1, company="Acme")
    assert first.response["status"] == 201 and first.response["contact"]["id"] == 11


def test_per_item_errors_fail_only_their_contact_even_with_gaps(connection, mocked_responses):
    mocked_responses.post(BATCH, status=201, json=fixture("batch_new__partial"))
    results = MauticConnector(connection).push_contacts([contact(1), contact(2), contact(3)])
    assert [r.ok for r in results] == [True, False, True]
    assert [r.remote_id for r in results] == ["11", None, "13"]
    assert results[1].error.category == "validation" and "valid email" in results[1].error.message
    assert results[1].error.status == 400


def test_a_failed_last_item_gives_a_short_contacts_list(connection, mocked_responses):
    mocked_responses.post(BATCH, status=201, json=fixture("batch_new__last_failed"))
    first, second = MauticConnector(connection).push_contacts([contact(1), contact(2)])
    assert first.ok and first.remote_id == "11"
    assert not second.ok and second.error.status == 422 and "points" in second.error.message


def test_results_are_matched_by_email_when_positions_shift(connection, mocked_responses):
    answer = fixture("batch_new__created")
    answer["contacts"].reverse()
    mocked_responses.post(BATCH, status=201, json=answer)
    first, second = MauticConnector(connection).push_contacts([contact(1), contact(2)])
    assert (first.remote_id, second.remote_id) == ("11", "12")


def test_an_item_without_any_result_is_retriable(connection, mocked_responses):
    mocked_responses.post(BATCH, status=201, json={"contacts": [], "statusCodes": []})
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_batches_are_split_at_the_batch_size(make_connection, mocked_responses):
    connection = make_connection(batch_size=2)
    mocked_responses.post(
        BATCH,
        status=201,
        json=fixture("batch_new__created"),
        match=[matchers.json_params_matcher([item(1), item(2)])],
    )
    third = fixture("batch_new__partial")["contacts"]["2"]
    mocked_responses.post(
        BATCH,
        status=201,
        json={"contacts": [third], "statusCodes": [201]},
        match=[matchers.json_params_matcher([item(3)])],
    )
    results = MauticConnector(connection).push_contacts([contact(1), contact(2), contact(3)])
    assert [(r.ok, r.remote_id) for r in results] == [(True, "11"), (True, "12"), (True, "13")]
    assert len(mocked_responses.calls) == 2


def test_an_answer_for_another_email_is_not_taken_for_this_contact(connection, mocked_responses):
    mocked_responses.post(
        BATCH, status=201, json={"contacts": [fixture("batch_new__created")["contacts"][1]]}
    )
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "unavailable"


def test_the_batch_size_is_capped_at_200(make_connection):
    assert MauticConnector(make_connection(batch_size=1000)).batch_size == 200


def test_contacts_with_nothing_to_send_fail_without_a_request(connection, mocked_responses):
    mocked_responses.post(
        BATCH,
        status=201,
        json={"contacts": [fixture("batch_new__created")["contacts"][1]], "statusCodes": [200]},
    )
    empty = ContactPayload(contact_id="c0", email=None, properties={"notes": "x"})
    first, second = MauticConnector(connection).push_contacts([empty, contact(2)])
    assert first.error.category == "validation" and second.ok


@pytest.mark.parametrize(
    ("status", "name", "error_class"),
    [
        (401, "any__unauthorized", CrmAuthError),
        (403, "any__api_disabled", CrmAuthError),
        (403, "any__legacy_error", CrmAuthError),
        (404, "any__not_found", CrmNotFound),
        (409, "any__locked", CrmLocked),
        (500, "batch_new__too_many", CrmValidationError),
        (500, "any__server_error", CrmUnavailable),
    ],
)
def test_whole_call_errors_fail_the_chunk(connection, mocked_responses, status, name, error_class):
    mocked_responses.post(BATCH, status=status, json=fixture(name))
    results = MauticConnector(connection).push_contacts([contact(1), contact(2)])
    assert all(isinstance(r.error, error_class) for r in results)
    assert results[0].error.status == status
    assert results[0].response["status"] == status


def test_an_auth_failure_stops_the_following_chunks(make_connection, mocked_responses):
    connection = make_connection(batch_size=1)
    mocked_responses.post(BATCH, status=401, json=fixture("any__unauthorized"))
    results = MauticConnector(connection).push_contacts([contact(1), contact(2)])
    assert [r.error.category for r in results] == ["auth", "auth"]
    assert "not sent" in results[1].error.message
    assert len(mocked_responses.calls) == 1


def test_a_validation_failure_does_not_stop_the_following_chunks(make_connection, mocked_responses):
    connection = make_connection(batch_size=1)
    mocked_responses.post(
        BATCH,
        status=400,
        json=fixture("field_create__invalid"),
        match=[matchers.json_params_matcher([item(1)])],
    )
    mocked_responses.post(
        BATCH,
        status=201,
        json={"contacts": [fixture("batch_new__created")["contacts"][1]], "statusCodes": [200]},
    )
    first, second = MauticConnector(connection).push_contacts([contact(1), contact(2)])
    assert first.error.category == "validation" and second.ok


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "12"}, 12.0), ({}, None)])
def test_429_is_rate_limited(connection, mocked_responses, headers, retry_after):
    mocked_responses.post(
        BATCH, status=429, json={"errors": [{"code": 429, "message": "Rate limit exceeded"}]}, headers=headers
    )
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert isinstance(result.error, CrmRateLimited) and result.error.retry_after == retry_after


def test_a_timeout_is_retriable(connection, mocked_responses):
    mocked_responses.post(BATCH, body=requests.exceptions.ReadTimeout("slow"))
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert isinstance(result.error, CrmTimeout)


def test_malformed_json_is_unavailable(connection, mocked_responses):
    mocked_responses.post(BATCH, status=201, body="<b>Fatal error</b>: Allowed memory size exhausted")
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert isinstance(result.error, CrmUnavailable)


def test_a_connection_without_base_url_is_a_validation_error(make_connection):
    connection = make_connection(base_url="")
    with pytest.raises(CrmValidationError, match="base_url"):
        MauticConnector(connection).push_contacts([contact(1)])


def test_secrets_never_reach_results(connection, mocked_responses):
    mocked_responses.post(
        BATCH, status=400, json={"errors": [{"code": 400, "message": f"bad password {PASSWORD}"}]}
    )
    [result] = MauticConnector(connection).push_contacts([contact(1)])
    assert PASSWORD not in str(result.error) and PASSWORD not in json.dumps(result.response, default=str)


# -- OAuth2 ------------------------------------------------------------------------------


def test_oauth2_client_credentials_token_is_fetched_once_and_stored(make_connection, mocked_responses):
    connection = make_connection(credentials={"client_id": "cid", "client_secret": "csecret-123"})
    token = mocked_responses.post(
        f"{BASE}/oauth/v2/token",
        json=fixture("oauth_token__ok"),
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret-123"}
            )
        ],
    )
    mocked_responses.post(
        BATCH,
        status=201,
        json={"contacts": [fixture("batch_new__created")["contacts"][0]], "statusCodes": [201]},
        match=[matchers.header_matcher({"Authorization": "Bearer mautic-access-token-1"})],
    )
    MauticConnector(connection).push_contacts([contact(1)])
    MauticConnector(connection).push_contacts([contact(1)])
    assert token.call_count == 1
    connection.refresh_from_db()
    assert connection.token_state["access_token"] == "mautic-access-token-1"


def test_oauth2_refresh_token_grant_when_a_refresh_token_is_given(make_connection, mocked_responses):
    connection = make_connection(
        credentials={"client_id": "cid", "client_secret": "cs-1234", "refresh_token": "rt-1234"}
    )
    mocked_responses.post(
        f"{BASE}/oauth/v2/token",
        json=fixture("oauth_token__ok"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "client_id": "cid",
                    "client_secret": "cs-1234",
                    "refresh_token": "rt-1234",
                }
            )
        ],
    )
    mocked_responses.get(f"{BASE}/api/contacts", json=fixture("contacts_list__empty"))
    assert MauticConnector(connection).test_credentials().ok
    connection.refresh_from_db()
    assert connection.token_state["refresh_token"] == "mautic-refresh-token-2"


def test_a_refused_oauth_grant_fails_the_credential_test(make_connection, mocked_responses):
    connection = make_connection(credentials={"client_id": "cid", "client_secret": "cs-1234"})
    mocked_responses.post(f"{BASE}/oauth/v2/token", status=400, json=fixture("oauth_token__invalid_grant"))
    check = MauticConnector(connection).test_credentials()
    assert not check.ok and "expired" in check.message


# -- credential test ---------------------------------------------------------------------


def test_credential_test_lists_one_contact(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__page2"),
        headers={"Mautic-Version": "5.1.0"},
        match=[BASIC, matchers.query_param_matcher({"limit": "1", "minimal": "1"})],
    )
    check = MauticConnector(connection).test_credentials()
    assert check.ok and check.account == {"contacts_total": 3, "mautic_version": "5.1.0"}


@pytest.mark.parametrize(
    ("status", "name", "text"),
    [
        (401, "any__unauthorized", "authorization denied"),
        (403, "any__api_disabled", "API disabled"),
        (404, "any__not_found", "root URL"),
    ],
)
def test_credential_test_refusals_are_reported(connection, mocked_responses, status, name, text):
    mocked_responses.get(f"{BASE}/api/contacts", status=status, json=fixture(name))
    check = MauticConnector(connection).test_credentials()
    assert not check.ok and text in check.message


def test_credential_test_outage_raises(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/api/contacts", status=503, body="down")
    with pytest.raises(CrmUnavailable):
        MauticConnector(connection).test_credentials()


# -- pull --------------------------------------------------------------------------------


def list_params(start: int, limit: int, since: str | None) -> list:
    params = {"start": str(start), "limit": str(limit), "orderBy": "date_modified", "orderByDir": "asc"}
    if since:
        params.update({"where[0][col]": "dateModified", "where[0][expr]": "gte", "where[0][val]": since})
    return [BASIC, matchers.query_param_matcher(params)]


def test_pull_re_anchors_on_the_newest_modification(make_connection, mocked_responses):
    connection = make_connection(settings={"page_size": 2})
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__page1"),
        match=list_params(0, 2, "2024-05-01 00:00:00"),
    )
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__page2"),
        match=list_params(1, 2, "2024-05-01 12:05:00"),
    )
    pages = list(MauticConnector(connection).pull_contacts(since=datetime(2024, 5, 1, tzinfo=UTC)))
    assert [[r.remote_id for r in p.records] for p in pages] == [["11", "12"], ["13"]]
    assert json.loads(pages[0].next_cursor) == {"since": "2024-05-01 12:05:00", "offset": 1}
    assert pages[1].next_cursor is None
    assert pages[0].records[0].properties["first_name"] == "Ada"


def test_pull_moves_the_offset_inside_one_second(make_connection, mocked_responses):
    connection = make_connection(settings={"page_size": 2})
    same = fixture("contacts_list__page1")
    for contact_data in same["contacts"].values():
        contact_data["dateModified"] = "2024-05-01T00:00:00+00:00"
    mocked_responses.get(f"{BASE}/api/contacts", json=same, match=list_params(0, 2, "2024-05-01 00:00:00"))
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__empty"),
        match=list_params(2, 2, "2024-05-01 00:00:00"),
    )
    pages = list(MauticConnector(connection).pull_contacts(since=datetime(2024, 5, 1, tzinfo=UTC)))
    assert [len(p.records) for p in pages] == [2, 0]


def test_pull_resumes_from_a_cursor_and_converts_to_the_instance_zone(make_connection, mocked_responses):
    connection = make_connection(settings={"timezone": "Europe/Paris"})
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__empty"),
        match=list_params(0, 200, "2024-05-01 02:00:00"),
    )
    list(MauticConnector(connection).pull_contacts(since=datetime(2024, 5, 1, tzinfo=UTC)))
    mocked_responses.get(
        f"{BASE}/api/contacts",
        json=fixture("contacts_list__empty"),
        match=list_params(4, 200, "2024-05-02 00:00:00"),
    )
    cursor = json.dumps({"since": "2024-05-02 00:00:00", "offset": 4})
    list(MauticConnector(connection).pull_contacts(since=None, cursor=cursor))


def test_a_full_pull_has_no_filter(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/api/contacts", json=fixture("contacts_list__empty"), match=list_params(0, 200, None)
    )
    [page] = MauticConnector(connection).pull_contacts(since=None)
    assert page.records == [] and page.next_cursor is None


def test_pull_errors_raise(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/api/contacts", status=401, json=fixture("any__unauthorized"))
    with pytest.raises(CrmAuthError):
        list(MauticConnector(connection).pull_contacts(since=None))


# -- fields ------------------------------------------------------------------------------


def test_list_properties(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/api/fields/contact",
        json=fixture("fields_list__ok"),
        match=[BASIC, matchers.query_param_matcher({"start": "0", "limit": "200"})],
    )
    props = {p.name: p for p in MauticConnector(connection).list_properties(object_type="contacts")}
    assert set(props) == {"firstname", "email", "tier", "newsletter"}


def test_fields_of_other_objects_are_not_supported(connection):
    with pytest.raises(CapabilityNotSupported):
        MauticConnector(connection).list_properties(object_type="deals")


def test_create_properties_skips_existing_and_reports_each(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/api/fields/contact", json=fixture("fields_list__ok"))
    mocked_responses.post(
        f"{BASE}/api/fields/contact/new",
        status=201,
        json=fixture("field_create__created"),
        match=[
            matchers.json_params_matcher(
                {
                    "label": "Birthday",
                    "alias": "birthday",
                    "type": "date",
                    "object": "lead",
                    "group": "core",
                    "isPublished": True,
                }
            )
        ],
    )
    mocked_responses.post(f"{BASE}/api/fields/contact/new", status=400, json=fixture("field_create__invalid"))
    results = MauticConnector(connection).create_properties(
        object_type="contacts",
        properties=[
            RemoteProperty(name="tier", label="Tier", type="enumeration", field_type="select"),
            RemoteProperty(name="birthday", label="Birthday", type="date", field_type="date"),
            RemoteProperty(name="weird", label="Weird", type="string", field_type="text"),
        ],
    )
    assert [(r.ok, r.created, r.remote_id) for r in results] == [
        (True, False, "40"),
        (True, True, "42"),
        (False, None, None),
    ]
    assert results[2].error.category == "validation"


def test_update_property_patches_label_and_options(connection, mocked_responses):
    mocked_responses.patch(
        f"{BASE}/api/fields/contact/40/edit",
        json=fixture("field_edit__ok"),
        match=[
            matchers.json_params_matcher(
                {
                    "label": "Customer tier",
                    "properties": {
                        "list": [
                            {"label": "Gold", "value": "gold"},
                            {"label": "Silver", "value": "silver"},
                            {"label": "Bronze", "value": "bronze"},
                        ]
                    },
                }
            )
        ],
    )
    prop = RemoteProperty(
        name="tier",
        label="Customer tier",
        type="enumeration",
        field_type="select",
        remote_id="40",
        options=[
            {"label": "Gold", "value": "gold"},
            {"label": "Silver", "value": "silver"},
            {"label": "Bronze", "value": "bronze"},
        ],
    )
    updated = MauticConnector(connection).update_property(object_type="contacts", prop=prop)
    assert updated.label == "Customer tier" and len(updated.options) == 3


def test_update_property_finds_the_field_by_alias(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/api/fields/contact", json=fixture("fields_list__ok"))
    mocked_responses.patch(
        f"{BASE}/api/fields/contact/41/edit", json={"field": fixture("fields_list__ok")["fields"][3]}
    )
    prop = RemoteProperty(name="newsletter", label="Newsletter", type="bool", field_type="booleancheckbox")
    assert MauticConnector(connection).update_property(object_type="contacts", prop=prop).remote_id == "41"


def test_update_property_of_an_unknown_field_is_not_found(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/api/fields/contact", json=fixture("fields_list__ok"))
    with pytest.raises(CrmNotFound):
        MauticConnector(connection).update_property(
            object_type="contacts", prop=RemoteProperty(name="nope", label="N", type="string")
        )
