"""HubSpot push: batch upsert by email, 207 mapping, 409 → update, whole-batch re-split, error shapes."""

import json

import pytest
import requests
from responses import matchers

from integrations.connectors.base import ContactPayload
from integrations.connectors.hubspot import HubSpotConnector
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

BASE = "https://api.hubapi.com"
UPSERT = f"{BASE}/crm/v3/objects/contacts/batch/upsert"
UPDATE = f"{BASE}/crm/v3/objects/contacts/batch/update"
TOKEN = "pat-na1-secret-token-1234"


@pytest.fixture
def connector(org):
    return HubSpotConnector(CrmConnectionFactory(organization=org))


def contact(n: int, email: str | None = None) -> ContactPayload:
    email = email if email is not None else f"person{n}@example.com"
    return ContactPayload(
        contact_id=f"c{n}",
        email=email,
        properties={"first_name": f"First{n}", "last_name": "Last", "job_title": "CTO", "notes": "unmapped"},
    )


def ok_result(inp: dict, *, new: bool = True, rid: str | None = None) -> dict:
    return {
        "id": rid or str(1000 + int(inp["objectWriteTraceId"])),
        "properties": {"email": inp["id"]},
        "new": new,
        "objectWriteTraceId": inp["objectWriteTraceId"],
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-01-01T00:00:00Z",
        "archived": False,
    }


def upsert_echo(request):
    inputs = json.loads(request.body)["inputs"]
    return 200, {}, json.dumps({"status": "COMPLETE", "results": [ok_result(i) for i in inputs]})


def test_push_sends_mapped_properties_by_email_and_maps_results(connector, mocked_responses):
    # given
    expected = {
        "inputs": [
            {
                "id": "person1@example.com",
                "idProperty": "email",
                "objectWriteTraceId": "0",
                "properties": {
                    "firstname": "First1",
                    "lastname": "Last",
                    "jobtitle": "CTO",
                    "email": "person1@example.com",
                },
            }
        ]
    }
    mocked_responses.post(
        UPSERT,
        json={"status": "COMPLETE", "results": [ok_result(expected["inputs"][0], new=False, rid="501")]},
        match=[
            matchers.json_params_matcher(expected),
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
        ],
    )
    # when
    results = connector.push_contacts([contact(1)])
    # then
    assert [(r.contact_id, r.ok, r.remote_id, r.created) for r in results] == [("c1", True, "501", False)]
    assert results[0].request["properties"]["firstname"] == "First1"


def test_push_splits_into_batches_of_100(connector, mocked_responses):
    mocked_responses.add_callback("POST", UPSERT, callback=upsert_echo)
    results = connector.push_contacts([contact(n) for n in range(150)])
    assert len(results) == 150 and all(r.ok for r in results)
    sizes = [len(json.loads(c.request.body)["inputs"]) for c in mocked_responses.calls]
    assert sizes == [100, 50]


def test_push_without_email_fails_that_contact_without_a_call(connector, mocked_responses):
    results = connector.push_contacts([contact(1, email="")])
    assert results[0].ok is False and results[0].error.category == "validation"
    assert len(mocked_responses.calls) == 0


def test_push_207_maps_errors_back_by_trace_id(connector, mocked_responses):
    # given: input 1 of 3 is refused
    def partial(request):
        inputs = json.loads(request.body)["inputs"]
        body = {
            "status": "COMPLETE",
            "results": [ok_result(i) for i in inputs if i["objectWriteTraceId"] != "1"],
            "numErrors": 1,
            "errors": [
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid",
                    "errors": [{"message": "Email address person1@ is invalid", "code": "INVALID_EMAIL"}],
                    "context": {"objectWriteTraceId": ["1"]},
                }
            ],
        }
        return 207, {}, json.dumps(body)

    mocked_responses.add_callback("POST", UPSERT, callback=partial)
    # when
    results = connector.push_contacts([contact(0), contact(1), contact(2)])
    # then
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error.category == "validation"
    assert "person1@ is invalid" in results[1].error.message
    assert results[0].remote_id == "1000" and results[2].remote_id == "1002"


def test_push_409_already_exists_becomes_update_of_existing_id(connector, mocked_responses):
    # given
    mocked_responses.post(
        UPSERT,
        status=409,
        json={
            "status": "error",
            "message": "Contact already exists. Existing ID: 37765128953",
            "correlationId": "c-1",
            "category": "CONFLICT",
        },
    )
    mocked_responses.post(
        UPDATE,
        json={"status": "COMPLETE", "results": [{"id": "37765128953", "properties": {}}]},
        match=[
            matchers.json_params_matcher(
                {
                    "inputs": [
                        {
                            "id": "37765128953",
                            "properties": {"firstname": "First1", "lastname": "Last", "jobtitle": "CTO"},
                        }
                    ]
                }
            )
        ],
    )
    # when
    results = connector.push_contacts([contact(1)])
    # then
    assert results[0].ok is True and results[0].remote_id == "37765128953" and results[0].created is False


def test_push_whole_batch_400_is_split_until_the_bad_input_is_isolated(connector, mocked_responses):
    # given: HubSpot refuses any batch containing the bad email as a whole
    def strict(request):
        inputs = json.loads(request.body)["inputs"]
        if any(i["id"] == "bad@example.com" for i in inputs):
            return (
                400,
                {},
                json.dumps(
                    {
                        "status": "error",
                        "message": "Property values were not valid",
                        "category": "VALIDATION_ERROR",
                    }
                ),
            )
        return upsert_echo(request)

    mocked_responses.add_callback("POST", UPSERT, callback=strict)
    records = [contact(n) for n in range(8)]
    records[5] = contact(5, email="bad@example.com")
    # when
    results = connector.push_contacts(records)
    # then: one bad contact never fails the good ones
    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    assert results[5].error.category == "validation"
    # 8 → 4+4 → (4 ok) 2+2 → (2 ok) 1+1: 1 + 2 + 2 + 2 calls
    assert len(mocked_responses.calls) == 7


