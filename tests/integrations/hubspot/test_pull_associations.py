"""HubSpot deals pulled with their contacts: one v4 association batch read per page of deals."""

import json

import pytest
from responses import matchers

from integrations.connectors.hubspot import HubSpotConnector
from integrations.errors import CrmUnavailable
from integrations.http import call_metering
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

BASE = "https://api.hubapi.com"
SEARCH = f"{BASE}/crm/v3/objects/deals/search"
ASSOCIATIONS = f"{BASE}/crm/v4/associations/deals/contacts/batch/read"


@pytest.fixture
def connector(org):
    return HubSpotConnector(CrmConnectionFactory(organization=org, settings={"pull_archived": False}))


def deal(n: int, ms: int) -> dict:
    return {"id": str(n), "properties": {"dealname": f"Deal {n}", "hs_lastmodifieddate": str(ms)}}


def to(contact_id, type_id: int = 3) -> dict:
    return {
        "toObjectId": contact_id,
        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
    }


def test_each_page_of_deals_reads_its_contacts_in_one_call_and_links_the_oldest(connector, mocked_responses):
    pages_out = [
        {"results": [deal(1, 10), deal(2, 20)], "paging": {"next": {"after": "2"}}},
        {"results": [deal(3, 30)]},
    ]
    mocked_responses.add_callback(
        "POST", SEARCH, callback=lambda request: (200, {}, json.dumps(pages_out.pop(0)))
    )
    mocked_responses.add(
        "POST",
        ASSOCIATIONS,
        match=[matchers.json_params_matcher({"inputs": [{"id": "1"}, {"id": "2"}]})],
        status=207,
        json={
            "status": "COMPLETE",
            "results": [{"from": {"id": "1"}, "to": [to(901), to(77), to("1000")]}],
            "numErrors": 1,
            "errors": [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "context": {"fromObjectId": ["2"]},
                    "message": "No contact is associated with deal 2.",
                }
            ],
        },
    )
    mocked_responses.add(
        "POST",
        ASSOCIATIONS,
        match=[matchers.json_params_matcher({"inputs": [{"id": "3"}]})],
        json={"status": "COMPLETE", "results": [{"from": {"id": "3"}, "to": [to(5)]}]},
    )
    with call_metering() as meter:
        pages = list(connector.pull_deals(since=None))
    assert meter.calls == 4  # two searches, one association read per page
    first, second, third = pages[0].records + pages[1].records
    # the lowest id, numerically (77 before 901 and 1000), whatever order HubSpot lists them in
    assert first.links == {"contacts": "77"}
    assert first.raw["associations"] == {
        "contacts": {
            "results": [
                {"id": "77", "type": "deal_to_contact"},
                {"id": "901", "type": "deal_to_contact"},
                {"id": "1000", "type": "deal_to_contact"},
            ]
        }
    }
    assert second.links == {} and "associations" not in second.raw
    assert third.links == {"contacts": "5"}


def test_contacts_pages_make_no_association_call(connector, mocked_responses):
    mocked_responses.add(
        "POST",
        f"{BASE}/crm/v3/objects/contacts/search",
        json={"results": [{"id": "1", "properties": {"email": "a@example.com", "lastmodifieddate": "5"}}]},
    )
    (page,) = connector.pull_contacts(since=None)
    assert page.records[0].links == {}


def test_an_empty_page_or_archived_deals_make_no_association_call(org, mocked_responses):
    connector = HubSpotConnector(CrmConnectionFactory(organization=org))
    mocked_responses.add("POST", SEARCH, json={"results": []})
    mocked_responses.add(
        "GET",
        f"{BASE}/crm/v3/objects/deals",
        json={"results": [{**deal(4, 40), "archived": True, "archivedAt": "2024-01-01T00:00:00Z"}]},
    )
    pages = list(connector.pull_deals(since=None))
    assert [r.remote_id for p in pages for r in p.records] == ["4"]
    assert pages[-1].records[0].archived and pages[-1].records[0].links == {}


def test_a_failed_association_read_fails_the_page(connector, mocked_responses):
    """The page is not handed on unlinked: the pull keeps its cursor and reads it again next run."""
    mocked_responses.add("POST", SEARCH, json={"results": [deal(1, 10)]})
    mocked_responses.add(
        "POST", ASSOCIATIONS, status=503, json={"status": "error", "message": "internal error"}
    )
    connector.connection.settings = {"pull_archived": False, "max_retries": 0}
    with pytest.raises(CrmUnavailable):
        list(connector.pull_deals(since=None))
