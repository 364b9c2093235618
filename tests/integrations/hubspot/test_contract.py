"""What the HubSpot connector sends, and what it is answered, match HubSpot's documentation.

The connector runs against the sandbox over real HTTP (OAuth refresh included); each request
it made is read back from the sandbox's request log and checked against the request schema
written from HubSpot's reference pages, and each answer against the answer schema
(tests/sandbox/hubspot_schemas.py; the SDK contract tests check the same answers in the SDK).
"""

import json

import pytest

from integrations.connectors.base import ContactPayload, RemoteProperty
from integrations.connectors.hubspot import HubSpotConnector
from sandbox import credentials as creds
from sandbox.config import config_update
from sandbox.models import SandboxRequestLog
from tests.integrations.factories import CrmConnectionFactory
from tests.sandbox import hubspot_schemas as schema

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST_SCHEMAS = {
    ("POST", "/crm/v3/objects/contacts/batch/upsert"): schema.UPSERT_INPUT,
    ("POST", "/crm/v3/objects/contacts/batch/update"): schema.UPDATE_INPUT,
    ("POST", "/crm/v3/objects/contacts/search"): schema.SEARCH_REQUEST,
    ("POST", "/crm/v3/objects/deals/search"): schema.SEARCH_REQUEST,
    ("POST", "/crm/v3/properties/contacts"): schema.PROPERTY_CREATE,
    ("POST", "/crm/v3/properties/contacts/groups"): schema.GROUP_CREATE,
    ("PATCH", "/crm/v3/properties/contacts/crm_sync_tier"): schema.PROPERTY_UPDATE,
}


@pytest.fixture
def connector(live_server):
    config_update(kind="hubspot", changes={"rate_limit_enabled": False})
    connection = CrmConnectionFactory(
        base_url=f"{live_server.url}/sandbox/hubspot",
        credentials={
            "client_id": creds.HUBSPOT_CLIENT_ID,
            "client_secret": creds.HUBSPOT_CLIENT_SECRET,
            "refresh_token": creds.HUBSPOT_REFRESH_TOKEN,
        },
        settings={"read_timeout": 3},
    )
    return HubSpotConnector(connection)


def contact(n: int) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}",
        email=f"contract{n}@example.com",
        properties={"first_name": f"First{n}", "last_name": "Contract", "company": "Acme"},
    )


def test_every_connector_call_is_documented_in_request_and_answer(connector):
    assert connector.test_credentials().ok
    schema.assert_valid(connector.client.account_details().data, schema.ACCOUNT_DETAILS)

    pushed = connector.push_contacts([contact(1), contact(2)])
    assert all(r.ok for r in pushed)
    for result in pushed:
        schema.assert_valid(result.response, schema.UPSERT_OBJECT)

    client = connector.client
    update = client.batch_update("contacts", [{"id": pushed[0].remote_id, "properties": {"jobtitle": "CTO"}}])
    assert update.status == 200
    schema.assert_valid(update.data, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=False))

    pulled = [r for page in connector.pull_contacts(since=None) for r in page.records]
    assert {"contract1@example.com", "contract2@example.com"} <= {r.email for r in pulled}
    list(connector.pull_deals(since=None))
    search = client.search("contacts", {"limit": 1, "after": "0", "properties": ["email"]})
    schema.assert_valid(search.data, schema.SEARCH_PAGE)

    connector.ensure_property_group(object_type="contacts", name="crm_sync", label="CRM Sync")
    groups = client.list_groups("contacts")
    schema.assert_valid(groups.data, schema.PROPERTY_GROUP_LIST)
    created = connector.create_properties(
        object_type="contacts",
        properties=[RemoteProperty(name="crm_sync_tier", label="Tier", type="string", group_name="crm_sync")],
    )
    schema.assert_valid(created[0].response, schema.PROPERTY)
    again = connector.create_properties(  # batch 207, then the one-by-one 409, then a PATCH
        object_type="contacts",
        properties=[
            RemoteProperty(name="crm_sync_tier", label="Tier 2", type="string", group_name="crm_sync")
        ],
    )
    assert again[0].ok and again[0].created is False
    listed = client.list_properties("contacts")
    schema.assert_valid(listed.data, schema.PROPERTY_LIST)

    logged = list(SandboxRequestLog.objects.filter(kind="hubspot").order_by("pk"))
    token_calls = [e for e in logged if e.path.endswith("/oauth/v1/token")]
    assert token_calls and all(e.status == 200 for e in token_calls)
    checked = set()
    for entry in logged:
        path = entry.path.removeprefix("/sandbox/hubspot")
        body_schema = REQUEST_SCHEMAS.get((entry.method, path))
        if body_schema is not None:
            schema.assert_valid(json.loads(entry.body), body_schema)
            checked.add((entry.method, path))
        assert entry.status in (200, 201, 204, 207, 409), (entry.method, path, entry.status)
    assert checked == set(REQUEST_SCHEMAS)
    batch_create = [e for e in logged if e.path.endswith("/properties/contacts/batch/create")]
    assert batch_create
    for entry in batch_create:
        for item in json.loads(entry.body)["inputs"]:
            schema.assert_valid(item, schema.PROPERTY_CREATE)


def test_request_schemas_refuse_what_hubspot_does_not_document():
    """The request checks can fail: an upsert without ids and a search of 201 are refused."""
    with pytest.raises(Exception, match="'id' is a required property"):
        schema.assert_valid({"inputs": [{"properties": {}}]}, schema.UPSERT_INPUT)
    with pytest.raises(Exception, match="201"):
        schema.assert_valid({"limit": 201}, schema.SEARCH_REQUEST)
    with pytest.raises(Exception, match="name"):
        schema.assert_valid({"name": "x", "label": "X"}, schema.PROPERTY_UPDATE)
