"""The Celery task, the daily beat schedule, the admin action and the scheduled sync."""

import pytest
from django.contrib.auth import get_user_model
from django_celery_beat.models import PeriodicTask

from properties.models import PropertySyncRun
from properties.selectors import PERIODIC_TASK_NAME, property_sync_next_scheduled
from properties.sync_requests import property_sync_scheduled
from properties.tasks import sync_definitions
from tests.properties.factories import PropertyDefinitionFactory, PropertySyncRunFactory

pytestmark = pytest.mark.django_db


def test_the_data_migration_creates_a_daily_schedule():
    task = PeriodicTask.objects.get(name=PERIODIC_TASK_NAME)
    assert task.task == "properties.sync_definitions"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("17", "3", "*")
    assert task.enabled


def test_the_schedule_migration_keeps_admin_edits():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("properties.migrations.0002_daily_sync_schedule")
    task = PeriodicTask.objects.get(name=PERIODIC_TASK_NAME)
    task.enabled = False
    task.description = "edited"
    task.save()
    migration.create_schedule(apps, None)
    task.refresh_from_db()
    assert (task.enabled, task.description) == (False, "edited")
    assert PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME).count() == 1


def test_next_scheduled_sync_is_the_next_3_17_utc():
    from datetime import UTC, datetime

    now = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME).update(
        last_run_at=datetime(2024, 1, 15, 3, 17, tzinfo=UTC)
    )
    assert property_sync_next_scheduled(now=now) == datetime(2024, 1, 16, 3, 17, tzinfo=UTC)


def test_scheduled_sync_runs_every_defined_object_type_and_skips_busy_ones(org, other_org, fake_crm, waits):
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    PropertyDefinitionFactory(organization=other_org, name="budget", number=True)  # no connection: not synced
    summary = property_sync_scheduled()
    assert summary == {"runs": 1, "skipped_busy": 0, "failed": 0}
    run = PropertySyncRun.objects.get()
    assert (run.organization, run.object_type, run.trigger, run.status) == (
        org,
        "contacts",
        "schedule",
        "completed",
    )
    # busy: a run in progress blocks the scheduled one
    PropertySyncRunFactory(organization=org, crm="fakecrm", status="in_progress")
    assert property_sync_scheduled() == {"runs": 0, "skipped_busy": 1, "failed": 0}


def test_task_without_ids_runs_the_scheduled_sync(org, fake_crm, waits):
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    assert sync_definitions.run() == {"runs": 1, "skipped_busy": 0, "failed": 0}


def test_task_runs_pending_runs_once(org, fake_crm, waits):
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    run = PropertySyncRunFactory(organization=org, crm="fakecrm", status="pending")
    assert sync_definitions.run(run_ids=[run.pk]) == {"runs": 1}
    run.refresh_from_db()
    assert run.status == "completed" and run.created_count == 1
    # a redelivered message finds nothing pending
    assert sync_definitions.run(run_ids=[run.pk]) == {"runs": 0}
    assert fake_crm.calls == ["list:contacts", "create:contacts:1"]


def test_admin_action_queues_pending_runs_on_commit(
    org, fake_crm, client, django_capture_on_commit_callbacks, monkeypatch
):
    definition = PropertyDefinitionFactory(organization=org, name="budget", number=True)
    PropertyDefinitionFactory(organization=org, object_type="leads", name="score", number=True)
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-secret-123")
    client.force_login(user)
    sent = []
    monkeypatch.setattr(sync_definitions, "delay", lambda **kwargs: sent.append(kwargs))
    ids = list(definition.__class__.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/properties/propertydefinition/",
            {"action": "sync_to_crm", "_selected_action": ids},
            follow=True,
        )
    assert response.status_code == 200
    runs = list(PropertySyncRun.objects.order_by("object_type"))
    assert [(run.object_type, run.status, run.trigger) for run in runs] == [
        ("contacts", "pending", "admin"),
        ("leads", "pending", "admin"),
    ]
    assert sent == [{"run_ids": [run.pk for run in PropertySyncRun.objects.order_by("object_type")]}]
    assert "2 property syncs queued." in response.content.decode()
    # a second click while they are pending reports them busy and queues nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/properties/propertydefinition/",
            {"action": "sync_to_crm", "_selected_action": ids},
            follow=True,
        )
    assert "Already syncing" in response.content.decode()
    assert PropertySyncRun.objects.count() == 2 and len(sent) == 1


def test_admin_lists_render(org, client, fake_crm, waits):
    PropertyDefinitionFactory(organization=org)
    PropertySyncRunFactory(organization=org)
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-secret-123")
    client.force_login(user)
    assert client.get("/admin/properties/propertydefinition/").status_code == 200
    assert client.get("/admin/properties/propertysyncrun/").status_code == 200
    run = PropertySyncRun.objects.get()
    assert client.get(f"/admin/properties/propertysyncrun/{run.pk}/change/").status_code == 200
