"""A pull leaves a conflict, a person resolves it through the API, and the next pull neither undoes
the choice nor reopens the conflict."""

from datetime import UTC, datetime, timedelta

import pytest

from contacts.models import Contact
from crm_sync.models import ContactSyncState, SyncConflict, SyncStatus
from crm_sync.services.pull import pull_run

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person(minutes: int, **extra) -> dict:
    return {
        "id": "1",
        "updated_at": T0 + timedelta(minutes=minutes),
        "email": "ann@example.com",
        "firstname": "Ann",
        "lastname": "Pulled",
        "company": "Acme",
        **extra,
    }


@pytest.fixture
def conflicted(connection, paged):
    connection.conflict_strategy = "manual_review"
    connection.save()
    paged.records["contacts"] = [person(1)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    contact = Contact.objects.get()
    Contact.objects.filter(pk=contact.pk).update(first_name="Anne", company="Acme Ltd")
    paged.records["contacts"] = [person(50, firstname="Annie", company="Acme Inc")]
    pull_run(connection_id=connection.pk, object_type="contacts")
    return SyncConflict.objects.get(status="open")


def test_resolved_per_field_through_the_api_and_kept_by_the_next_pull(conflicted, paged, api_client):
    assert set(conflicted.fields) == {"first_name", "company"}
    response = api_client.post(
        f"/api/v1/conflicts/{conflicted.pk}/resolve/",
        {"fields": {"first_name": "local", "company": "remote"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["pushed"] is True
    contact = Contact.objects.get()
    assert (contact.first_name, contact.company) == ("Anne", "Acme Inc")
    state = ContactSyncState.objects.get(contact=contact)
    assert state.sync_status == SyncStatus.QUEUED  # the local first name goes to the CRM
    # The CRM has not received it yet when the next pull comes.
    run = pull_run(connection_id=conflicted.connection_id, object_type="contacts", backfill=True)
    assert run.conflicts == 0
    assert not SyncConflict.objects.filter(status="open").exists()
    contact.refresh_from_db()
    assert (contact.first_name, contact.company) == ("Anne", "Acme Inc")


def test_a_new_crm_edit_after_a_resolution_is_a_new_conflict(conflicted, paged, api_client):
    api_client.post(f"/api/v1/conflicts/{conflicted.pk}/resolve/", {"choice": "local"}, format="json")
    paged.records["contacts"] = [person(90, firstname="Anya", company="Acme Inc")]
    pull_run(connection_id=conflicted.connection_id, object_type="contacts")
    reopened = SyncConflict.objects.get(status="open")
    assert reopened.pk != conflicted.pk
    assert reopened.fields["first_name"] == {"base": "Annie", "local": "Anne", "remote": "Anya"}
