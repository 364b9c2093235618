"""HubSpot's official Python SDK (hubspot-api-client) against the sandbox over real HTTP.

Every call the connector makes, and the calls a user's own script makes on contacts, deals,
properties and groups, go through the SDK pointed at the live server: each answer must
deserialize into the SDK's models, carry the status the reference documents, and validate
against the schema written from HubSpot's documentation (tests/sandbox/hubspot_schemas.py).
"""

import json
import uuid

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyUpdate,
)
from hubspot.discovery.discovery_base import DiscoveryBase
from hubspot.oauth import ApiException as OAuthApiException

from sandbox import credentials as creds
from sandbox.config import config_update
from tests.sandbox import hubspot_schemas as schema

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot_sdk(live_server):
    """HubSpot(access_token=..., host=<live server>/sandbox/hubspot); its connection pools close after."""
    config_update(kind="hubspot", changes={"rate_limit_enabled": False})
    opened = []

    def factory(package, api_name, config):
        api = DiscoveryBase._default_api_factory(package, api_name, config)
        opened.append(api.api_client)
        return api

    base = f"{live_server.url}/sandbox/hubspot"
    client = HubSpot(access_token=creds.HUBSPOT_TOKEN, host=base, base_url=base, api_factory=factory)
    yield client
    for api_client in opened:
        api_client.rest_client.pool_manager.clear()


def answered(api, status: int, body_schema: dict | None):
    """The raw answer of the SDK call just made on `api`: its status and body as documented."""
    raw = api.api_client.last_response
    assert raw.status == status, raw.data
    if body_schema is None:
        assert not raw.data
        return None
    body = json.loads(raw.data)
    schema.assert_valid(body, body_schema)
    return body


def refused(exc_info, status: int, category: str, body_schema: dict = schema.ERROR) -> dict:
    assert exc_info.value.status == status
    assert exc_info.value.headers["Content-Type"].startswith("application/json")
    body = json.loads(exc_info.value.body)
    schema.assert_valid(body, body_schema)
    assert body["category"] == category
    return body


def upsert(emails, **properties):
    return BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id=email,
                id_property="email",
                object_write_trace_id=str(n),
                properties={"firstname": "F", **properties},
            )
            for n, email in enumerate(emails)
        ]
    )


def seed(sdk, emails, **properties) -> dict[str, str]:
    result = sdk.crm.contacts.batch_api.upsert(upsert(emails, **properties))
    return {r.properties["email"]: r.id for r in result.results}


# -- the connector's calls ---------------------------------------------------------------------


def test_batch_upsert_by_email_creates_then_updates(hubspot_sdk):
    batch = hubspot_sdk.crm.contacts.batch_api
    created = batch.upsert(upsert(["a@x.com", "b@x.com"]))
    answered(batch, 200, schema.batch_response(schema.UPSERT_OBJECT, with_errors=False))
    assert created.status == "COMPLETE"
    assert [r.new for r in created.results] == [True, True]
    assert {r.object_write_trace_id for r in created.results} == {"0", "1"}
    updated = batch.upsert(upsert(["A@x.com"], lastname="L"))
    assert updated.results[0].new is False and updated.results[0].properties["lastname"] == "L"


def test_batch_upsert_partial_failure_is_207_with_errors(hubspot_sdk):
    batch = hubspot_sdk.crm.contacts.batch_api
    result = batch.upsert(upsert(["ok@x.com", "not-an-email"]))
    body = answered(batch, 207, schema.batch_response(schema.UPSERT_OBJECT, with_errors=True))
    assert len(result.results) == 1 and result.num_errors == 1
    assert result.errors[0].category == "VALIDATION_ERROR"
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["1"]


def test_batch_upsert_of_an_unknown_property_fails_each_input(hubspot_sdk):
    batch = hubspot_sdk.crm.contacts.batch_api
    result = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=f"d{n}@x.com",
                    id_property="email",
                    object_write_trace_id=str(n),
                    properties={"nope": "1"},
                )
                for n in range(2)
            ]
        )
    )
    answered(batch, 207, schema.batch_response(schema.UPSERT_OBJECT, with_errors=True))
    assert result.results == [] and result.num_errors == 2
    assert {e.errors[0].code for e in result.errors} == {"PROPERTY_DOESNT_EXIST"}


