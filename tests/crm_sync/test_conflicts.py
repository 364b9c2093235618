"""Recording conflicts (one open per contact and connection) and resolving them."""

from datetime import UTC, datetime

import pytest

from accounts.actors import Actor
from accounts.models import AuditEvent
from contacts.models import Contact
from core.errors import Conflict, InvalidInput
from crm_sync.models import ContactSyncState, SyncConflict, SyncStatus
from crm_sync.services.conflicts import conflict_record, conflict_resolve
from crm_sync.services.merge import FieldConflict
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("reviewer")
SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(connection):
    contact = ContactFactory(
        organization=connection.organization,
        first_name="Anne",
        phone="+1 555 0101",
        company="Acme",
        custom_properties={},
    )
    return ContactSyncStateFactory(
        connection=connection,
        contact=contact,
        complete=True,
        base_values={"first_name": "Ann", "phone": "+1 555 0100", "company": "Acme"},
    )


def record(state, **conflicts):
    conflicts = conflicts or {
        "first_name": FieldConflict(base="Ann", local="Anne", remote="Annie"),
        "phone": FieldConflict(base="+1 555 0100", local="+1 555 0101", remote="+1 555 0199"),
    }
    return conflict_record(
        contact=state.contact, connection=state.connection, conflicts=conflicts, remote_updated_at=SEEN
    )


def test_record_opens_one_conflict_with_base_local_and_remote(state):
    conflict = record(state)
    assert conflict.status == SyncConflict.Status.OPEN
    assert conflict.organization_id == state.contact.organization_id
    assert conflict.fields == {
        "first_name": {"base": "Ann", "local": "Anne", "remote": "Annie"},
        "phone": {"base": "+1 555 0100", "local": "+1 555 0101", "remote": "+1 555 0199"},
    }
    assert conflict.remote_updated_at == SEEN


def test_a_later_pull_updates_the_open_conflict_instead_of_opening_another(state):
    first = record(state)
    later = record(
        state,
        phone=FieldConflict(base="+1 555 0100", local="+1 555 0101", remote="+1 555 0777"),
        company=FieldConflict(base="Acme", local="Acme Ltd", remote="Acme Inc"),
    )
    assert later.pk == first.pk and SyncConflict.objects.count() == 1
    assert set(later.fields) == {"first_name", "phone", "company"}
    assert later.fields["phone"]["remote"] == "+1 555 0777"


def test_nothing_to_record_is_no_conflict(state):
    assert (
        conflict_record(
            contact=state.contact, connection=state.connection, conflicts={}, remote_updated_at=None
        )
        is None
    )
    assert not SyncConflict.objects.exists()


def test_a_resolved_conflict_does_not_absorb_a_new_one(state):
    first = record(state)
    conflict_resolve(conflict=first, choice="remote", actor=ACTOR)
    second = record(state, company=FieldConflict(base="Acme", local="Acme Ltd", remote="Acme Inc"))
    assert second.pk != first.pk and SyncConflict.objects.filter(status="open").count() == 1


def test_resolving_remote_applies_the_crm_values_moves_the_base_and_pushes_nothing(state):
    conflict = record(state)
    resolved = conflict_resolve(conflict=conflict, choice="remote", actor=ACTOR)
    contact = Contact.objects.get(pk=state.contact_id)
    assert (contact.first_name, contact.phone) == ("Annie", "+1 555 0199")
    assert resolved.status == "resolved" and resolved.resolved_by_label == "reviewer"
    assert resolved.resolved_at is not None
    assert resolved.resolution == {
        "first_name": {"choice": "remote", "value": "Annie"},
        "phone": {"choice": "remote", "value": "+1 555 0199"},
    }
    assert resolved.pushed is False
    state.refresh_from_db()
    assert state.base_values == {"first_name": "Annie", "phone": "+1 555 0199", "company": "Acme"}


def test_resolving_local_keeps_the_contact_and_queues_it_for_the_connection(state):
    conflict = record(state)
    resolved = conflict_resolve(conflict=conflict, choice="local", actor=ACTOR)
    contact = Contact.objects.get(pk=state.contact_id)
    assert (contact.first_name, contact.phone) == ("Anne", "+1 555 0101")
    assert resolved.pushed is True
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED
    assert state.pushed_hash == ""  # so the push is not skipped as unchanged
    # The base is the CRM's value: the local one now reads as a local change to push.
    assert state.base_values["first_name"] == "Annie"


def test_resolving_per_field_with_a_custom_value(state):
    conflict = record(state)
    resolved = conflict_resolve(
        conflict=conflict,
        fields={"first_name": "remote", "phone": {"value": "+1 555 0123"}},
        actor=ACTOR,
    )
    contact = Contact.objects.get(pk=state.contact_id)
    assert (contact.first_name, contact.phone) == ("Annie", "+1 555 0123")
    assert resolved.resolution["phone"] == {"choice": "custom", "value": "+1 555 0123"}
    assert resolved.pushed is True  # the custom phone differs from the CRM's
    audit = AuditEvent.objects.get(action="sync.conflict_resolved")
    assert audit.actor_label == "reviewer" and audit.object_id == str(contact.pk)
    assert audit.changes["conflict_id"] == conflict.pk and audit.changes["pushed"] is True
    assert audit.changes["resolution"]["first_name"] == {"choice": "remote", "value": "Annie"}
    assert AuditEvent.objects.filter(action="contact.updated", object_id=str(contact.pk)).exists()


