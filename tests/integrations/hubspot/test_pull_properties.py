"""HubSpot pull (search, cursor, 10,000 cap), properties API, credential test."""

import json
from datetime import UTC, datetime

import pytest
from responses import matchers

from integrations.connectors.base import RemoteProperty
from integrations.connectors.hubspot import HubSpotConnector
from integrations.errors import CrmValidationError
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

BASE = "https://api.hubapi.com"


@pytest.fixture
def connector(org):
    # The search phase alone; the archived listing after it has its own tests.
    return HubSpotConnector(CrmConnectionFactory(organization=org, settings={"pull_archived": False}))


def obj(n: int, ms: int) -> dict:
    return {
        "id": str(n),
        "properties": {"email": f"P{n}@Example.com", "lastmodifieddate": str(ms), "firstname": f"F{n}"},
        "updatedAt": "2024-01-01T00:00:00Z",
    }


def test_pull_contacts_pages_by_lastmodifieddate_ascending(connector, mocked_responses):
    # given
    since = datetime(2024, 1, 1, tzinfo=UTC)
    anchor = str(int(since.timestamp() * 1000) - 300_000)  # 5-minute overlap
    url = f"{BASE}/crm/v3/objects/contacts/search"

    def page(request):
        body = json.loads(request.body)
        assert body["filterGroups"][0]["filters"][0] == {
            "propertyName": "lastmodifieddate",
            "operator": "GTE",
            "value": anchor,
        }
        assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
        assert body["limit"] == 200
        if body["after"] == "0":
            return (
                200,
                {},
                json.dumps(
                    {"total": 3, "results": [obj(1, 10), obj(2, 20)], "paging": {"next": {"after": "2"}}}
                ),
            )
        return 200, {}, json.dumps({"total": 3, "results": [obj(3, 30)]})

    mocked_responses.add_callback("POST", url, callback=page)
    # when
    pages = list(connector.pull_contacts(since=since))
    # then
    assert [[r.remote_id for r in p.records] for p in pages] == [["1", "2"], ["3"]]
    assert pages[0].records[0].email == "p1@example.com"
    assert pages[0].records[0].updated_at == datetime.fromtimestamp(0.01, tz=UTC)
    assert pages[0].next_cursor is not None and pages[1].next_cursor is None
    # a cursor resumes where the page ended
    again = list(connector.pull_contacts(since=since, cursor=pages[0].next_cursor))
    assert [r.remote_id for r in again[0].records] == ["3"]


