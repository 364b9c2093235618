"""TopProducer preset over mocked HTTP: OAuth2 client credentials, contacts and transactions."""

from datetime import UTC, datetime

import pytest
from responses import matchers

from integrations.connectors.base import ContactPayload
from integrations.errors import CrmAuthError
from integrations.models import CrmConnection
from integrations.registry import connector_for, get_connector_class

BASE = "https://api.topproducerpro.com/v2"
TOKEN = "https://api.topproducerpro.com/oauth/token"
BEARER = {"Authorization": "Bearer tp-access-1"}


@pytest.fixture
def connection(make_connection):
    return make_connection(
        kind="topproducer", credentials={"client_id": "tp-client", "client_secret": "tp-secret"}
    )


@pytest.fixture
def token(mocked_responses):
    return mocked_responses.post(
        TOKEN,
        json={"access_token": "tp-access-1", "token_type": "bearer", "expires_in": 3600},
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "client_credentials", "client_id": "tp-client", "client_secret": "tp-secret"}
            )
        ],
    )


def test_registered_as_a_rest_preset():
    cls = get_connector_class("topproducer")
    assert cls.default_base_url == "https://api.topproducerpro.com"
    assert cls.credential_fields == ("client_id", "client_secret")
    assert cls.default_field_mapping["first_name"] == "firstName"


def test_pull_contacts_offset_paging_and_camel_case_map(connection, token, mocked_responses):
    modified = "2026-01-05T00:00:00Z"
    items = [
        {"id": f"c{i}", "firstName": f"F{i}", "email": f"c{i}@x.test", "updatedAt": modified}
        for i in range(100)
    ]
    params = {"sort": "updatedAt", "updatedSince": "2026-01-01T00:00:00Z", "limit": "100"}
    mocked_responses.get(
        f"{BASE}/contacts",
        json={"data": items, "meta": {"total": 101}},
        match=[
            matchers.header_matcher(BEARER),
            matchers.query_param_matcher(
                {
                    "sort": "updatedAt",
                    "updatedSince": "2026-01-01T00:00:00Z",
                    "offset": "0",
                    "limit": "100",
                }
            ),
        ],
    )
    mocked_responses.get(
        f"{BASE}/contacts",
        json={
            "data": [{"id": "c100", "firstName": "Last", "updatedAt": "2026-01-06T00:00:00Z"}],
            "meta": {"total": 101},
        },
        match=[matchers.query_param_matcher({**params, "offset": "100"})],
    )
    pages = list(connector_for(connection).pull_contacts(since=datetime(2026, 1, 1, tzinfo=UTC)))
    assert [len(p.records) for p in pages] == [100, 1]
    assert pages[1].records[0].properties == {"first_name": "Last", "updatedAt": "2026-01-06T00:00:00Z"}
    assert pages[1].records[0].updated_at == datetime(2026, 1, 6, tzinfo=UTC)
    assert token.call_count == 1
    # The token was stored (encrypted) for the next worker.
    assert CrmConnection.objects.get(pk=connection.pk).token_state["access_token"] == "tp-access-1"


TRANSACTION = {
    "id": "t1",
    "propertyAddress": "1 Main St",
    "salesPrice": 420000,
    "status": "closed",
    "closeDate": "2026-02-01",
    "updatedAt": "2026-02-02T00:00:00Z",
}


def test_deals_are_transactions(connection, token, mocked_responses):
    mocked_responses.get(
        f"{BASE}/transactions",
        json={"data": [TRANSACTION], "meta": {"total": 1}},
        match=[matchers.header_matcher(BEARER)],
    )
    [page] = list(connector_for(connection).pull_deals(since=None))
    assert page.records[0].object_type == "deals"
    assert page.records[0].properties["property_address"] == "1 Main St"
    assert page.records[0].properties["sales_price"] == 420000


def test_push_creates_with_camel_case_body(connection, token, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts", json={"data": [], "meta": {"total": 0}})
    mocked_responses.post(
        f"{BASE}/contacts",
        status=201,
        json={"id": "c9", "firstName": "Ada"},
        match=[matchers.json_params_matcher({"firstName": "Ada", "lastName": "L", "email": "ada@x.test"})],
    )
    [result] = connector_for(connection).push_contacts(
        [
            ContactPayload(
                contact_id="1", email="ada@x.test", properties={"first_name": "Ada", "last_name": "L"}
            )
        ]
    )
    assert result.ok and result.remote_id == "c9"


def test_push_updates_with_patch(connection, token, mocked_responses):
    mocked_responses.patch(f"{BASE}/contacts/c9", json={"id": "c9"}, match=[matchers.header_matcher(BEARER)])
    [result] = connector_for(connection).push_contacts(
        [ContactPayload(contact_id="1", email="ada@x.test", properties={"first_name": "A"}, remote_id="c9")]
    )
    assert result.ok and result.created is False


def test_refused_client_credentials(connection, mocked_responses):
    mocked_responses.post(TOKEN, status=400, json={"error": "invalid_client"})
    check = connector_for(connection).test_credentials()
    assert not check.ok and "invalid_client" in check.message
    mocked_responses.post(TOKEN, status=400, json={"error": "invalid_client"})
    with pytest.raises(CrmAuthError):
        list(connector_for(connection).pull_contacts(since=None))


def test_credential_test(connection, token, mocked_responses):
    mocked_responses.get(
        f"{BASE}/contacts",
        json={"data": [], "meta": {"total": 0}},
        match=[matchers.query_param_matcher({"offset": "0", "limit": "1"})],
    )
    assert connector_for(connection).test_credentials().ok