def test_a_custom_property_is_resolved_into_custom_properties(state):
    Contact.objects.filter(pk=state.contact_id).update(custom_properties={"plan": "pro", "seats": 3})
    conflict = record(state, plan=FieldConflict(base="basic", local="pro", remote="enterprise"))
    conflict_resolve(conflict=conflict, choice="remote", actor=ACTOR)
    contact = Contact.objects.get(pk=state.contact_id)
    assert contact.custom_properties == {"plan": "enterprise", "seats": 3}


def test_local_is_the_contact_as_it_is_now_not_as_the_pull_saw_it(state):
    conflict = record(state)
    Contact.objects.filter(pk=state.contact_id).update(first_name="Anna")
    resolved = conflict_resolve(conflict=conflict, choice="local", actor=ACTOR)
    assert resolved.resolution["first_name"] == {"choice": "local", "value": "Anna"}
    assert Contact.objects.get(pk=state.contact_id).first_name == "Anna"


def test_resolving_twice_is_a_conflict(state):
    conflict = record(state)
    conflict_resolve(conflict=conflict, choice="remote", actor=ACTOR)
    with pytest.raises(Conflict) as exc:
        conflict_resolve(conflict=conflict, choice="local", actor=ACTOR)
    assert exc.value.code == "conflict_already_resolved"
    assert AuditEvent.objects.filter(action="sync.conflict_resolved").count() == 1
    assert Contact.objects.get(pk=state.contact_id).first_name == "Annie"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "choice"),
        ({"choice": "remote", "fields": {"first_name": "remote"}}, "choice"),
        ({"choice": "both"}, "choice"),
        ({"fields": ["first_name"]}, "fields"),
        ({"fields": {"first_name": "remote"}}, "phone"),  # every field must be decided
        ({"fields": {"first_name": "remote", "phone": "local", "email": "remote"}}, "email"),
        ({"fields": {"first_name": "mine", "phone": "local"}}, "first_name"),
        ({"fields": {"first_name": {"val": 1}, "phone": "local"}}, "first_name"),
    ],
)
def test_a_bad_resolution_is_refused_and_changes_nothing(state, kwargs, field):
    conflict = record(state)
    with pytest.raises(InvalidInput) as exc:
        conflict_resolve(conflict=conflict, actor=ACTOR, **kwargs)
    details = exc.value.details
    assert field in details or field in details.get("fields", {})
    conflict.refresh_from_db()
    assert conflict.status == "open" and conflict.resolution is None
    assert Contact.objects.get(pk=state.contact_id).first_name == "Anne"


def test_a_custom_value_the_contact_refuses_leaves_everything_as_it_was(state):
    conflict = record(state, subtype=FieldConflict(base="lead", local="customer", remote="prospect"))
    state_before = ContactSyncState.objects.get(pk=state.pk)
    with pytest.raises(InvalidInput) as exc:
        conflict_resolve(conflict=conflict, fields={"subtype": {"value": "vip"}}, actor=ACTOR)
    assert "subtype" in exc.value.details
    conflict.refresh_from_db()
    assert conflict.status == "open"
    state.refresh_from_db()
    assert state.base_values == state_before.base_values and state.sync_status == SyncStatus.COMPLETE
    assert not AuditEvent.objects.filter(action="sync.conflict_resolved").exists()


def test_a_local_win_for_a_pull_only_connection_is_not_pushed(org, scripted):
    connection = CrmConnectionFactory(organization=org, kind="scripted", sync_direction="pull")
    contact = ContactFactory(organization=org, first_name="Anne")
    state = ContactSyncStateFactory(connection=connection, contact=contact, complete=True)
    conflict = record(state, first_name=FieldConflict(base="Ann", local="Anne", remote="Annie"))
    resolved = conflict_resolve(conflict=conflict, choice="local", actor=ACTOR)
    assert resolved.status == "resolved" and resolved.pushed is False
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.COMPLETE


def _hash(contact, connection):
    from crm_sync.services.payloads import contact_payload_build

    return contact_payload_build(contact=contact, connection=connection).idempotency_key


def test_taking_the_crm_values_of_an_in_sync_contact_is_not_pushed_back(state):
    ContactSyncState.objects.filter(pk=state.pk).update(pushed_hash=_hash(state.contact, state.connection))
    conflict = record(state)
    conflict_resolve(conflict=conflict, choice="remote", actor=ACTOR)
    state.refresh_from_db()
    contact = Contact.objects.get(pk=state.contact_id)
    # The auto-sync re-queue after the update finds nothing new to send.
    assert state.pushed_hash == _hash(contact, state.connection)


def test_taking_the_crm_values_keeps_a_pending_local_change_pending(state):
    conflict = record(state)  # the factory's pushed hash matches no payload: a change is pending
    conflict_resolve(conflict=conflict, choice="remote", actor=ACTOR)
    state.refresh_from_db()
    assert state.pushed_hash == "0" * 64
