"""Pushing contacts one request each: update by id, email lookup, create, per-item results."""

import json

import pytest
import requests
from responses import matchers

from integrations.connectors.base import ContactPayload
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmRateLimited,
    CrmTimeout,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.registry import connector_for

BASE = "https://crm.example.test"
CONTACTS = f"{BASE}/api/v1/contacts"
MAP = {"first_name": "firstName", "last_name": "lastName", "email": "email"}


def payload(n, *, remote_id=None, email="auto", **props):
    email = f"c{n}@example.test" if email == "auto" else email
    return ContactPayload(
        contact_id=str(n),
        email=email,
        properties={"first_name": f"F{n}", **props},
        remote_id=remote_id,
        idempotency_key=f"idem-{n}",
    )


@pytest.fixture
def connection(make_connection):
    return make_connection(
        base_url=BASE, credentials={"api_key": "key-0123456789"}, settings={"field_maps": {"contacts": MAP}}
    )


def no_match(mocked_responses, email):
    return mocked_responses.get(
        CONTACTS, json={"data": []}, match=[matchers.query_param_matcher({"email": email})]
    )


class TestOneContact:
    def test_new_contact_is_looked_up_then_created(self, connection, mocked_responses):
        lookup = no_match(mocked_responses, "c1@example.test")
        mocked_responses.post(
            CONTACTS,
            status=201,
            json={"id": 101, "firstName": "F1"},
            match=[matchers.json_params_matcher({"firstName": "F1", "email": "c1@example.test"})],
        )
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert result.ok and result.created is True
        assert result.remote_id == "101"
        assert result.contact_id == "1"
        assert result.request == {
            "method": "POST",
            "path": "/api/v1/contacts",
            "body": {"firstName": "F1", "email": "c1@example.test"},
        }
        assert result.response == {"id": 101, "firstName": "F1"}
        assert lookup.call_count == 1

    def test_known_remote_id_is_updated_without_lookup(self, connection, mocked_responses):
        mocked_responses.patch(
            f"{CONTACTS}/55",
            json={"id": 55},
            match=[
                matchers.json_params_matcher({"firstName": "F1", "lastName": "L", "email": "c1@example.test"})
            ],
        )
        [result] = connector_for(connection).push_contacts([payload(1, remote_id="55", last_name="L")])
        assert result.ok and result.created is False and result.remote_id == "55"

    def test_update_with_put_and_an_empty_204(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"api_key": "key-0123456789"},
            settings={"field_maps": {"contacts": MAP}, "contacts": {"update_method": "PUT"}},
        )
        mocked_responses.put(f"{CONTACTS}/a%2Fb", status=204)
        [result] = connector_for(connection).push_contacts([payload(1, remote_id="a/b")])
        assert result.ok and result.remote_id == "a/b"

    def test_remote_id_deleted_remotely_is_found_by_email_or_created(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/55", status=404, json={"message": "not found"})
        no_match(mocked_responses, "c1@example.test")
        mocked_responses.post(CONTACTS, status=201, json={"id": 56})
        [result] = connector_for(connection).push_contacts([payload(1, remote_id="55")])
        assert result.ok and result.created is True and result.remote_id == "56"

    def test_email_lookup_match_is_updated(self, connection, mocked_responses):
        mocked_responses.get(CONTACTS, json={"data": [{"id": 77, "email": "C1@Example.test"}]})
        mocked_responses.patch(f"{CONTACTS}/77", json={"id": 77})
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert result.ok and result.created is False and result.remote_id == "77"

    def test_lookup_ignored_by_the_api_does_not_overwrite_another_contact(self, connection, mocked_responses):
        # The API ignored ?email= and returned its whole list: nothing matches, so create.
        mocked_responses.get(CONTACTS, json={"data": [{"id": 1, "email": "someone@else.test"}]})
        mocked_responses.post(CONTACTS, status=201, json={"id": 102})
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert result.created is True and result.remote_id == "102"

    def test_409_on_create_becomes_an_update(self, connection, mocked_responses):
        no_match(mocked_responses, "c1@example.test")
        mocked_responses.post(CONTACTS, status=409, json={"message": "email already exists"})
        mocked_responses.get(CONTACTS, json={"data": [{"id": 88, "email": "c1@example.test"}]})
        mocked_responses.patch(f"{CONTACTS}/88", json={"id": 88})
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert result.ok and result.remote_id == "88" and result.created is False

    def test_409_without_a_match_is_a_conflict(self, connection, mocked_responses):
        no_match(mocked_responses, "c1@example.test")
        mocked_responses.post(CONTACTS, status=409, json={"message": "duplicate phone"})
        no_match(mocked_responses, "c1@example.test")
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert not result.ok
        assert isinstance(result.error, CrmConflict)
        assert result.error.message == "duplicate phone"

    def test_without_lookup_and_without_email_it_creates(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"api_key": "key-0123456789"},
            settings={
                "field_maps": {"contacts": MAP},
                "contacts": {
                    "lookup_param": "",
                    "body_key": "contact",
                    "response_path": "contact",
                    "idempotency_header": "Idempotency-Key",
                },
            },
        )
        mocked_responses.post(
            CONTACTS,
            status=201,
            json={"contact": {"id": "x1"}},
            match=[
                matchers.json_params_matcher({"contact": {"firstName": "F1", "email": "c1@example.test"}}),
                matchers.header_matcher({"Idempotency-Key": "idem-1"}),
            ],
        )
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert result.remote_id == "x1"

    def test_created_without_an_id_is_a_validation_error(self, connection, mocked_responses):
        no_match(mocked_responses, "c1@example.test")
        mocked_responses.post(CONTACTS, status=201, json={"ok": True})
        [result] = connector_for(connection).push_contacts([payload(1)])
        assert not result.ok
        assert isinstance(result.error, CrmValidationError)
        assert "no id at 'id'" in result.error.message

    def test_nothing_mapped_is_a_validation_error_without_a_call(self, connection, mocked_responses):
        empty = ContactPayload(contact_id="9", email=None, properties={"notes": "x"})
        [result] = connector_for(connection).push_contacts([empty])
        assert isinstance(result.error, CrmValidationError)
        assert len(mocked_responses.calls) == 0

    def test_connection_field_mapping_overrides_and_removes(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"api_key": "key-0123456789"},
            settings={"field_maps": {"contacts": MAP}, "contacts": {"lookup_param": ""}},
            field_mapping={"first_name": "givenName", "last_name": "", "phone": "mobile"},
        )
        mocked_responses.post(
            CONTACTS,
            status=201,
            json={"id": 1},
            match=[
                matchers.json_params_matcher({"givenName": "F1", "email": "c1@example.test", "mobile": "+1"})
            ],
        )
        connector_for(connection).push_contacts([payload(1, last_name="dropped", phone="+1")])


