"""The sync parts of the admin: contact list column and filter, bulk actions, inline, histories."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from crm_sync.models import ContactSyncState, SyncStatus
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/contacts/contact/"


@pytest.fixture
def admin_client_():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_contact_list_shows_each_crm_status(admin_client_, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True)
    response = admin_client_.get(CHANGELIST)
    assert response.status_code == 200
    assert "scripted: Error" in response.content.decode()
    assert state.contact.email in response.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_contact_list_query_count_is_constant(admin_client_, connection, django_assert_num_queries, rows):
    for _ in range(rows):
        ContactSyncStateFactory(connection=connection, complete=True)
    # session, user, counts, page, prefetched states + connections, filters… the same 11 for any page size
    with django_assert_num_queries(11):
        assert admin_client_.get(CHANGELIST).status_code == 200


def test_contact_list_filters_by_crm_status(admin_client_, connection):
    failed = ContactSyncStateFactory(connection=connection, errored=True)
    done = ContactSyncStateFactory(connection=connection, complete=True)
    never = ContactFactory(organization=connection.organization)
    page = admin_client_.get(CHANGELIST + "?crm_sync=scripted:Error").content.decode()
    assert failed.contact.email in page and done.contact.email not in page
    page = admin_client_.get(CHANGELIST + "?crm_sync=scripted:none").content.decode()
    assert never.email in page and failed.contact.email not in page


def test_queue_for_sync_shows_an_intermediate_page_then_queues(admin_client_, org, connection):
    contacts = [ContactFactory(organization=org) for _ in range(2)]
    data = {"action": "queue_for_sync", ACTION_CHECKBOX_NAME: [str(c.pk) for c in contacts]}
    page = admin_client_.post(CHANGELIST, data)
    assert page.status_code == 200 and b"Queue contacts for sync" in page.content
    assert not ContactSyncState.objects.exists()
    response = admin_client_.post(CHANGELIST, {**data, "apply": "1", "crm": "scripted", "priority": "normal"})
    assert response.status_code == 302
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.QUEUED).count() == 2


def test_queue_for_sync_to_a_crm_the_organization_lacks_reports_the_error(admin_client_, org, scripted):
    contact = ContactFactory(organization=org)
    data = {
        "action": "queue_for_sync",
        ACTION_CHECKBOX_NAME: [str(contact.pk)],
        "apply": "1",
        "crm": "scripted",
        "priority": "normal",
    }
    response = admin_client_.post(CHANGELIST, data, follow=True)
    assert b"not enabled" in response.content
    assert not ContactSyncState.objects.exists()


def test_retry_failed_syncs_keeps_the_count_and_reset_zeroes_it(admin_client_, connection):
    a = ContactSyncStateFactory(connection=connection, errored=True, retry_count=3)
    b = ContactSyncStateFactory(connection=connection, errored=True, retry_count=3)
    admin_client_.post(
        CHANGELIST, {"action": "retry_failed_syncs", ACTION_CHECKBOX_NAME: [str(a.contact_id)]}
    )
    admin_client_.post(CHANGELIST, {"action": "reset_and_requeue", ACTION_CHECKBOX_NAME: [str(b.contact_id)]})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.sync_status, a.retry_count) == (SyncStatus.QUEUED, 3)
    assert (b.sync_status, b.retry_count) == (SyncStatus.QUEUED, 0)


def test_contact_page_has_the_sync_state_inline_with_the_last_exchange(admin_client_, connection):
    state = ContactSyncStateFactory(connection=connection, complete=True, last_response={"id": "remote-77"})
    page = admin_client_.get(f"/admin/contacts/contact/{state.contact_id}/change/").content.decode()
    assert "remote-77" in page and "Last exchange with the CRM" in page


def test_sync_run_history_is_read_only(admin_client_, connection):
    run = SyncRunFactory(connection=connection, succeeded=5)
    assert admin_client_.get("/admin/crm_sync/syncrun/").status_code == 200
    assert admin_client_.get("/admin/crm_sync/syncrun/add/").status_code == 403
    page = admin_client_.get(f"/admin/crm_sync/syncrun/{run.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_connection_test_credentials_action(admin_client_, connection):
    response = admin_client_.post(
        "/admin/integrations/crmconnection/",
        {"action": "test_credentials", ACTION_CHECKBOX_NAME: [str(connection.pk)]},
        follow=True,
    )
    assert b"valid: Successfully authenticated" in response.content


def test_connection_list_shows_an_open_circuit(admin_client_, connection):
    connection.circuit_state = "open"
    connection.save()
    assert b"Open (paused)" in admin_client_.get("/admin/integrations/crmconnection/").content