def test_batch_update_by_id_and_missing_ids(hubspot_sdk):
    ids = seed(hubspot_sdk, ["a@x.com"])
    batch = hubspot_sdk.crm.contacts.batch_api
    result = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids["a@x.com"], properties={"jobtitle": "CTO"}),
                SimplePublicObjectBatchInput(id="999999", properties={"jobtitle": "CTO"}),
            ]
        )
    )
    answered(batch, 207, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=True))
    assert result.results[0].properties["jobtitle"] == "CTO"
    assert result.errors[0].category == "OBJECT_NOT_FOUND" and result.errors[0].context == {"ids": ["999999"]}
    batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=ids["a@x.com"], properties={"jobtitle": "CEO"})]
        )
    )
    answered(batch, 200, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=False))


def modified_since(prop="lastmodifieddate", after="0", limit=2):
    return PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name=prop, operator="GTE", value="0")])],
        sorts=[{"propertyName": prop, "direction": "ASCENDING"}],
        properties=["email", "firstname", prop],
        limit=limit,
        after=after,
    )


def test_search_pages_until_no_next(hubspot_sdk):
    seed(hubspot_sdk, [f"s{n}@x.com" for n in range(5)])
    search = hubspot_sdk.crm.contacts.search_api
    seen, after = [], "0"
    while True:
        page = search.do_search(modified_since(after=after))
        answered(search, 200, schema.SEARCH_PAGE)
        assert page.total == 5
        seen += [r.properties["email"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [f"s{n}@x.com" for n in range(5)]
    assert "X-HubSpot-RateLimit-Max" not in search.api_client.last_response.getheaders()


def test_deal_search_uses_hs_lastmodifieddate(hubspot_sdk):
    basic = hubspot_sdk.crm.deals.basic_api
    from hubspot.crm.deals import PublicObjectSearchRequest as DealSearch
    from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate

    basic.create(
        DealCreate(properties={"dealname": "Big", "amount": "10", "pipeline": "default", "dealstage": "x"})
    )
    answered(basic, 201, schema.SIMPLE_PUBLIC_OBJECT)
    search = hubspot_sdk.crm.deals.search_api
    page = search.do_search(
        DealSearch(
            filter_groups=[
                {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}
            ],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            properties=["dealname", "amount", "hs_lastmodifieddate"],
            limit=200,
            after="0",
        )
    )
    answered(search, 200, schema.SEARCH_PAGE)
    assert page.results[0].properties["dealname"] == "Big"


def test_search_past_the_limit_is_a_400(hubspot_sdk):
    with pytest.raises(ApiException) as exc_info:
        hubspot_sdk.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=201))
    refused(exc_info, 400, "VALIDATION_ERROR")


def test_account_details_and_daily_usage(hubspot_sdk, live_server):
    details = hubspot_sdk.api_request({"method": "GET", "path": "/account-info/v3/details"})
    assert details.status_code == 200
    schema.assert_valid(details.json(), schema.ACCOUNT_DETAILS)
    usage = hubspot_sdk.api_request(
        {"method": "GET", "path": "/account-info/v3/api-usage/daily/private-apps"}
    )
    assert usage.status_code == 200
    schema.assert_valid(usage.json(), schema.DAILY_USAGE)


def test_wrong_token_is_a_401_in_hubspots_shape(live_server):
    base = f"{live_server.url}/sandbox/hubspot"
    client = HubSpot(access_token="wrong-token-0000", host=base)
    api = client.crm.contacts.basic_api
    with pytest.raises(ApiException) as exc_info:
        api.get_page()
    refused(exc_info, 401, "INVALID_AUTHENTICATION")
    api.api_client.rest_client.pool_manager.clear()