class TestBatch:
    def test_one_result_per_input_in_order_and_a_bad_one_fails_alone(self, connection, mocked_responses):
        for n in (1, 2, 3):
            no_match(mocked_responses, f"c{n}@example.test")
        mocked_responses.post(CONTACTS, status=201, json={"id": 101})
        mocked_responses.post(CONTACTS, status=422, json={"errors": [{"message": "email is invalid"}]})
        mocked_responses.post(CONTACTS, status=201, json={"id": 103})
        results = connector_for(connection).push_contacts([payload(1), payload(2), payload(3)])
        assert [r.contact_id for r in results] == ["1", "2", "3"]
        assert [r.ok for r in results] == [True, False, True]
        assert isinstance(results[1].error, CrmValidationError)
        assert results[1].error.message == "email is invalid"
        assert results[1].response == {"errors": [{"message": "email is invalid"}]}
        assert [r.remote_id for r in results] == ["101", None, "103"]

    def test_5xx_and_timeout_fail_their_item_and_the_batch_goes_on(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/1", status=500, json={"message": "boom"})
        mocked_responses.patch(f"{CONTACTS}/2", body=requests.ReadTimeout("slow"))
        mocked_responses.patch(f"{CONTACTS}/3", json={"id": 3})
        results = connector_for(connection).push_contacts(
            [payload(1, remote_id="1"), payload(2, remote_id="2"), payload(3, remote_id="3")]
        )
        assert isinstance(results[0].error, CrmUnavailable) and results[0].error.retriable
        assert isinstance(results[1].error, CrmTimeout) and results[1].error.retriable
        assert results[2].ok

    def test_malformed_json_fails_its_item(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/1", body="{not json", content_type="application/json")
        [result] = connector_for(connection).push_contacts([payload(1, remote_id="1")])
        assert isinstance(result.error, CrmUnavailable)

    def test_401_halts_the_batch(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/1", status=401, json={"message": "bad key"})
        results = connector_for(connection).push_contacts([payload(n, remote_id=str(n)) for n in (1, 2, 3)])
        assert all(isinstance(r.error, CrmAuthError) for r in results)
        assert len(mocked_responses.calls) == 1

    def test_429_halts_the_batch_with_retry_after(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/1", json={"id": 1})
        mocked_responses.patch(
            f"{CONTACTS}/2", status=429, headers={"Retry-After": "12"}, json={"message": "x"}
        )
        results = connector_for(connection).push_contacts([payload(n, remote_id=str(n)) for n in (1, 2, 3)])
        assert results[0].ok
        assert [type(r.error) for r in results[1:]] == [CrmRateLimited, CrmRateLimited]
        assert results[2].error.retry_after == 12
        assert len(mocked_responses.calls) == 2

    def test_429_without_retry_after(self, connection, mocked_responses):
        mocked_responses.patch(f"{CONTACTS}/1", status=429, body="")
        [result] = connector_for(connection).push_contacts([payload(1, remote_id="1")])
        assert isinstance(result.error, CrmRateLimited)
        assert result.error.retry_after is None

    def test_secrets_never_reach_results(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"api_key": "key-0123456789"},
            settings={"contacts": {"lookup_param": ""}},
        )
        mocked_responses.post(CONTACTS, status=400, json={"message": "bad key key-0123456789 used"})
        [result] = connector_for(connection).push_contacts([payload(1)])
        dumped = json.dumps([result.request, result.response, result.error.as_dict()])
        assert "key-0123456789" not in dumped