@pytest.mark.parametrize(
    ("status", "body", "headers", "category", "retriable", "retry_after"),
    [
        (
            401,
            {
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION",
            },
            {},
            "auth",
            False,
            None,
        ),  # noqa: E501
        (
            429,
            {
                "status": "error",
                "message": "You have reached your ten secondly limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            {"Retry-After": "7"},
            "rate_limited",
            True,
            7.0,
        ),  # noqa: E501
        (423, {"status": "error", "message": "Locked", "category": "LOCKED"}, {}, "locked", True, 2.0),
        (
            500,
            {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"},
            {},
            "unavailable",
            True,
            None,
        ),  # noqa: E501
        (502, "<html>bad gateway</html>", {}, "unavailable", True, None),
    ],
)
def test_push_whole_batch_errors_become_per_contact_errors(
    connector, mocked_responses, status, body, headers, category, retriable, retry_after
):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    mocked_responses.post(UPSERT, status=status, headers=headers, **kwargs)
    results = connector.push_contacts([contact(1), contact(2)])
    assert len(mocked_responses.calls) == 1  # only validation/conflict are re-split
    for result in results:
        assert result.ok is False
        assert result.error.category == category
        assert result.error.retriable is retriable
        assert result.error.retry_after == retry_after
        assert result.error.status == status
    if isinstance(body, dict):
        assert body["message"] in results[0].error.message


def test_push_403_missing_scopes_names_the_scopes(connector, mocked_responses):
    mocked_responses.post(
        UPSERT,
        status=403,
        json={
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "correlationId": "x",
            "category": "MISSING_SCOPES",
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
                }
            ],
        },
    )
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "auth" and result.error.retriable is False
    assert "crm.objects.contacts.write" in result.error.message


def test_push_read_timeout_is_a_retriable_timeout(connector, mocked_responses):
    mocked_responses.post(UPSERT, body=requests.exceptions.ReadTimeout("read timed out"))
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "timeout" and result.error.retriable


def test_push_connection_error_is_unavailable(connector, mocked_responses):
    mocked_responses.post(UPSERT, body=requests.exceptions.ConnectionError("refused"))
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_push_malformed_json_200_is_unavailable(connector, mocked_responses):
    mocked_responses.post(UPSERT, status=200, body="{not json")
    [result] = connector.push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable
    assert "not JSON" in result.error.message


def test_push_duplicate_emails_go_to_separate_batches(connector, mocked_responses):
    mocked_responses.add_callback("POST", UPSERT, callback=upsert_echo)
    results = connector.push_contacts([contact(1), contact(2, email="PERSON1@example.com")])
    assert [r.ok for r in results] == [True, True]
    assert [len(json.loads(c.request.body)["inputs"]) for c in mocked_responses.calls] == [1, 1]


def test_field_mapping_override_and_removal(org, mocked_responses):
    connection = CrmConnectionFactory(
        organization=org, field_mapping={"job_title": None, "notes": "hs_notes"}
    )
    mocked_responses.add_callback("POST", UPSERT, callback=upsert_echo)
    HubSpotConnector(connection).push_contacts([contact(1)])
    sent = json.loads(mocked_responses.calls[0].request.body)["inputs"][0]["properties"]
    assert sent == {
        "firstname": "First1",
        "lastname": "Last",
        "hs_notes": "unmapped",
        "email": "person1@example.com",
    }


def upsert_expecting(mocked_responses, properties: dict) -> None:
    mocked_responses.post(
        UPSERT,
        json={
            "status": "COMPLETE",
            "results": [{"id": "1", "properties": {}, "new": True, "objectWriteTraceId": "0"}],
        },
        match=[
            matchers.json_params_matcher(
                {
                    "inputs": [
                        {
                            "id": "ada@example.com",
                            "idProperty": "email",
                            "objectWriteTraceId": "0",
                            "properties": properties,
                        }
                    ]
                }
            )
        ],
    )


def test_custom_properties_are_pushed_once_property_sync_put_them_in_the_crm(
    org, connector, mocked_responses
):
    """A defined property HubSpot lacks would fail the contact; after a sync created it, it is pushed."""
    from properties.models import PropertySyncResult
    from tests.properties.factories import PropertyDefinitionFactory, PropertySyncRunFactory

    PropertyDefinitionFactory(organization=org, name="lead_score", number=True)
    record = ContactPayload(
        contact_id="c1",
        email="ada@example.com",
        properties={"first_name": "Ada", "lead_score": 80, "undefined_key": "x"},
    )
    # given: defined, not yet synced to HubSpot
    upsert_expecting(mocked_responses, {"firstname": "Ada", "email": "ada@example.com"})
    assert connector.push_contacts([record])[0].ok
    # when: a property sync created it in HubSpot
    run = PropertySyncRunFactory(organization=org, crm="hubspot", object_type="contacts")
    PropertySyncResult.objects.create(
        run=run, name="lead_score", sync_status="created", remote_id="lead_score"
    )
    # then
    upsert_expecting(mocked_responses, {"firstname": "Ada", "lead_score": "80", "email": "ada@example.com"})
    assert HubSpotConnector(connector.connection).push_contacts([record])[0].ok
