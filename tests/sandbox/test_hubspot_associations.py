"""HubSpot sandbox associations (v4): batch read, default association, associations on create and on seed.

Shapes from HubSpot's v4 associations reference; the 207 for ids without associations is the
sandbox's guess (docs/sandbox.md).
"""

import json

import pytest

from sandbox.models import SandboxRecord
from tests.sandbox.test_hubspot import BASE, assert_error_shape, post, upsert_inputs

pytestmark = pytest.mark.django_db
READ = "/crm/v4/associations/deals/contacts/batch/read"
TO_CONTACT = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]


def contacts(client, *emails) -> list[str]:
    body = post(client, "/crm/v3/objects/contacts/batch/upsert", upsert_inputs(list(emails))).json()
    by_email = {r["properties"]["email"]: r["id"] for r in body["results"]}
    return [by_email[e] for e in emails]


def create_deal(client, name, *contact_ids):
    return post(
        client,
        "/crm/v3/objects/deals",
        {
            "properties": {"dealname": name},
            "associations": [{"to": {"id": c}, "types": TO_CONTACT} for c in contact_ids],
        },
    )


def read(client, ids, path=READ):
    return post(client, path, {"inputs": [{"id": i} for i in ids]})


def put(client, path):
    return client.put(f"{BASE}{path}")


def test_a_deal_created_with_contacts_reads_them_back_both_ways(hubspot):
    first, second = contacts(hubspot, "a@x.com", "b@x.com")
    created = create_deal(hubspot, "Big", second, first)
    assert created.status_code == 201
    deal_id = created.json()["id"]
    response = read(hubspot, [deal_id])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    (result,) = body["results"]
    assert result["from"] == {"id": deal_id}
    assert [t["toObjectId"] for t in result["to"]] == sorted([int(first), int(second)])
    assert result["to"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
    ]
    back = read(hubspot, [first], path="/crm/v4/associations/contacts/deals/batch/read").json()
    assert back["results"][0]["to"] == [
        {
            "toObjectId": int(deal_id),
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}],
        }
    ]


def test_ids_without_associations_are_errors_of_a_207(hubspot):
    (contact,) = contacts(hubspot, "a@x.com")
    linked = create_deal(hubspot, "Linked", contact).json()["id"]
    alone = create_deal(hubspot, "Alone").json()["id"]
    response = read(hubspot, [linked, alone, "999999"])
    assert response.status_code == 207
    body = response.json()
    assert [r["from"]["id"] for r in body["results"]] == [linked]
    assert body["numErrors"] == 2
    assert [e["context"] for e in body["errors"]] == [{"fromObjectId": [alone]}, {"fromObjectId": ["999999"]}]
    assert all(e["category"] == "OBJECT_NOT_FOUND" for e in body["errors"])
    none = read(hubspot, [alone])
    assert none.status_code == 207 and none.json()["results"] == []


def test_batch_create_associates_each_input_and_refuses_a_missing_contact(hubspot):
    (contact,) = contacts(hubspot, "a@x.com")
    inputs = [
        {"properties": {"dealname": "One"}, "associations": [{"to": {"id": contact}, "types": TO_CONTACT}]}
    ]
    ok = post(hubspot, "/crm/v3/objects/deals/batch/create", {"inputs": inputs})
    assert ok.status_code == 201
    deal_id = ok.json()["results"][0]["id"]
    assert read(hubspot, [deal_id]).json()["results"][0]["to"][0]["toObjectId"] == int(contact)
    deals_before = SandboxRecord.objects.filter(object_type="deal").count()
    bad = [
        {"properties": {"dealname": "Two"}, "associations": [{"to": {"id": "999999"}, "types": TO_CONTACT}]}
    ]
    refused = post(hubspot, "/crm/v3/objects/deals/batch/create", {"inputs": bad})
    assert refused.status_code == 400
    assert_error_shape(refused.json(), "VALIDATION_ERROR")
    assert "999999" in json.dumps(refused.json())
    assert SandboxRecord.objects.filter(object_type="deal").count() == deals_before


@pytest.mark.parametrize(
    "associations",
    [
        "not a list",
        [{"to": {"id": "abc"}, "types": TO_CONTACT}],
        [{"to": {"id": "1"}, "types": []}],
        [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}]}],
        [{"to": {"id": "1"}, "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": 3}]}],
    ],
)
def test_a_malformed_association_on_create_is_a_400_and_nothing_is_stored(hubspot, associations):
    response = post(
        hubspot, "/crm/v3/objects/deals", {"properties": {"dealname": "X"}, "associations": associations}
    )
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")
    assert not SandboxRecord.objects.filter(object_type="deal").exists()


