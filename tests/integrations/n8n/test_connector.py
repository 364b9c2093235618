"""N8nConnector against a mocked n8n Webhook node: envelope, signature, auth, answers, errors."""

import base64
import hashlib
import hmac
import json
from datetime import date

import pytest
import requests
from responses import matchers

from integrations.connectors.base import ContactPayload
from integrations.connectors.n8n import N8nConnector, mapping
from integrations.errors import CrmAuthError, CrmNotFound, CrmRateLimited, CrmTimeout, CrmUnavailable

from .conftest import HEADER_NAME, HEADER_VALUE, SECRET, URL, fixture

pytestmark = pytest.mark.django_db

AUTH = matchers.header_matcher({HEADER_NAME: HEADER_VALUE})


def contact(n: int, **properties) -> ContactPayload:
    properties.setdefault("first_name", f"P{n}")
    return ContactPayload(
        contact_id=f"c{n}", email=f"person{n}@example.com", properties=properties, idempotency_key=f"key-{n}"
    )


def sent(mocked_responses, index: int = 0):
    request = mocked_responses.calls[index].request
    return request, json.loads(request.body)


# -- mapping -----------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert mapping.sign(body, "s3cret") == expected
    assert mapping.verify(body, "s3cret", expected)
    assert not mapping.verify(body + b" ", "s3cret", expected)


def test_properties_are_renamed_by_the_mapping_and_an_empty_target_drops():
    assert mapping.mapped_properties({"a": 1, "b": 2, "c": 3}, {"a": "x", "b": ""}) == {"x": 1, "c": 3}


def test_without_a_payload_key_the_idempotency_key_follows_the_content():
    one = ContactPayload(contact_id="c1", email="a@b.c", properties={"x": 1})
    same = ContactPayload(contact_id="c1", email="a@b.c", properties={"x": 1})
    changed = ContactPayload(contact_id="c1", email="a@b.c", properties={"x": 2})
    key = mapping.idempotency_key(one, one.properties)
    assert key == mapping.idempotency_key(same, same.properties)
    assert key != mapping.idempotency_key(changed, changed.properties)


def test_values_json_cannot_hold_are_encoded():
    assert mapping.encode({"d": date(2024, 1, 2), "s": {"b", "a"}}) == b'{"d":"2024-01-02","s":["a","b"]}'


# -- push --------------------------------------------------------------------------------


def test_a_batch_is_one_signed_post_with_an_idempotency_key_per_contact(make_connection, mocked_responses):
    connection = make_connection(field_mapping={"first_name": "firstName"})
    mocked_responses.post(URL, json=fixture("webhook__started"), match=[AUTH])
    results = N8nConnector(connection).push_contacts([contact(1, tier="gold"), contact(2)])
    assert [r.ok for r in results] == [True, True]
    request, envelope = sent(mocked_responses)
    assert envelope["event"] == "contacts.upsert" and envelope["test"] is False
    assert envelope["contacts"][0] == {
        "contact_id": "c1",
        "remote_id": None,
        "email": "person1@example.com",
        "idempotency_key": "key-1",
        "properties": {"firstName": "P1", "tier": "gold"},
    }
    assert envelope["batch_id"] == hashlib.sha256(b"key-1\nkey-2").hexdigest()
    assert request.headers["Idempotency-Key"] == envelope["batch_id"]
    assert request.headers["Content-Type"] == "application/json"
    assert mapping.verify(request.body, SECRET, request.headers["X-Signature-256"])
    assert results[0].response == {"status": 200, "body": {"message": "Workflow was started"}}
    assert results[0].request["idempotency_key"] == "key-1"


def test_the_same_contacts_at_the_same_versions_give_the_same_batch_id(connection, mocked_responses):
    mocked_responses.post(URL, json=fixture("webhook__started"))
    N8nConnector(connection).push_contacts([contact(1)])
    N8nConnector(connection).push_contacts([contact(1)])
    assert sent(mocked_responses, 0)[1]["batch_id"] == sent(mocked_responses, 1)[1]["batch_id"]


def test_webhook_path_setting_and_signature_header_name(make_connection, mocked_responses):
    connection = make_connection(
        base_url="https://n8n.example.com/webhook",
        settings={"webhook_path": "/crm/", "signature_header": "X-Sig"},
    )
    mocked_responses.post("https://n8n.example.com/webhook/crm", body="")
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert result.ok and result.response == {"status": 200, "body": None}
    request, _ = sent(mocked_responses)
    assert mapping.verify(request.body, SECRET, request.headers["X-Sig"])


def test_basic_auth_and_no_secret(make_connection, mocked_responses):
    connection = make_connection(credentials={"username": "bob", "password": "pw-12345"})
    basic = "Basic " + base64.b64encode(b"bob:pw-12345").decode()
    mocked_responses.post(
        URL, body="Workflow was started", match=[matchers.header_matcher({"Authorization": basic})]
    )
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert result.ok and result.response["body"] == "Workflow was started"
    assert "X-Signature-256" not in sent(mocked_responses)[0].headers


