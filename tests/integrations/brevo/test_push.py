"""BrevoConnector.push_contacts and the bulk import, against mocked Brevo responses."""

import pytest
import requests
from responses import matchers

from integrations.connectors.base import ContactPayload
from integrations.connectors.brevo import BrevoConnector
from integrations.connectors.brevo import bulk as brevo_bulk

from .conftest import API_KEY, BASE, fixture

pytestmark = pytest.mark.django_db

AUTH = matchers.header_matcher({"api-key": API_KEY})


def contact(n: int, **properties) -> ContactPayload:
    email = properties.pop("email", f"person{n}@example.com")
    remote_id = properties.pop("remote_id", None)
    properties.setdefault("first_name", f"P{n}")
    return ContactPayload(contact_id=f"c{n}", email=email, properties=properties, remote_id=remote_id)


def body(n: int, **attributes) -> dict:
    return {
        "email": f"person{n}@example.com",
        "attributes": {"FIRSTNAME": f"P{n}", **attributes},
        "updateEnabled": True,
    }


@pytest.fixture
def attributes(mocked_responses):
    return mocked_responses.get(
        f"{BASE}/contacts/attributes", json=fixture("attributes_list__ok"), match=[AUTH]
    )


def test_a_new_contact_is_created_and_reports_its_id(connection, mocked_responses, attributes):
    mocked_responses.post(
        f"{BASE}/contacts",
        status=201,
        json=fixture("create_contact__created"),
        match=[AUTH, matchers.json_params_matcher(body(1, LASTNAME="One", SMS="+14155550100"))],
    )
    [result] = BrevoConnector(connection).push_contacts(
        [contact(1, last_name="One", phone="+1 415 555 0100")]
    )
    assert result.ok and result.created is True
    assert result.remote_id == "21"
    assert result.request["attributes"]["SMS"] == "+14155550100"
    assert result.response == {"status": 201, "body": {"id": 21}}


def test_an_existing_contact_is_updated_and_keeps_its_known_id(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=204, match=[matchers.json_params_matcher(body(1))])
    [result] = BrevoConnector(connection).push_contacts([contact(1, remote_id="99")])
    assert result.ok and result.created is False
    assert result.remote_id == "99"


def test_an_update_of_a_contact_never_synced_reads_its_id(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=204)
    mocked_responses.get(
        f"{BASE}/contacts/person1%40example.com", json=fixture("get_contact__ok"), match=[AUTH]
    )
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert (result.ok, result.created, result.remote_id) == (True, False, "42")


def test_an_id_lookup_that_fails_still_reports_the_update(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=204)
    mocked_responses.get(
        f"{BASE}/contacts/person1%40example.com", status=404, json=fixture("get_contact__not_found")
    )
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert (result.ok, result.remote_id) == (True, None)


def test_missing_attributes_are_created_before_the_contacts(connection, mocked_responses, attributes):
    create_company = mocked_responses.post(
        f"{BASE}/contacts/attributes/normal/COMPANY",
        status=201,
        match=[AUTH, matchers.json_params_matcher({"type": "text"})],
    )
    mocked_responses.post(f"{BASE}/contacts", status=201, json={"id": 5})
    [result] = BrevoConnector(connection).push_contacts([contact(1, company="Acme")])
    assert result.ok
    assert create_company.call_count == 1
    urls = [call.request.url for call in mocked_responses.calls]
    assert urls.index(f"{BASE}/contacts/attributes/normal/COMPANY") < urls.index(f"{BASE}/contacts")


def test_an_attribute_another_worker_created_first_is_fine(connection, mocked_responses, attributes):
    mocked_responses.post(
        f"{BASE}/contacts/attributes/normal/COMPANY",
        status=400,
        json=fixture("create_attribute__already_exists"),
    )
    mocked_responses.post(f"{BASE}/contacts", status=201, json={"id": 5})
    [result] = BrevoConnector(connection).push_contacts([contact(1, company="Acme")])
    assert result.ok


def test_an_attribute_that_cannot_be_created_fails_only_its_contacts(
    connection, mocked_responses, attributes
):
    mocked_responses.post(
        f"{BASE}/contacts/attributes/normal/COMPANY",
        status=400,
        json=fixture("create_attribute__bad_request"),
    )
    mocked_responses.post(
        f"{BASE}/contacts", status=201, json={"id": 6}, match=[matchers.json_params_matcher(body(2))]
    )
    first, second = BrevoConnector(connection).push_contacts([contact(1, company="Acme"), contact(2)])
    assert not first.ok and first.error.category == "validation"
    assert "COMPANY" in first.error.message
    assert second.ok and second.remote_id == "6"