def test_oauth_refresh_token_grant(hubspot_sdk):
    tokens = hubspot_sdk.oauth.tokens_api
    token = tokens.create(
        grant_type="refresh_token",
        client_id=creds.HUBSPOT_CLIENT_ID,
        client_secret=creds.HUBSPOT_CLIENT_SECRET,
        refresh_token=creds.HUBSPOT_REFRESH_TOKEN,
    )
    answered(tokens, 200, schema.TOKEN)
    assert token.token_type == "bearer" and token.expires_in > 0
    with pytest.raises(OAuthApiException) as exc_info:
        tokens.create(
            grant_type="refresh_token",
            client_id=creds.HUBSPOT_CLIENT_ID,
            client_secret="wrong",
            refresh_token=creds.HUBSPOT_REFRESH_TOKEN,
        )
    assert exc_info.value.status == 400
    assert json.loads(exc_info.value.body)["status"] == "BAD_CLIENT_SECRET"
    base = hubspot_sdk.config["base_url"]
    as_oauth = HubSpot(access_token=token.access_token, host=base)
    api = as_oauth.crm.contacts.basic_api
    api.get_page()
    answered(api, 200, schema.OBJECT_PAGE)
    api.api_client.rest_client.pool_manager.clear()


def test_properties_list_create_batch_create_update(hubspot_sdk):
    groups = hubspot_sdk.crm.properties.groups_api
    groups.create("contacts", PropertyGroupCreate(name="crm_sync", label="CRM Sync", display_order=-1))
    answered(groups, 201, schema.PROPERTY_GROUP)
    listed = groups.get_all("contacts")
    answered(groups, 200, schema.PROPERTY_GROUP_LIST)
    assert "crm_sync" in {g.name for g in listed.results}

    core = hubspot_sdk.crm.properties.core_api
    created = core.create(
        "contacts",
        PropertyCreate(name="tier", label="Tier", type="string", field_type="text", group_name="crm_sync"),
    )
    answered(core, 201, schema.PROPERTY)
    assert created.hubspot_defined is False
    with pytest.raises(PropertiesApiException) as exc_info:
        core.create(
            "contacts",
            PropertyCreate(
                name="tier", label="Tier", type="string", field_type="text", group_name="crm_sync"
            ),
        )
    refused(exc_info, 409, "OBJECT_ALREADY_EXISTS")

    batch = hubspot_sdk.crm.properties.batch_api
    result = batch.create(
        "contacts",
        BatchInputPropertyCreate(
            inputs=[
                PropertyCreate(
                    name="size",
                    label="Size",
                    type="enumeration",
                    field_type="select",
                    group_name="crm_sync",
                    options=[{"label": "Big", "value": "big", "hidden": False}],
                )
            ]
        ),
    )
    answered(batch, 201, schema.batch_response(schema.PROPERTY, with_errors=False))
    assert result.results[0].options[0].value == "big"
    batch.create(
        "contacts",
        BatchInputPropertyCreate(
            inputs=[
                PropertyCreate(
                    name="size", label="Size", type="string", field_type="text", group_name="crm_sync"
                ),
                PropertyCreate(
                    name="colour", label="Colour", type="string", field_type="text", group_name="crm_sync"
                ),
            ]
        ),
    )
    answered(batch, 207, schema.batch_response(schema.PROPERTY, with_errors=True))

    updated = core.update("contacts", "tier", PropertyUpdate(label="Tier (renamed)"))
    answered(core, 200, schema.PROPERTY)
    assert updated.label == "Tier (renamed)"
    everything = core.get_all("contacts")
    answered(core, 200, schema.PROPERTY_LIST)
    assert {"email", "tier", "size", "colour"} <= {p.name for p in everything.results}


# -- a user's script ---------------------------------------------------------------------------