def test_pull_reanchors_before_the_10000_result_cap(connector, mocked_responses):
    url = f"{BASE}/crm/v3/objects/deals/search"
    cursor = json.dumps({"anchor": 5, "after": 9600, "op": "GTE", "skip": []})
    bodies = []

    def page(request):
        body = json.loads(request.body)
        bodies.append(body)
        if len(bodies) == 1:
            results = [
                {"id": "a", "properties": {"hs_lastmodifieddate": "1000"}},
                {"id": "b", "properties": {"hs_lastmodifieddate": "2000"}},
                {"id": "c", "properties": {"hs_lastmodifieddate": "2000"}},
            ]
            return (
                200,
                {},
                json.dumps({"total": 20000, "results": results, "paging": {"next": {"after": "9800"}}}),
            )
        results = [
            {"id": "b", "properties": {"hs_lastmodifieddate": "2000"}},
            {"id": "c", "properties": {"hs_lastmodifieddate": "2000"}},
            {"id": "d", "properties": {"hs_lastmodifieddate": "3000"}},
        ]
        return 200, {}, json.dumps({"total": 3, "results": results})

    mocked_responses.add_callback("POST", url, callback=page)
    # no deal has a contact: a 207 naming every id in errors[] (see test_pull_associations.py)
    mocked_responses.add(
        "POST",
        f"{BASE}/crm/v4/associations/deals/contacts/batch/read",
        json={"status": "COMPLETE", "results": [], "numErrors": 1, "errors": []},
        status=207,
    )
    pages = list(connector.pull_deals(since=None, cursor=cursor))
    # the second query restarts at the last timestamp, from after=0, without the ids seen at it
    assert bodies[1]["after"] == "0"
    assert bodies[1]["filterGroups"][0]["filters"][0]["value"] == "2000"
    assert bodies[1]["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    assert [r.remote_id for r in pages[1].records] == ["d"]


def test_pull_rejects_a_foreign_cursor(connector):
    with pytest.raises(CrmValidationError):
        list(connector.pull_contacts(since=None, cursor="garbage"))


def test_list_properties_marks_hubspot_defined(connector, mocked_responses):
    mocked_responses.get(
        f"{BASE}/crm/v3/properties/contacts",
        json={
            "results": [
                {
                    "name": "email",
                    "label": "Email",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "contactinformation",
                    "hubspotDefined": True,
                    "options": [],
                },  # noqa: E501
                {
                    "name": "tier",
                    "label": "Tier",
                    "type": "enumeration",
                    "fieldType": "select",
                    "groupName": "g",
                    "options": [{"label": "Gold", "value": "gold", "hidden": False, "displayOrder": 0}],
                },  # noqa: E501
            ]
        },
    )
    props = connector.list_properties(object_type="contacts")
    assert [(p.name, p.crm_defined) for p in props] == [("email", True), ("tier", False)]
    assert props[1].options[0]["value"] == "gold"


def test_create_properties_batch_then_409_becomes_patch(connector, mocked_responses):
    # given: the batch is refused as a whole because one property exists
    mocked_responses.post(
        f"{BASE}/crm/v3/properties/contacts/batch/create",
        status=409,
        json={"status": "error", "message": "Property already exists", "category": "OBJECT_ALREADY_EXISTS"},
    )
    mocked_responses.post(
        f"{BASE}/crm/v3/properties/contacts",
        json={"name": "new_one", "label": "New", "type": "string", "fieldType": "text", "groupName": "g"},
        match=[matchers.json_params_matcher({"name": "new_one"}, strict_match=False)],
        status=201,
    )
    mocked_responses.post(
        f"{BASE}/crm/v3/properties/contacts",
        status=409,
        json={"status": "error", "message": "exists", "category": "OBJECT_ALREADY_EXISTS"},
        match=[matchers.json_params_matcher({"name": "old_one"}, strict_match=False)],
    )
    mocked_responses.patch(
        f"{BASE}/crm/v3/properties/contacts/old_one",
        json={"name": "old_one", "label": "Old", "type": "string", "fieldType": "text", "groupName": "g"},
    )
    props = [
        RemoteProperty(name="new_one", label="New", type="string"),
        RemoteProperty(name="old_one", label="Old", type="string"),
    ]
    # when
    results = connector.create_properties(object_type="contacts", properties=props)
    # then
    assert [(r.contact_id, r.ok, r.created) for r in results] == [
        ("new_one", True, True),
        ("old_one", True, False),
    ]
    patch_body = json.loads(mocked_responses.calls[-1].request.body)
    assert "name" not in patch_body and patch_body["groupName"] == "contactinformation"


def test_update_property_refuses_hubspot_defined(connector, mocked_responses):
    with pytest.raises(CrmValidationError):
        connector.update_property(
            object_type="contacts",
            prop=RemoteProperty(name="email", label="E", type="string", crm_defined=True),
        )
    assert len(mocked_responses.calls) == 0


def test_ensure_property_group_creates_only_when_missing(connector, mocked_responses):
    groups = f"{BASE}/crm/v3/properties/contacts/groups"
    mocked_responses.get(groups, json={"results": [{"name": "contactinformation", "label": "Contact"}]})
    mocked_responses.post(
        groups,
        status=201,
        json={"name": "crm_sync", "label": "CRM Sync"},
        match=[matchers.json_params_matcher({"name": "crm_sync", "label": "CRM Sync", "displayOrder": -1})],
    )
    connector.ensure_property_group(object_type="contacts", name="crm_sync", label="CRM Sync")
    connector.ensure_property_group(object_type="contacts", name="contactinformation", label="Contact")
    # second call: GET only
    assert [c.request.method for c in mocked_responses.calls] == ["GET", "POST", "GET"]


def test_credential_test_reads_account_details(connector, mocked_responses):
    mocked_responses.get(
        f"{BASE}/account-info/v3/details",
        json={
            "portalId": 62515,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "uiDomain": "app.hubspot.com",
        },
        headers={"X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "249000"},
    )
    check = connector.test_credentials()
    assert check.ok and check.account["portalId"] == 62515
    assert check.account["daily_quota"]["remaining"] == 249000


def test_credential_test_refused_token_is_not_ok(connector, mocked_responses):
    mocked_responses.get(
        f"{BASE}/account-info/v3/details",
        status=401,
        json={
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION",
        },  # noqa: E501
    )
    check = connector.test_credentials()
    assert check.ok is False and "credentials not found" in check.message


def test_rate_tier_sets_limits_and_quota(org):
    pro = CrmConnectionFactory(organization=org, settings={"rate_tier": "professional"})
    oauth = CrmConnectionFactory(organization=org, settings={"rate_tier": 110})
    assert HubSpotConnector.rate_limit_default(pro) == (190, 10.0)
    assert HubSpotConnector.daily_quota_default(pro) == 625_000
    assert HubSpotConnector.rate_limit_default(oauth) == (110, 10.0)
    assert HubSpotConnector.daily_quota_default(oauth) is None


def test_pulled_contacts_use_local_names_for_mapped_properties(connector, mocked_responses):
    """Like every connector: firstname comes back as first_name, unmapped ones keep HubSpot's name."""
    hubspot_object = {
        "id": "7",
        "properties": {
            "email": "a@example.com",
            "firstname": "Ada",
            "jobtitle": "CTO",
            "hs_lead_status": "NEW",
        },
        "updatedAt": "2024-01-01T00:00:00Z",
    }
    mocked_responses.post(
        f"{BASE}/crm/v3/objects/contacts/search", json={"total": 1, "results": [hubspot_object]}
    )
    [page] = list(connector.pull_contacts(since=None))
    assert page.records[0].properties == {
        "email": "a@example.com",
        "first_name": "Ada",
        "job_title": "CTO",
        "hs_lead_status": "NEW",
    }


def test_a_reanchor_skips_every_id_already_read_at_the_edge_millisecond(connector, mocked_responses):
    """Ids read at the window's last millisecond on earlier pages are skipped too."""
    url = f"{BASE}/crm/v3/objects/contacts/search"
    cursor = json.dumps({"anchor": 5, "after": 9400, "op": "GTE", "skip": []})
    bodies = []

    def page(request):
        body = json.loads(request.body)
        bodies.append(body)
        if len(bodies) == 1:  # after=9400: the edge millisecond 2000 starts here
            return (
                200,
                {},
                json.dumps(
                    {
                        "total": 20000,
                        "results": [obj(1, 1000), obj(2, 2000)],
                        "paging": {"next": {"after": "9600"}},
                    }
                ),
            )
        if len(bodies) == 2:  # after=9600: more at 2000, then the cap is near
            return (
                200,
                {},
                json.dumps(
                    {
                        "total": 20000,
                        "results": [obj(3, 2000), obj(4, 2000)],
                        "paging": {"next": {"after": "9800"}},
                    }
                ),
            )
        return (
            200,
            {},
            json.dumps({"total": 4, "results": [obj(2, 2000), obj(4, 2000), obj(3, 2000), obj(5, 2000)]}),
        )

    mocked_responses.add_callback("POST", url, callback=page)
    pages = list(connector.pull_contacts(since=None, cursor=cursor))
    assert bodies[2]["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate", "operator": "GTE", "value": "2000",
    }  # fmt: skip
    assert [r.remote_id for p in pages for r in p.records] == ["1", "2", "3", "4", "5"]


def test_a_millisecond_filling_a_whole_window_is_read_by_id(connector, mocked_responses):
    url = f"{BASE}/crm/v3/objects/contacts/search"
    cursor = json.dumps(
        {"anchor": 2000, "after": 9600, "op": "GTE", "skip": [], "tail_ms": 2000, "tail_ids": ["7"]}
    )
    bodies = []

    def page(request):
        body = json.loads(request.body)
        bodies.append(body)
        if len(bodies) == 1:
            return (
                200,
                {},
                json.dumps(
                    {
                        "total": 20000,
                        "results": [obj(8, 2000), obj(9, 2000)],
                        "paging": {"next": {"after": "9800"}},
                    }
                ),
            )
        if len(bodies) == 2:  # the tie phase: the same millisecond, by id
            return (
                200,
                {},
                json.dumps(
                    {"total": 5, "results": [obj(7, 2000), obj(10, 2000)], "paging": {"next": {"after": "2"}}}
                ),
            )
        if len(bodies) == 3:
            return 200, {}, json.dumps({"total": 5, "results": [obj(11, 2000)]})
        return 200, {}, json.dumps({"total": 1, "results": [obj(12, 2001)]})

    mocked_responses.add_callback("POST", url, callback=page)
    pages = list(connector.pull_contacts(since=None, cursor=cursor))
    tie = bodies[1]
    assert tie["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    assert {f["operator"]: f["value"] for f in tie["filterGroups"][0]["filters"]} == {
        "GTE": "2000", "LT": "2001", "GT": "0",
    }  # fmt: skip
    assert bodies[2]["filterGroups"][0]["filters"][2]["value"] == "10"  # keyset on the last id
    assert bodies[3]["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate", "operator": "GTE", "value": "2001",
    }  # fmt: skip
    assert [r.remote_id for p in pages for r in p.records] == ["8", "9", "10", "11", "12"]


def test_after_the_search_pass_archived_records_are_listed_and_marked(org, mocked_responses):
    connector = HubSpotConnector(CrmConnectionFactory(organization=org))
    mocked_responses.add(
        "POST", f"{BASE}/crm/v3/objects/contacts/search", json={"total": 1, "results": [obj(1, 10)]}
    )
    archived = {
        "id": "9",
        "archived": True,
        "archivedAt": "2026-01-02T00:00:00Z",
        "properties": {"email": "gone@x.io"},
    }
    mocked_responses.add(
        "GET",
        f"{BASE}/crm/v3/objects/contacts",
        match=[matchers.query_param_matcher({"archived": "true", "limit": "100"}, strict_match=False)],
        json={
            "results": [archived, {"id": "2", "archived": False, "properties": {}}],
            "paging": {"next": {"after": "x1"}},
        },
    )
    mocked_responses.add(
        "GET",
        f"{BASE}/crm/v3/objects/contacts",
        match=[matchers.query_param_matcher({"archived": "true", "after": "x1"}, strict_match=False)],
        json={"results": []},
    )
    pages = list(connector.pull_contacts(since=None))
    assert [len(p.records) for p in pages] == [1, 1, 0]
    gone = pages[1].records[0]
    assert gone.remote_id == "9" and gone.archived and gone.archived_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert json.loads(pages[0].next_cursor) == {"phase": "archived", "after": ""}
    assert pages[2].next_cursor is None


def test_merged_ids_are_read_from_hs_merged_object_ids(connector, mocked_responses):
    survivor = {
        "id": "5",
        "properties": {"email": "a@x.io", "lastmodifieddate": "10", "hs_merged_object_ids": "3;4"},
    }
    mocked_responses.add(
        "POST", f"{BASE}/crm/v3/objects/contacts/search", json={"total": 1, "results": [survivor]}
    )
    record = next(iter(connector.pull_contacts(since=None))).records[0]
    assert record.merged_ids == ("3", "4") and record.raw["id"] == "5"