def test_category_values_are_sent_as_their_brevo_ids(make_connection, mocked_responses, attributes):
    connection = make_connection(field_mapping={"tier": "TIER"})
    mocked_responses.post(
        f"{BASE}/contacts", status=201, json={"id": 7}, match=[matchers.json_params_matcher(body(1, TIER=2))]
    )
    [result] = BrevoConnector(connection).push_contacts([contact(1, tier="silver")])
    assert result.ok


@pytest.mark.parametrize(
    ("fixture_name", "category"),
    [
        ("create_contact__duplicate", "conflict"),
        ("create_contact__duplicate_invalid_parameter", "conflict"),
        ("create_contact__invalid_phone", "validation"),
    ],
)
def test_per_contact_errors_fail_only_that_contact(
    connection, mocked_responses, attributes, fixture_name, category
):
    mocked_responses.post(
        f"{BASE}/contacts",
        status=400,
        json=fixture(fixture_name),
        match=[matchers.json_params_matcher(body(1))],
    )
    mocked_responses.post(
        f"{BASE}/contacts", status=201, json={"id": 8}, match=[matchers.json_params_matcher(body(2))]
    )
    first, second = BrevoConnector(connection).push_contacts([contact(1), contact(2)])
    assert not first.ok
    assert first.error.category == category
    assert not first.error.retriable
    assert fixture(fixture_name)["message"] in first.error.message
    assert first.response["status"] == 400
    assert first.response["body"]["code"] == fixture(fixture_name)["code"]
    assert second.ok and second.remote_id == "8"


def test_too_early_is_retriable(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=425, json=fixture("create_contact__too_early"))
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_contacts_brevo_cannot_identify_fail_without_a_request(connection, mocked_responses, attributes):
    mocked_responses.post(
        f"{BASE}/contacts", status=201, json={"id": 9}, match=[matchers.json_params_matcher(body(2))]
    )
    results = BrevoConnector(connection).push_contacts(
        [contact(1, email=None), contact(2), contact(3, phone="555-0100")]
    )
    assert [r.contact_id for r in results] == ["c1", "c2", "c3"]
    assert [r.ok for r in results] == [False, True, False]
    assert "email or a phone" in results[0].error.message
    assert "country code" in results[2].error.message
    assert len([c for c in mocked_responses.calls if c.request.method == "POST"]) == 1


def test_a_refused_key_stops_the_batch_and_fails_every_contact(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=401, json=fixture("any__unauthorized"))
    results = BrevoConnector(connection).push_contacts([contact(1), contact(2), contact(3)])
    assert [r.error.category for r in results] == ["auth", "auth", "auth"]
    assert "Key not found" in results[0].error.message
    assert "not sent" in results[1].error.message
    assert results[1].request["email"] == "person2@example.com"
    assert len([c for c in mocked_responses.calls if c.request.method == "POST"]) == 1


def test_401_on_the_attribute_list_fails_the_whole_batch(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts/attributes", status=401, json=fixture("any__unauthorized"))
    results = BrevoConnector(connection).push_contacts([contact(1), contact(2)])
    assert [r.error.category for r in results] == ["auth", "auth"]


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7.0),
        (
            {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "3"},
            3.0,
        ),
        ({}, None),
    ],
)
def test_429_is_rate_limited_with_the_wait_brevo_gives(
    connection, mocked_responses, attributes, headers, retry_after
):
    mocked_responses.post(f"{BASE}/contacts", status=429, json=fixture("any__rate_limited"), headers=headers)
    first, second = BrevoConnector(connection).push_contacts([contact(1), contact(2)])
    assert first.error.category == "rate_limited" and first.error.retriable
    assert first.error.retry_after == retry_after
    assert second.error.category == "rate_limited"
    assert second.error.retry_after == retry_after


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable_and_stops_the_batch(connection, mocked_responses, attributes, status):
    mocked_responses.post(f"{BASE}/contacts", status=status, body="<html>Bad gateway</html>")
    first, second = BrevoConnector(connection).push_contacts([contact(1), contact(2)])
    assert first.error.category == "unavailable" and first.error.retriable
    assert first.error.status == status
    assert second.error.category == "unavailable"