def test_contact_create_get_update_archive(hubspot_sdk):
    basic = hubspot_sdk.crm.contacts.basic_api
    created = basic.create(
        SimplePublicObjectInputForCreate(properties={"email": "u@x.com", "firstname": "U"})
    )
    answered(basic, 201, schema.SIMPLE_PUBLIC_OBJECT)
    with pytest.raises(ApiException) as exc_info:
        basic.create(SimplePublicObjectInputForCreate(properties={"email": "u@x.com"}))
    body = refused(exc_info, 409, "CONFLICT")
    assert body["message"] == f"Contact already exists. Existing ID: {created.id}"

    by_id = basic.get_by_id(created.id, properties=["email", "firstname", "nope"])
    answered(basic, 200, schema.SIMPLE_PUBLIC_OBJECT)
    assert by_id.properties == {"email": "u@x.com", "firstname": "U"}
    by_email = basic.get_by_id("u@x.com", id_property="email")
    assert by_email.id == created.id

    updated = basic.update(created.id, SimplePublicObjectInput(properties={"jobtitle": "CTO"}))
    answered(basic, 200, schema.SIMPLE_PUBLIC_OBJECT)
    assert updated.properties["jobtitle"] == "CTO"
    basic.update("u@x.com", SimplePublicObjectInput(properties={"jobtitle": "CEO"}), id_property="email")
    history = basic.get_by_id(created.id, properties_with_history=["jobtitle"])
    answered(basic, 200, schema.SIMPLE_PUBLIC_OBJECT)
    assert [v.value for v in history.properties_with_history["jobtitle"]] == ["CEO", "CTO"]

    basic.archive(created.id)
    answered(basic, 204, None)
    with pytest.raises(ApiException) as exc_info:
        basic.get_by_id(created.id)
    refused(exc_info, 404, "OBJECT_NOT_FOUND")
    binned = basic.get_by_id(created.id, archived=True)
    answered(basic, 200, schema.SIMPLE_PUBLIC_OBJECT)
    assert binned.archived is True and binned.archived_at is not None


def test_invalid_property_value_is_a_400(hubspot_sdk):
    with pytest.raises(ApiException) as exc_info:
        hubspot_sdk.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "not-an-email"})
        )
    body = refused(exc_info, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["code"] == "INVALID_EMAIL"


def test_list_pages_with_after_and_get_all(hubspot_sdk):
    ids = seed(hubspot_sdk, [f"l{n}@x.com" for n in range(5)])
    basic = hubspot_sdk.crm.contacts.basic_api
    first = basic.get_page(limit=2, properties=["email"])
    answered(basic, 200, schema.OBJECT_PAGE)
    second = basic.get_page(limit=2, after=first.paging.next.after, properties=["email"])
    last = basic.get_page(limit=2, after=second.paging.next.after, properties=["email"])
    answered(basic, 200, schema.OBJECT_PAGE)
    assert last.paging is None
    paged = [r.id for page in (first, second, last) for r in page.results]
    assert paged == sorted(ids.values(), key=int)
    everything = hubspot_sdk.crm.contacts.get_all(properties=["email"], properties_with_history=["firstname"])
    assert sorted((r.id for r in everything), key=int) == sorted(ids.values(), key=int)
    assert everything[0].properties_with_history["firstname"][0].value == "F"


def test_batch_create_read_archive(hubspot_sdk):
    batch = hubspot_sdk.crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(properties={"email": f"b{n}@x.com"}, associations=[])
                for n in range(3)
            ]
        )
    )
    answered(batch, 201, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=False))
    ids = [r.id for r in created.results]

    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["email"], properties_with_history=[]
        )
    )
    answered(batch, 200, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=False))
    assert sorted(r.id for r in read.results) == sorted(ids)

    by_email = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="b0@x.com"), SimplePublicObjectId(id="nobody@x.com")],
            id_property="email",
            properties=["email"],
            properties_with_history=["email"],
        )
    )
    body = answered(batch, 207, schema.batch_response(schema.SIMPLE_PUBLIC_OBJECT, with_errors=True))
    assert [r.id for r in by_email.results] == [ids[0]]
    assert by_email.results[0].properties_with_history["email"][0].value == "b0@x.com"
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert by_email.errors[0].context == {"ids": ["nobody@x.com"]}

    batch.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids[:2]]))
    answered(batch, 204, None)
    remaining = hubspot_sdk.crm.contacts.basic_api.get_page()
    assert [r.id for r in remaining.results] == ids[2:]
    binned = hubspot_sdk.crm.contacts.basic_api.get_page(archived=True)
    assert sorted(r.id for r in binned.results) == sorted(ids[:2]) and all(r.archived for r in binned.results)
    archived_read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids[0])], properties=["email"], properties_with_history=[]
        ),
        archived=True,
    )
    assert archived_read.results[0].archived is True