def test_put_default_associates_both_ways_once(hubspot):
    (contact,) = contacts(hubspot, "a@x.com")
    deal_id = create_deal(hubspot, "Later").json()["id"]
    path = f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/{contact}"
    response = put(hubspot, path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE"
    assert {
        (r["from"]["id"], r["to"]["id"], r["associationSpec"]["associationTypeId"]) for r in body["results"]
    } == {
        (deal_id, contact, 3),
        (contact, deal_id, 4),
    }
    assert put(hubspot, path).status_code == 200  # again: still one association
    assert len(read(hubspot, [deal_id]).json()["results"][0]["to"]) == 1


def test_put_default_refuses_missing_records_and_unknown_pairs(hubspot):
    (contact,) = contacts(hubspot, "a@x.com")
    deal_id = create_deal(hubspot, "D").json()["id"]
    missing = put(hubspot, f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/999999")
    assert missing.status_code == 404
    assert_error_shape(missing.json(), "OBJECT_NOT_FOUND")
    pair = put(hubspot, f"/crm/v4/objects/deals/{deal_id}/associations/default/deals/{deal_id}")
    assert pair.status_code == 400
    unknown = put(hubspot, f"/crm/v4/objects/tickets/1/associations/default/contacts/{contact}")
    assert unknown.status_code == 400
    assert not SandboxRecord.objects.filter(object_type__startswith="hs_association").exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"inputs": []}, {"inputs": [{"id": "x"}]}, {"inputs": [{"id": str(i)} for i in range(1, 1002)]}],
)
def test_batch_read_refuses_bad_inputs(hubspot, body):
    response = post(hubspot, READ, body)
    assert response.status_code == 400
    assert_error_shape(response.json(), "VALIDATION_ERROR")


def test_batch_read_pages_many_contacts_with_after(hubspot, configure):
    configure("hubspot", options={"associations_page_size": 2})
    ids = contacts(hubspot, "a@x.com", "b@x.com", "c@x.com")
    deal_id = create_deal(hubspot, "Many", *ids).json()["id"]
    first = read(hubspot, [deal_id]).json()["results"][0]
    assert [t["toObjectId"] for t in first["to"]] == [int(i) for i in sorted(ids, key=int)[:2]]
    after = first["paging"]["next"]["after"]
    rest = post(hubspot, READ, {"inputs": [{"id": deal_id, "after": after}]}).json()["results"][0]
    assert [t["toObjectId"] for t in rest["to"]] == [int(sorted(ids, key=int)[2])] and "paging" not in rest


def test_a_merged_contact_answers_as_its_survivor(hubspot):
    first, second = contacts(hubspot, "a@x.com", "b@x.com")
    deal_id = create_deal(hubspot, "M", second).json()["id"]
    merged = post(
        hubspot, "/crm/v3/objects/contacts/merge", {"primaryObjectId": first, "objectIdToMerge": second}
    )
    survivor = merged.json()["id"]
    assert read(hubspot, [deal_id]).json()["results"][0]["to"][0]["toObjectId"] == int(survivor)


def test_control_seeds_deals_with_associations_and_refuses_bad_ones(hubspot, client_):
    (contact,) = contacts(hubspot, "a@x.com")
    seed = {
        "object_type": "deal",
        "records": [
            {"data": {"dealname": "Seeded"}, "associations": [{"to": {"id": contact}, "types": TO_CONTACT}]},
            {"dealname": "Flat", "associations": [{"to": {"id": contact}, "types": TO_CONTACT}]},
        ],
    }
    response = client_.post(
        f"{BASE}/_control/records", data=json.dumps(seed), content_type="application/json"
    )
    assert response.status_code == 201
    ids = [str(i) for i in response.json()["ids"]]
    body = read(hubspot, ids).json()
    assert [r["to"][0]["toObjectId"] for r in body["results"]] == [int(contact), int(contact)]
    assert SandboxRecord.objects.get(pk=ids[1]).data == {"dealname": "Flat"}
    bad = {
        "object_type": "deal",
        "records": [{"data": {"dealname": "X"}, "associations": [{"to": {"id": "424242"}}]}],
    }
    refused = client_.post(f"{BASE}/_control/records", data=json.dumps(bad), content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "validation_error" and "associations" in refused.json()["details"]["0"]
    assert SandboxRecord.objects.filter(object_type="deal").count() == 2
