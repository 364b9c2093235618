"""Auto-sync queues new contacts too, for each connection whose contact rule takes them."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import Actor
from contacts.services.contacts import contact_create, contact_update
from contacts.services.events import registration_create
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.services.queueing import (
    contact_queue_for_connection,
    contacts_autoqueue_new,
    organization_auto_sync_possible,
)
from integrations.services import connection_update
from tests.contacts.factories import ContactFactory, EventFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system()


def queued_connections(contact) -> set[int]:
    return set(
        ContactSyncState.objects.filter(
            contact=contact, sync_status=SyncStatus.QUEUED, processing_status=ProcessingStatus.QUEUED
        ).values_list("connection_id", flat=True)
    )


def create(org, **data):
    return contact_create(organization=org, actor=ACTOR, data={"email": "new@example.com", **data})


def test_a_contact_created_through_the_api_is_queued_for_auto_sync_connections(
    org, scripted, api_client, django_capture_on_commit_callbacks
):
    taking = CrmConnectionFactory(organization=org, kind="scripted", name="a")
    CrmConnectionFactory(organization=org, kind="scripted", name="off", auto_sync=False)
    CrmConnectionFactory(organization=org, kind="scripted", name="by-hand", contact_rule="selected")
    CrmConnectionFactory(organization=org, kind="scripted", name="reader", sync_direction="pull")
    CrmConnectionFactory(organization=org, kind="scripted", name="disabled", enabled=False)
    CrmConnectionFactory(organization=org, kind="scripted", name="paused", circuit_open=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/contacts/", {"email": "new@example.com"}, format="json")
    assert response.status_code == 201
    assert queued_connections(response.json()["id"]) == {taking.pk}


def test_a_contact_without_email_is_not_queued(org, scripted, django_capture_on_commit_callbacks):
    CrmConnectionFactory(organization=org, kind="scripted")
    with django_capture_on_commit_callbacks(execute=True):
        contact = create(org, email="", first_name="No mail")
    assert not ContactSyncState.objects.filter(contact=contact).exists()
    # Given an email later, it is queued then.
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, actor=ACTOR, data={"email": "later@example.com"})
    assert ContactSyncState.objects.filter(contact=contact, sync_status=SyncStatus.QUEUED).count() == 1


def test_another_organizations_connections_are_not_used(
    org, other_org, scripted, django_capture_on_commit_callbacks
):
    CrmConnectionFactory(organization=other_org, kind="scripted")
    with django_capture_on_commit_callbacks(execute=True):
        create(org)
    assert not ContactSyncState.objects.exists()


@pytest.mark.parametrize(
    ("rule", "taken", "left"),
    [
        (
            {"contact_rule": "tag", "contact_rule_tag": "vip"},
            {"tags": ["vip", "x"]},
            {"tags": ["VIP-not", "x"]},
        ),
        (
            {"contact_rule": "subtype", "contact_rule_subtype": "customer"},
            {"subtype": "customer"},
            {"subtype": "lead"},
        ),
    ],
    ids=["tag", "subtype"],
)
def test_a_rule_takes_only_the_contacts_it_names(
    org, scripted, rule, taken, left, django_capture_on_commit_callbacks
):
    connection = CrmConnectionFactory(organization=org, kind="scripted", **rule)
    with django_capture_on_commit_callbacks(execute=True):
        yes = create(org, email="yes@example.com", **taken)
        no = create(org, email="no@example.com", **left)
    assert queued_connections(yes) == {connection.pk}
    assert queued_connections(no) == set()
    # A contact that comes to match the rule is queued when it changes.
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=no, actor=ACTOR, data=taken)
    assert queued_connections(no) == {connection.pk}


def test_registrants_of_a_rule_event_are_queued_when_they_register(
    org, scripted, django_capture_on_commit_callbacks
):
    fair, other = EventFactory(organization=org), EventFactory(organization=org)
    connection = CrmConnectionFactory(organization=org, kind="scripted", contact_rule="selected")
    connection_update(
        connection=connection, actor=ACTOR, contact_rule="event_registrants", contact_rule_events=[fair.pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        contact = create(org)
    assert queued_connections(contact) == set()  # not a registrant yet
    with django_capture_on_commit_callbacks(execute=True):
        registration_create(event=other, contact=contact, actor=ACTOR)
    assert queued_connections(contact) == set()
    with django_capture_on_commit_callbacks(execute=True):
        registration_create(event=fair, contact=contact, actor=ACTOR)
    assert queued_connections(contact) == {connection.pk}


def test_from_event_queues_the_registrant_for_the_event_rule(
    org, scripted, api_client, django_capture_on_commit_callbacks
):
    fair = EventFactory(organization=org, external_id="fair-2026")
    connection = CrmConnectionFactory(organization=org, kind="scripted", contact_rule="selected")
    connection_update(
        connection=connection, actor=ACTOR, contact_rule="event_registrants", contact_rule_events=[fair.pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/contacts/from-event/",
            {
                "contact": {"email": "visitor@example.com"},
                "event": {"external_id": "fair-2026", "name": fair.name},
            },
            format="json",
        )
    assert response.status_code in (200, 201), response.content
    contact_id = response.json()["contact_id"]
    assert queued_connections(contact_id) == {connection.pk}


def test_a_contact_already_tied_to_the_connection_is_not_inserted_again(
    org, scripted, django_capture_on_commit_callbacks
):
    connection = CrmConnectionFactory(organization=org, kind="scripted")
    state = ContactSyncStateFactory(connection=connection, complete=True)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=state.contact, actor=ACTOR, data={"first_name": "Renamed"})
    assert ContactSyncState.objects.filter(contact=state.contact).count() == 1
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED  # re-queued, as before


def test_many_contacts_at_once_cost_the_same_few_statements(org, scripted):
    """One query for the connections and one INSERT … SELECT per connection, whatever the count."""
    for name, rule in [("a", {}), ("b", {"contact_rule": "tag", "contact_rule_tag": "vip"})]:
        CrmConnectionFactory(organization=org, kind="scripted", name=name, **rule)
    few = [ContactFactory(organization=org).pk for _ in range(2)]
    many = [ContactFactory(organization=org, tags=["vip"]).pk for _ in range(60)]
    assert organization_auto_sync_possible(organization_id=org.pk)  # cached from here on
    with CaptureQueriesContext(db_connection) as small:
        assert contacts_autoqueue_new(organization=org, contact_ids=few) == 2
    with CaptureQueriesContext(db_connection) as large:
        assert contacts_autoqueue_new(organization=org, contact_ids=many) == 120
    assert len(small) == len(large) <= 3
    assert contacts_autoqueue_new(organization=org, contact_ids=many) == 0  # all tied already


def test_queue_for_connection_forces_a_push_of_an_unchanged_contact(org, scripted):
    connection = CrmConnectionFactory(organization=org, kind="scripted")
    state = ContactSyncStateFactory(connection=connection, complete=True)
    assert contact_queue_for_connection(contact_id=state.contact_id, connection=connection) == 1
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.pushed_hash == ""
    fresh = ContactFactory(organization=org)
    assert contact_queue_for_connection(contact_id=fresh.pk, connection=connection) == 1
    assert queued_connections(fresh) == {connection.pk}


def test_queue_for_connection_never_queues_for_a_pull_only_connection(org, scripted):
    connection = CrmConnectionFactory(organization=org, kind="scripted", sync_direction="pull")
    contact = ContactFactory(organization=org)
    assert contact_queue_for_connection(contact_id=contact.pk, connection=connection) == 0
    assert not ContactSyncState.objects.exists()


def test_a_pulled_change_is_not_queued_back_to_the_connection_it_came_from(org, scripted):
    from contacts.models import Contact
    from contacts.signals import contacts_changed

    source = CrmConnectionFactory(organization=org, kind="scripted", name="source")
    other = CrmConnectionFactory(organization=org, kind="scripted", name="other")
    synced = ContactSyncStateFactory(connection=source, complete=True)
    synced_other = ContactSyncStateFactory(connection=other, contact=synced.contact, complete=True)
    pulled = ContactFactory(organization=org)
    for action, ids in (("created", [pulled.pk]), ("updated", [synced.contact_id])):
        contacts_changed.send(
            sender=Contact,
            organization=org,
            contact_ids=ids,
            fields=["first_name"],
            action=action,
            origin_connection_id=source.pk,
        )
    assert queued_connections(pulled) == {other.pk}
    synced.refresh_from_db()
    synced_other.refresh_from_db()
    assert synced.sync_status == SyncStatus.COMPLETE
    assert synced_other.sync_status == SyncStatus.QUEUED


def test_a_connection_added_after_the_flag_was_cached_takes_the_next_contact(
    org, scripted, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Without an auto-sync connection a new contact costs no connections query (the cached
    flag says none); adding one forgets the flag, so the very next contact is queued."""
    with django_capture_on_commit_callbacks(execute=True):
        create(org, email="before@example.com")
    assert organization_auto_sync_possible(organization_id=org.pk) is False
    with django_assert_num_queries(0):
        assert (
            contacts_autoqueue_new(organization=org, contact_ids=["00000000-0000-0000-0000-000000000000"])
            == 0
        )
    connection = CrmConnectionFactory(organization=org, kind="scripted")
    with django_capture_on_commit_callbacks(execute=True):
        contact = create(org, email="after@example.com")
    assert queued_connections(contact) == {connection.pk}
    # Turning auto-sync off (a save) forgets it again.
    connection.auto_sync = False
    connection.save()
    assert organization_auto_sync_possible(organization_id=org.pk) is False
