"""POST contacts/{id}/retry-sync/ and retry-all-failures/ (WO-018 3.1–3.2)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db


def retry_url(contact_id):
    return f"/api/v1/contacts/{contact_id}/retry-sync/"


def test_retry_without_reset_increments_and_schedules_the_backoff(api_client, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True, retry_count=2)
    before = timezone.now()
    response = api_client.post(retry_url(state.contact_id), {"crm": "scripted"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["contact_id"] == str(state.contact_id) and body["crm"] == "scripted"
    assert body["retry_count"] == 3 and body["message"] == "Retry scheduled"
    state.refresh_from_db()
    # base 10 s * 2**2 = 40 s, jitter [50%, 100%]
    assert before + timedelta(seconds=20) <= state.next_retry_at <= timezone.now() + timedelta(seconds=40)
    assert state.sync_status == SyncStatus.QUEUED and state.processing_status == ProcessingStatus.QUEUED
    assert AuditEvent.objects.filter(action="sync.retry").count() == 1


def test_retry_with_reset_starts_from_scratch(api_client, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True, retry_count=3)
    body = api_client.post(
        retry_url(state.contact_id), {"crm": "scripted", "reset_retry_count": True}, format="json"
    ).json()
    assert body["retry_count"] == 0 and body["next_retry_at"] is None
    state.refresh_from_db()
    assert state.due_at <= timezone.now()


def test_retry_of_a_contact_not_in_error_is_400_and_changes_nothing(api_client, connection):
    state = ContactSyncStateFactory(connection=connection, complete=True)
    response = api_client.post(retry_url(state.contact_id), {"crm": "scripted"}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "Contact not in error state"
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.COMPLETE


def test_retry_of_a_contact_never_synced_is_400(api_client, org, connection):
    from tests.contacts.factories import ContactFactory

    contact = ContactFactory(organization=org)
    assert api_client.post(retry_url(contact.pk), {"crm": "scripted"}, format="json").status_code == 400


def test_retry_unknown_contact_404_unknown_crm_400_scope_403(api_client, make_api_client, org, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True)
    assert api_client.post(retry_url(uuid.uuid4()), {"crm": "scripted"}, format="json").status_code == 404
    assert api_client.post(retry_url(state.contact_id), {"crm": "x"}, format="json").status_code == 400
    reader = make_api_client(org, scopes=["read"])
    assert reader.post(retry_url(state.contact_id), {"crm": "scripted"}, format="json").status_code == 403
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.ERROR


def test_retry_all_requeues_every_failure_of_the_crm(api_client, connection):
    failed = [ContactSyncStateFactory(connection=connection, errored=True) for _ in range(3)]
    ok = ContactSyncStateFactory(connection=connection, complete=True)
    response = api_client.post(
        "/api/v1/contacts/retry-all-failures/", {"crm": "scripted", "reset_retry_count": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "crm": "scripted",
        "retried_count": 3,
        "message": "All failures reset and queued for retry",
    }
    assert (
        ContactSyncState.objects.filter(
            pk__in=[f.pk for f in failed], sync_status="Queued", retry_count=0
        ).count()
        == 3
    )
    ok.refresh_from_db()
    assert ok.sync_status == SyncStatus.COMPLETE
    assert AuditEvent.objects.filter(action="sync.retry_all").count() == 1


def test_retry_all_without_reset_keeps_counts(api_client, connection):
    a = ContactSyncStateFactory(connection=connection, errored=True, retry_count=1)
    b = ContactSyncStateFactory(connection=connection, errored=True, retry_count=3)
    body = api_client.post(
        "/api/v1/contacts/retry-all-failures/", {"crm": "scripted", "reset_retry_count": False}, format="json"
    ).json()
    assert body["retried_count"] == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.retry_count, b.retry_count) == (2, 4)
    assert a.next_retry_at < b.next_retry_at


def test_retry_all_disabled_crm_is_409(api_client, connection):
    ContactSyncStateFactory(connection=connection, errored=True)
    connection.enabled = False
    connection.save()
    assert (
        api_client.post(
            "/api/v1/contacts/retry-all-failures/", {"crm": "scripted"}, format="json"
        ).status_code
        == 409
    )
    assert ContactSyncState.objects.filter(sync_status="Error").count() == 1
