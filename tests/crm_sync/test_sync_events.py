"""The contact timeline's rows: written by pushes (every outcome) and pulls, swept by age."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm_sync.models import ContactSyncEvent, SyncStatus
from crm_sync.services.events import sync_events_sweep
from crm_sync.services.push import push_batch_process
from integrations.errors import CrmUnavailable
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db


def test_every_push_outcome_is_one_event_with_status_http_status_and_attempt(connection, scripted):
    state = ContactSyncStateFactory(connection=connection, queued=True)
    scripted.script = [CrmUnavailable("HubSpot answered 503", status=503)]
    push_batch_process(connection_id=connection.pk)
    state.refresh_from_db()
    state.__class__.objects.filter(pk=state.pk).update(due_at=timezone.now())
    push_batch_process(connection_id=connection.pk)
    failed, done = ContactSyncEvent.objects.filter(contact=state.contact).order_by("id")
    assert (failed.direction, failed.sync_status, failed.http_status) == ("push", SyncStatus.ERROR, 503)
    assert (failed.attempt, failed.max_attempts, failed.error_category) == (1, 3, "unavailable")
    assert "503" in failed.error
    assert (done.sync_status, done.http_status, done.error) == (SyncStatus.COMPLETE, None, "")


def test_a_batch_records_its_events_in_one_statement(connection, scripted, django_assert_max_num_queries):
    for _ in range(20):
        ContactSyncStateFactory(connection=connection, queued=True)
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db) as captured:
        push_batch_process(connection_id=connection.pk)
    inserts = [q for q in captured.captured_queries if "crm_sync_contactsyncevent" in q["sql"]]
    assert len(inserts) == 1
    assert ContactSyncEvent.objects.count() == 20


def test_sweep_deletes_only_events_past_retention(connection, settings):
    settings.SYNC_EVENT_RETENTION_DAYS = 30
    state = ContactSyncStateFactory(connection=connection, complete=True)
    now = timezone.now()
    for days in (31, 29):
        ContactSyncEvent.objects.create(
            contact=state.contact,
            connection=connection,
            direction="push",
            sync_status="Complete",
            at=now - timedelta(days=days),
        )
    assert sync_events_sweep(now=now) == 1
    assert ContactSyncEvent.objects.count() == 1