def test_merge_contacts(hubspot_sdk):
    ids = seed(hubspot_sdk, ["keep@x.com", "gone@x.com"])
    basic = hubspot_sdk.crm.contacts.basic_api
    merged = basic.merge(
        PublicMergeInput(primary_object_id=ids["keep@x.com"], object_id_to_merge=ids["gone@x.com"])
    )
    answered(basic, 200, schema.SIMPLE_PUBLIC_OBJECT)
    survivor = basic.get_by_id(ids["gone@x.com"], properties=["email", "hs_merged_object_ids"])
    assert survivor.id == merged.id
    assert set(survivor.properties["hs_merged_object_ids"].split(";")) == set(ids.values())
    with pytest.raises(ApiException) as exc_info:
        basic.merge(PublicMergeInput(primary_object_id=merged.id, object_id_to_merge=merged.id))
    refused(exc_info, 400, "VALIDATION_ERROR")
    with pytest.raises(ApiException) as exc_info:
        basic.merge(PublicMergeInput(primary_object_id=merged.id, object_id_to_merge="999999"))
    refused(exc_info, 404, "OBJECT_NOT_FOUND")


def test_property_read_archive_and_group_crud(hubspot_sdk):
    groups = hubspot_sdk.crm.properties.groups_api
    groups.create("contacts", PropertyGroupCreate(name="events", label="Events"))
    read = groups.get_by_name("contacts", "events")
    answered(groups, 200, schema.PROPERTY_GROUP)
    assert read.label == "Events" and read.archived is False
    updated = groups.update("contacts", "events", PropertyGroupUpdate(label="Event data", display_order=2))
    answered(groups, 200, schema.PROPERTY_GROUP)
    assert updated.label == "Event data" and updated.display_order == 2

    core = hubspot_sdk.crm.properties.core_api
    core.create(
        "contacts",
        PropertyCreate(name="venue", label="Venue", type="string", field_type="text", group_name="events"),
    )
    venue = core.get_by_name("contacts", "venue")
    answered(core, 200, schema.PROPERTY)
    assert venue.group_name == "events"
    with pytest.raises(PropertiesApiException) as exc_info:
        groups.archive("contacts", "events")
    refused(exc_info, 400, "VALIDATION_ERROR")
    core.archive("contacts", "venue")
    answered(core, 204, None)
    with pytest.raises(PropertiesApiException) as exc_info:
        core.get_by_name("contacts", "venue")
    refused(exc_info, 404, "OBJECT_NOT_FOUND")
    groups.archive("contacts", "events")
    answered(groups, 204, None)
    with pytest.raises(PropertiesApiException) as exc_info:
        groups.get_by_name("contacts", "events")
    refused(exc_info, 404, "OBJECT_NOT_FOUND")


def test_rate_limited_call_is_a_429_with_its_policy(hubspot_sdk):
    config_update(
        kind="hubspot",
        changes={
            "rate_limit_enabled": True,
            "rate_limits": {"ten_secondly": {"max": 1, "interval_ms": 10_000, "slot_ms": 10_000}},
        },
    )
    basic = hubspot_sdk.crm.contacts.basic_api
    basic.get_page()
    with pytest.raises(ApiException) as exc_info:
        basic.get_page()
    assert exc_info.value.status == 429
    body = json.loads(exc_info.value.body)
    schema.assert_valid(body, schema.RATE_LIMIT_ERROR)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"


def test_unknown_path_and_wrong_method_answer_json(hubspot_sdk):
    missing = hubspot_sdk.api_request({"method": "GET", "path": "/crm/v3/objects/contacts/1/nowhere"})
    assert missing.status_code == 404
    schema.assert_valid(missing.json(), schema.ERROR)
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"
    uuid.UUID(missing.json()["correlationId"])
    wrong = hubspot_sdk.api_request({"method": "PUT", "path": "/crm/v3/objects/contacts", "body": {}})
    assert wrong.status_code == 405
    schema.assert_valid(wrong.json(), schema.ERROR)