def test_a_timeout_is_retriable(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", body=requests.exceptions.ReadTimeout("read timed out"))
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "timeout" and result.error.retriable


def test_a_created_answer_that_is_not_json_is_unavailable(connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts", status=201, body="{not json")
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert result.error.category == "unavailable" and result.error.retriable


def test_the_api_key_appears_in_no_result(connection, mocked_responses, attributes):
    mocked_responses.post(
        f"{BASE}/contacts", status=400, json={"code": "invalid_parameter", "message": f"bad key {API_KEY}"}
    )
    [result] = BrevoConnector(connection).push_contacts([contact(1)])
    assert API_KEY not in str(result.error) and API_KEY not in str(result.response)


def test_rate_limit_headers_pause_the_shared_limiter(make_connection, mocked_responses, attributes):
    from integrations.ratelimit import limiter_for

    connection = make_connection(settings={})
    mocked_responses.post(
        f"{BASE}/contacts",
        status=201,
        json={"id": 1},
        headers={
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": "30",
        },
    )
    BrevoConnector(connection).push_contacts([contact(1)])
    limiter = limiter_for(connection, name="default", default=(10, 1.0))
    assert limiter.try_acquire() > 20


def test_the_tier_setting_picks_the_contacts_limit(make_connection):
    assert BrevoConnector.rate_limit_default(make_connection(settings={})) == (10, 1.0)
    assert BrevoConnector.rate_limit_default(make_connection(name="b", settings={"tier": "extended"})) == (
        60,
        1.0,
    )


# -- bulk import -------------------------------------------------------------------------


@pytest.fixture
def import_connection(make_connection):
    return make_connection(
        settings={
            "rate_limits": {"default": None, "hourly": None},
            "import_threshold": 2,
            "import_list_ids": [2],
        }
    )


def test_a_batch_over_the_threshold_goes_through_one_import(import_connection, mocked_responses, attributes):
    expected = {
        "jsonBody": [
            {"attributes": {"FIRSTNAME": f"P{n}"}, "email": f"person{n}@example.com"} for n in (1, 2, 3)
        ],
        "listIds": [2],
        "updateExistingContacts": True,
        "emptyContactsAttributes": False,
        "disableNotification": True,
    }
    mocked_responses.post(
        f"{BASE}/contacts/import",
        status=202,
        json=fixture("import_contacts__accepted"),
        match=[AUTH, matchers.json_params_matcher(expected)],
    )
    results = BrevoConnector(import_connection).push_contacts([contact(1), contact(2), contact(3)])
    assert [r.ok for r in results] == [True, True, True]
    assert {r.response["processId"] for r in results} == {78}
    assert all(r.created is None for r in results)


def test_a_batch_at_the_threshold_is_pushed_contact_by_contact(
    import_connection, mocked_responses, attributes
):
    mocked_responses.post(f"{BASE}/contacts", status=201, json={"id": 1})
    results = BrevoConnector(import_connection).push_contacts([contact(1), contact(2)])
    assert [r.created for r in results] == [True, True]


def test_without_an_import_list_big_batches_stay_per_contact(make_connection, mocked_responses, attributes):
    connection = make_connection(settings={"rate_limits": {"default": None}, "import_threshold": 1})
    mocked_responses.post(f"{BASE}/contacts", status=201, json={"id": 1})
    results = BrevoConnector(connection).push_contacts([contact(1), contact(2)])
    assert [r.created for r in results] == [True, True]


def test_a_refused_import_fails_every_contact(import_connection, mocked_responses, attributes):
    mocked_responses.post(f"{BASE}/contacts/import", status=400, json=fixture("import_contacts__bad_request"))
    results = BrevoConnector(import_connection).push_contacts([contact(1), contact(2), contact(3)])
    assert {r.error.category for r in results} == {"validation"}


def test_import_contacts_reports_rejected_contacts_and_the_process(
    import_connection, mocked_responses, attributes
):
    mocked_responses.post(f"{BASE}/contacts/import", status=202, json={"processId": 78})
    job = BrevoConnector(import_connection).import_contacts([contact(1), contact(2, email=None)])
    assert (job.process_id, job.status, job.contact_count) == (78, "accepted", 1)
    assert list(job.rejected) == ["c2"]


def test_an_import_over_the_size_limit_is_refused_before_sending(
    import_connection, mocked_responses, attributes, monkeypatch
):
    monkeypatch.setattr(brevo_bulk, "IMPORT_MAX_BYTES", 100)
    with pytest.raises(Exception) as info:
        BrevoConnector(import_connection).import_contacts([contact(n) for n in range(5)])
    assert info.value.category == "validation"


def test_import_needs_a_list(connection, mocked_responses, attributes):
    with pytest.raises(Exception) as info:
        BrevoConnector(connection).import_contacts([contact(1)])
    assert info.value.category == "validation" and "import_list_ids" in info.value.message


@pytest.mark.parametrize(
    ("name", "status", "done"),
    [("process__queued", "queued", False), ("process__completed", "completed", True)],
)
def test_import_status_reads_the_process(connection, mocked_responses, name, status, done):
    mocked_responses.get(f"{BASE}/processes/78", json=fixture(name), match=[AUTH])
    job = BrevoConnector(connection).import_status(78)
    assert (job.process_id, job.status, job.done) == (78, status, done)
