"""A connection's sync direction and contact rule: API, admin, crm-config, and pushes refused to pull-only."""

import pytest
from django.test import Client

from accounts.actors import Actor
from accounts.models import AuditEvent
from crm_sync import connections
from crm_sync.models import ContactSyncState
from crm_sync.services.dispatch import pushes_dispatch_due
from integrations.models import CrmConnection
from integrations.services import connection_update
from tests.contacts.factories import ContactFactory, EventFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.factories import UserFactory
from tests.integrations.core.test_admin import form_data
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"


@pytest.fixture
def admin_client(org, make_api_client):
    return make_api_client(org, scopes=["admin"])


def test_a_new_connection_syncs_both_ways_and_takes_every_contact(admin_client):
    body = admin_client.post(URL, {"kind": "hubspot"}, format="json").json()
    assert body["sync_direction"] == "both"
    assert body["contact_rule"] == "all"
    assert body["contact_rule_tag"] == "" and body["contact_rule_subtype"] == ""
    assert body["contact_rule_events"] == []


def test_create_with_an_event_rule_stores_the_events_and_audits_them(admin_client, org):
    events = [EventFactory(organization=org) for _ in range(2)]
    ids = sorted(str(e.pk) for e in events)
    response = admin_client.post(
        URL,
        {
            "kind": "hubspot",
            "sync_direction": "push",
            "contact_rule": "event_registrants",
            "contact_rule_events": ids,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sync_direction"] == "push" and body["contact_rule_events"] == ids
    connection = CrmConnection.objects.get(pk=body["id"])
    assert sorted(str(e.pk) for e in connection.contact_rule_events.all()) == ids
    audit = AuditEvent.objects.get(action="crm_connection.created")
    assert audit.changes["contact_rule_events"] == ids and audit.changes["sync_direction"] == "push"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact_rule": "tag"}, "contact_rule_tag"),
        ({"contact_rule": "tag", "contact_rule_tag": "   "}, "contact_rule_tag"),
        ({"contact_rule": "subtype"}, "contact_rule_subtype"),
        ({"contact_rule": "event_registrants"}, "contact_rule_events"),
        ({"contact_rule": "event_registrants", "contact_rule_events": ["not-a-uuid"]}, "contact_rule_events"),
        ({"contact_rule": "everyone"}, "contact_rule"),
        ({"contact_rule": "subtype", "contact_rule_subtype": "vip"}, "contact_rule_subtype"),
        ({"sync_direction": "sideways"}, "sync_direction"),
        ({"contact_rule_events": "abc"}, "contact_rule_events"),
    ],
)
def test_create_refuses_a_rule_that_lacks_what_it_needs(admin_client, payload, field):
    response = admin_client.post(URL, {"kind": "hubspot", **payload}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] in ("invalid_contact_rule", "validation_error")
    assert any(key == field or key.startswith(f"{field}.") for key in body["details"])
    assert not CrmConnection.objects.exists()


def test_events_of_another_organization_are_refused(admin_client, other_org):
    foreign = EventFactory(organization=other_org)
    response = admin_client.post(
        URL,
        {"kind": "hubspot", "contact_rule": "event_registrants", "contact_rule_events": [str(foreign.pk)]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_contact_rule"
    assert str(foreign.pk) in response.json()["details"]["contact_rule_events"][0]
    assert not CrmConnection.objects.exists()


def test_changing_the_rule_clears_what_the_old_rule_named(admin_client, org):
    event = EventFactory(organization=org)
    connection = CrmConnectionFactory(organization=org)
    url = f"{URL}{connection.pk}/"
    response = admin_client.patch(
        url, {"contact_rule": "event_registrants", "contact_rule_events": [str(event.pk)]}, format="json"
    )
    assert response.status_code == 200 and response.json()["contact_rule_events"] == [str(event.pk)]
    response = admin_client.patch(url, {"contact_rule": "tag", "contact_rule_tag": " vip "}, format="json")
    body = response.json()
    assert body["contact_rule"] == "tag" and body["contact_rule_tag"] == "vip"
    assert body["contact_rule_events"] == []
    connection.refresh_from_db()
    assert not connection.contact_rule_events.exists()
    audit = AuditEvent.objects.filter(action="crm_connection.updated").order_by("pk").last()
    assert audit.changes["contact_rule_events"] == [] and audit.changes["contact_rule_tag"] == "vip"
    # A tag sent with another rule is dropped, not kept for a rule that ignores it.
    body = admin_client.patch(url, {"contact_rule": "all", "contact_rule_tag": "x"}, format="json").json()
    assert body["contact_rule"] == "all" and body["contact_rule_tag"] == ""


def test_an_update_that_breaks_the_rule_changes_nothing(admin_client, org):
    connection = CrmConnectionFactory(organization=org, contact_rule="tag", contact_rule_tag="vip")
    response = admin_client.patch(f"{URL}{connection.pk}/", {"contact_rule_tag": ""}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_contact_rule"
    connection.refresh_from_db()
    assert connection.contact_rule_tag == "vip"


def test_crm_config_shows_direction_strategy_and_rule(org, make_api_client):
    event = EventFactory(organization=org, name="Spring fair")
    connection = CrmConnectionFactory(organization=org, kind="hubspot", conflict_strategy="manual_review")
    connection_update(
        connection=connection,
        actor=Actor.system(),
        sync_direction="pull",
        contact_rule="event_registrants",
        contact_rule_events=[event.pk],
    )
    body = make_api_client(org, scopes=["admin"]).get("/api/v1/admin/crm-config/").json()["hubspot"]
    assert body["sync_direction"] == "pull"
    assert body["conflict_strategy"] == "manual_review"
    assert body["contact_rule"] == {
        "kind": "event_registrants",
        "events": [{"id": str(event.pk), "name": "Spring fair"}],
    }


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"contact_rule": "tag", "contact_rule_tag": "vip"}, {"kind": "tag", "tag": "vip"}),
        (
            {"contact_rule": "subtype", "contact_rule_subtype": "customer"},
            {"kind": "subtype", "subtype": "customer"},
        ),
        ({"contact_rule": "selected"}, {"kind": "selected"}),
    ],
)
def test_crm_config_names_the_rule_value(org, make_api_client, rule, expected):
    CrmConnectionFactory(organization=org, kind="hubspot", **rule)
    body = make_api_client(org, scopes=["admin"]).get("/api/v1/admin/crm-config/").json()["hubspot"]
    assert body["contact_rule"] == expected


