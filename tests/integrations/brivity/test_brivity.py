"""Brivity preset over mocked HTTP: token header, default URL, endpoints and field maps."""

from datetime import UTC, datetime

import pytest
from responses import matchers

from integrations.connectors.base import Capability, ContactPayload
from integrations.errors import CrmAuthError
from integrations.registry import connector_for, get_connector_class

BASE = "https://api.brivity.com/v1"
AUTH = {"Authorization": "Token token=brivity-token-123"}


@pytest.fixture
def connection(make_connection):
    return make_connection(kind="brivity", credentials={"api_token": "brivity-token-123"})


def test_registered_as_a_rest_preset():
    cls = get_connector_class("brivity")
    assert cls.display_name == "Brivity"
    assert cls.default_base_url == "https://api.brivity.com"
    assert Capability.PULL_DEALS in cls.capabilities
    assert cls.credential_fields == ("api_token",)
    assert cls.default_field_mapping["first_name"] == "first_name"


def test_pull_contacts_with_token_header_and_incremental_filter(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/contacts",
        json={
            "data": [
                {
                    "id": 11,
                    "first_name": "Ada",
                    "last_name": "L",
                    "email": "ada@x.test",
                    "rating": 4,
                    "updated_at": "2026-01-20T10:00:00Z",
                }
            ],
            "meta": {"total": 1},
        },
        match=[
            matchers.header_matcher(AUTH),
            matchers.query_param_matcher(
                {
                    "sort": "updated_at",
                    "updated_since": "2026-01-01T00:00:00Z",
                    "page": "1",
                    "per_page": "100",
                }
            ),
        ],
    )
    [page] = list(connector_for(connection).pull_contacts(since=datetime(2026, 1, 1, tzinfo=UTC)))
    record = page.records[0]
    assert record.remote_id == "11"
    assert record.properties["first_name"] == "Ada"
    assert record.properties["rating"] == 4  # unmapped, kept under its Brivity name
    assert page.next_cursor is None


def test_pull_deals(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/deals",
        json={
            "data": [
                {
                    "id": 5,
                    "name": "12 Oak St",
                    "amount": 350000,
                    "currency": "USD",
                    "stage": "pending",
                    "probability": 60,
                    "close_date": "2026-03-01",
                    "updated_at": "2026-01-02T00:00:00Z",
                }
            ],
            "meta": {"total": 1},
        },
        match=[matchers.header_matcher(AUTH)],
    )
    [page] = list(connector_for(connection).pull_deals(since=None))
    deal = page.records[0]
    assert deal.object_type == "deals"
    assert deal.properties["amount"] == 350000
    assert deal.updated_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_push_creates_then_updates_with_patch(connection, mocked_responses):
    mocked_responses.get(
        f"{BASE}/contacts", json={"data": []}, match=[matchers.query_param_matcher({"email": "ada@x.test"})]
    )
    mocked_responses.post(
        f"{BASE}/contacts",
        status=201,
        json={"id": 99, "email": "ada@x.test"},
        match=[
            matchers.header_matcher(AUTH),
            matchers.json_params_matcher({"first_name": "Ada", "email": "ada@x.test", "company": "Acme"}),
        ],
    )
    mocked_responses.patch(f"{BASE}/contacts/99", json={"id": 99})
    connector = connector_for(connection)
    new = ContactPayload(
        contact_id="1", email="ada@x.test", properties={"first_name": "Ada", "company": "Acme"}
    )
    [created] = connector.push_contacts([new])
    assert created.ok and created.created and created.remote_id == "99"
    again = ContactPayload(
        contact_id="1", email="ada@x.test", properties={"first_name": "Ada"}, remote_id="99"
    )
    [updated] = connector.push_contacts([again])
    assert updated.ok and updated.created is False


def test_settings_override_the_preset(make_connection, mocked_responses):
    connection = make_connection(
        kind="brivity",
        base_url="https://partner.brivity.example/api",
        credentials={"api_token": "brivity-token-123"},
        settings={"endpoints": {"contacts": "/leads"}, "paging": {"items_path": "leads"}},
    )
    mocked_responses.get("https://partner.brivity.example/api/v1/leads", json={"leads": []})
    list(connector_for(connection).pull_contacts(since=None))


def test_wrong_token(connection, mocked_responses):
    mocked_responses.get(f"{BASE}/contacts", status=401, json={"error": "Invalid token"})
    check = connector_for(connection).test_credentials()
    assert not check.ok and "Invalid token" in check.message
    mocked_responses.get(f"{BASE}/contacts", status=401, json={"error": "Invalid token"})
    with pytest.raises(CrmAuthError):
        list(connector_for(connection).pull_contacts(since=None))


def test_credentials_from_the_environment_for_the_default_organization(
    settings, make_connection, mocked_responses
):
    from tests.factories import OrganizationFactory

    default_org = OrganizationFactory(slug=settings.DEFAULT_ORGANIZATION_SLUG)
    settings.CRM_ENV_CREDENTIALS = {"brivity": {"api_token": "env-brivity-token"}}
    connection = make_connection(kind="brivity", organization=default_org)
    mocked_responses.get(
        f"{BASE}/contacts",
        json={"data": []},
        match=[matchers.header_matcher({"Authorization": "Token token=env-brivity-token"})],
    )
    assert connector_for(connection).test_credentials().ok