def test_auth_header_written_as_one_string(make_connection, mocked_responses):
    connection = make_connection(credentials={"auth_header": "Authorization: Bearer tok-12345"})
    mocked_responses.post(
        URL, json={}, match=[matchers.header_matcher({"Authorization": "Bearer tok-12345"})]
    )
    assert N8nConnector(connection).push_contacts([contact(1)])[0].ok


def test_per_contact_results_from_a_respond_node_are_matched_by_contact_id(connection, mocked_responses):
    mocked_responses.post(URL, json=fixture("webhook__results"))
    first, second, third = N8nConnector(connection).push_contacts([contact(1), contact(2), contact(3)])
    assert (first.ok, first.remote_id, first.created) == (True, "row-17", True)
    assert not second.ok and second.error.category == "validation" and "blocked" in second.error.message
    assert not third.ok and third.error.retriable


@pytest.mark.parametrize(
    ("status", "kwargs", "error_class", "text"),
    [
        (401, {"json": fixture("webhook__auth_required")}, CrmAuthError, "Authorization is required!"),
        (403, {"json": fixture("webhook__auth_wrong")}, CrmAuthError, "Authorization data is wrong!"),
        (404, {"json": fixture("webhook__not_registered")}, CrmNotFound, "is not registered"),
        (500, {"json": fixture("webhook__workflow_error")}, CrmUnavailable, "problem executing"),
        (502, {"body": "<html>Bad Gateway</html>"}, CrmUnavailable, "Bad Gateway"),
        (429, {"body": "slow down", "headers": {"Retry-After": "9"}}, CrmRateLimited, "slow down"),
        (429, {"body": "slow down"}, CrmRateLimited, "slow down"),
    ],
)
def test_failures_fail_every_contact_of_the_batch(
    connection, mocked_responses, status, kwargs, error_class, text
):
    mocked_responses.post(URL, status=status, **kwargs)
    results = N8nConnector(connection).push_contacts([contact(1), contact(2)])
    assert all(isinstance(r.error, error_class) for r in results)
    assert text in results[0].error.message
    assert results[0].response["status"] == status
    if status == 429:
        assert results[0].error.retry_after == (9.0 if "headers" in kwargs else None)


def test_a_timeout_is_retriable(connection, mocked_responses):
    mocked_responses.post(URL, body=requests.exceptions.ReadTimeout("slow"))
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert isinstance(result.error, CrmTimeout) and result.error.retriable


def test_a_malformed_json_answer_still_means_delivered(connection, mocked_responses):
    mocked_responses.post(URL, body='{"results": [', content_type="application/json")
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert result.ok and result.response["body"] == '{"results": ['


def test_a_batch_over_the_payload_limit_is_not_sent(connection, mocked_responses, monkeypatch):
    from integrations.connectors.n8n import connector as n8n_connector

    monkeypatch.setattr(n8n_connector, "MAX_BODY_BYTES", 50)
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "validation" and "16 MB" in result.error.message


def test_secrets_never_reach_results(connection, mocked_responses):
    mocked_responses.post(URL, status=403, body=f"wrong {HEADER_VALUE}")
    [result] = N8nConnector(connection).push_contacts([contact(1)])
    assert HEADER_VALUE not in str(result.error) and HEADER_VALUE not in json.dumps(result.response)


# -- credential test ---------------------------------------------------------------------


def test_credential_test_posts_a_signed_ping_with_no_contacts(connection, mocked_responses):
    mocked_responses.post(URL, json=fixture("webhook__started"), match=[AUTH])
    check = N8nConnector(connection).test_credentials()
    assert check.ok and check.account["signed"] is True and check.account["status"] == 200
    request, envelope = sent(mocked_responses)
    assert (envelope["event"], envelope["test"], envelope["contacts"]) == ("ping", True, [])
    assert mapping.verify(request.body, SECRET, request.headers["X-Signature-256"])


def test_credential_test_without_a_secret_says_so(make_connection, mocked_responses):
    connection = make_connection(credentials={"header_name": HEADER_NAME, "header_value": HEADER_VALUE})
    mocked_responses.post(URL, json=fixture("webhook__started"))
    check = N8nConnector(connection).test_credentials()
    assert check.ok and "signing_secret" in check.message


@pytest.mark.parametrize(
    ("status", "name", "text"),
    [(403, "webhook__auth_wrong", "wrong"), (404, "webhook__not_registered", "inactive")],
)
def test_credential_test_refusals(connection, mocked_responses, status, name, text):
    mocked_responses.post(URL, status=status, json=fixture(name))
    check = N8nConnector(connection).test_credentials()
    assert not check.ok and text in check.message


def test_credential_test_outage_raises(connection, mocked_responses):
    mocked_responses.post(URL, status=503, body="down")
    with pytest.raises(CrmUnavailable):
        N8nConnector(connection).test_credentials()


def test_a_connection_without_url_is_refused(make_connection):
    from integrations.errors import CrmValidationError

    with pytest.raises(CrmValidationError, match="webhook URL"):
        N8nConnector(make_connection(base_url="")).test_credentials()