def test_queueing_for_a_pull_only_connection_is_refused(org, api_client):
    CrmConnectionFactory(organization=org, kind="hubspot", sync_direction="pull")
    contact = ContactFactory(organization=org)
    response = api_client.post(
        f"/api/v1/contacts/{contact.pk}/queue-sync/", {"crm": "hubspot"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "crm_pull_only"
    assert response.json()["details"] == {"crm": "hubspot", "sync_direction": "pull"}
    response = api_client.post(
        "/api/v1/contacts/bulk-queue-sync/",
        {"crm": "hubspot", "contact_ids": [str(contact.pk)]},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "crm_pull_only"
    response = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "hubspot"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "crm_pull_only"
    assert not ContactSyncState.objects.exists()
    # Reading the connection's figures is still allowed.
    assert api_client.get("/api/v1/contacts/sync-stats/", {"crm": "hubspot"}).status_code == 200


def test_a_pushing_connection_of_the_kind_is_preferred_to_a_pull_only_one(org):
    CrmConnectionFactory(organization=org, kind="hubspot", name="reader", sync_direction="pull")
    writer = CrmConnectionFactory(organization=org, kind="hubspot", name="writer", sync_direction="push")
    assert connections.organization_connection(organization=org, crm="hubspot") == writer


def test_the_push_side_never_takes_a_pull_only_connection(org):
    connection = CrmConnectionFactory(organization=org, kind="hubspot", sync_direction="pull")
    ContactSyncStateFactory(connection=connection, queued=True)  # left from before it became pull-only
    assert connections.pushable_connection(connection_id=connection.pk) is None
    assert connection not in connections.pushable_connections()
    assert pushes_dispatch_due(enqueue=lambda cid, expires: pytest.fail("dispatched")) == {}


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_admin_saves_a_rule_with_events_through_the_services(org, superuser_client):
    event = EventFactory(organization=org)
    data = form_data(
        org, sync_direction="pull", contact_rule="event_registrants", contact_rule_events=[str(event.pk)]
    )
    response = superuser_client.post("/admin/integrations/crmconnection/add/?kind=hubspot", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = CrmConnection.objects.get(name="main")
    assert connection.sync_direction == "pull"
    assert list(connection.contact_rule_events.all()) == [event]
    page = superuser_client.get("/admin/integrations/crmconnection/").content.decode()
    assert "Pull only" in page and "Registrants of given events" in page


def test_admin_shows_a_rule_without_its_value_as_a_form_error(org, superuser_client):
    response = superuser_client.post(
        "/admin/integrations/crmconnection/add/?kind=hubspot",
        form_data(org, contact_rule="tag", contact_rule_tag=""),
    )
    assert response.status_code == 200
    assert "contact_rule &#x27;tag&#x27; needs contact_rule_tag" in response.content.decode()
    assert not CrmConnection.objects.exists()


def test_admin_refuses_another_organizations_event(org, other_org, superuser_client):
    foreign = EventFactory(organization=other_org)
    response = superuser_client.post(
        "/admin/integrations/crmconnection/add/?kind=hubspot",
        form_data(org, contact_rule="event_registrants", contact_rule_events=[str(foreign.pk)]),
    )
    assert response.status_code == 200
    assert "names events this organization does not have" in response.content.decode()
    assert not CrmConnection.objects.exists()
