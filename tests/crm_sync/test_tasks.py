"""Tasks are thin; the dispatcher, the auto-sync re-queue and the default beat schedules."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm_sync import tasks
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.schedules import DEFAULT_SCHEDULES, schedules_seed
from crm_sync.services.dispatch import pushes_dispatch_due
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db


def test_dispatcher_starts_one_task_per_batch_up_to_the_parallel_cap(connection, settings):
    settings.SYNC_MAX_PARALLEL_PUSHES = 3
    connection.batch_size = 2
    connection.save()
    for _ in range(5):
        ContactSyncStateFactory(connection=connection, queued=True)
    sent = []
    result = pushes_dispatch_due(enqueue=lambda cid, expires: sent.append(cid))
    assert result == {connection.pk: 3} and sent == [connection.pk] * 3


def test_dispatcher_waits_for_the_connection_interval(connection):
    ContactSyncStateFactory(connection=connection, queued=True)
    sent = []
    pushes_dispatch_due(enqueue=lambda cid, expires: sent.append(cid))
    pushes_dispatch_due(enqueue=lambda cid, expires: sent.append(cid))
    assert sent == [connection.pk]


def test_dispatcher_ignores_idle_paused_and_disabled_connections(connection):
    ContactSyncStateFactory(connection=connection, queued=True, due_at=timezone.now() + timedelta(hours=1))
    sent = []
    assert pushes_dispatch_due(enqueue=lambda cid, expires: sent.append(cid)) == {}
    ContactSyncStateFactory(connection=connection, queued=True)
    connection.circuit_state = "open"
    connection.save()
    assert pushes_dispatch_due(enqueue=lambda cid, expires: sent.append(cid)) == {}
    assert sent == []


def test_push_task_drains_the_connection(connection, scripted):
    connection.batch_size = 2
    connection.save()
    for _ in range(5):
        ContactSyncStateFactory(connection=connection, queued=True)
    assert tasks.push_batch.run(connection_id=connection.pk) == 3
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.COMPLETE).count() == 5


def test_push_task_for_a_deleted_connection_returns_quietly(scripted):
    assert tasks.push_batch.run(connection_id=999_999) == 0


def test_reaper_task_uses_the_lease_setting(connection, settings):
    settings.SYNC_PROCESSING_LEASE_SECONDS = 60
    ContactSyncStateFactory(connection=connection, stuck=True)
    assert tasks.reap_stale_processing.run() == {
        "requeued": 1,
        "errored": 0,
        "records_requeued": 0,
        "records_errored": 0,
    }


def test_task_names_are_the_wire_contract():
    assert tasks.dispatch_due_pushes.name == "crm_sync.dispatch_due_pushes"
    assert tasks.push_batch.name == "crm_sync.push_batch"
    assert tasks.reap_stale_processing.name == "crm_sync.reap_stale_processing"
    assert tasks.sweep_orphan_states.name == "crm_sync.sweep_orphan_states"
    assert tasks.push_records.name == "crm_sync.push_records"


def test_the_orphan_sweep_task_deletes_states_of_contacts_deleted_outside_django(connection):
    from django.db import connection as db_connection

    orphan = ContactSyncStateFactory(connection=connection, complete=True)
    kept = ContactSyncStateFactory(connection=connection, complete=True)
    with db_connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [orphan.contact_id.hex])
    assert tasks.sweep_orphan_states.run() == 1
    assert list(ContactSyncState.objects.values_list("pk", flat=True)) == [kept.pk]
    assert tasks.sweep_orphan_states.run() == 0


def test_default_schedules_exist_after_migrate():
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {entry["name"] for entry in DEFAULT_SCHEDULES} <= names


def test_seeding_again_never_overwrites_admin_edits():
    task = PeriodicTask.objects.get(name=DEFAULT_SCHEDULES[0]["name"])
    task.enabled = False
    task.expire_seconds = 99
    task.save()
    assert schedules_seed() == []
    task.refresh_from_db()
    assert task.enabled is False and task.expire_seconds == 99


def test_editing_a_synced_contact_requeues_it_for_auto_sync_connections(
    connection, django_capture_on_commit_callbacks
):
    from contacts.services.contacts import contact_update  # the contacts app's own write path

    state = ContactSyncStateFactory(connection=connection, complete=True)
    from accounts.actors import Actor

    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=state.contact, data={"first_name": "Renamed"}, actor=Actor.system())
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.processing_status == ProcessingStatus.QUEUED


def test_auto_sync_off_leaves_the_contact_alone(connection, django_capture_on_commit_callbacks):
    from accounts.actors import Actor
    from contacts.services.contacts import contact_update

    connection.auto_sync = False
    connection.save()
    state = ContactSyncStateFactory(connection=connection, complete=True)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=state.contact, data={"first_name": "Renamed"}, actor=Actor.system())
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.COMPLETE
