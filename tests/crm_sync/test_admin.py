"""The sync parts of the admin: contact list column and filter, bulk actions, inline, histories."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.utils import timezone

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
    page = response.content.decode()
    assert f"column-crm_{connection.pk}" in page  # one column per enabled connection
    assert ">✕</span>" in page and state.error in page  # the icon, the error as its tooltip
    assert state.contact.email in page


@pytest.mark.parametrize("rows", [3, 30])
def test_contact_list_query_count_is_constant(admin_client_, connection, django_assert_num_queries, rows):
    for _ in range(rows):
        ContactSyncStateFactory(connection=connection, complete=True)
    # session, user, counts, page, prefetched states + connections, enabled connections (the
    # columns), filters… the same 12 for any page size
    with django_assert_num_queries(12):
        assert admin_client_.get(CHANGELIST).status_code == 200


def test_contact_list_filters_by_crm_status(admin_client_, connection):
    failed = ContactSyncStateFactory(connection=connection, errored=True)
    done = ContactSyncStateFactory(connection=connection, complete=True)
    never = ContactFactory(organization=connection.organization)
    page = admin_client_.get(CHANGELIST + "?crm=scripted&sync_status=Error").content.decode()
    assert failed.contact.email in page and done.contact.email not in page
    page = admin_client_.get(CHANGELIST + "?crm=scripted&sync_status=none").content.decode()
    assert never.email in page and failed.contact.email not in page
    page = admin_client_.get(CHANGELIST + "?crm=scripted").content.decode()
    assert failed.contact.email in page and done.contact.email in page and never.email not in page
    page = admin_client_.get(CHANGELIST + "?sync_status=Complete").content.decode()
    assert done.contact.email in page and failed.contact.email not in page


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


def test_connection_list_says_paused_in_plain_words(admin_client_, connection):
    connection.circuit_state = "open"
    connection.circuit_reason = "Authentication failed: Invalid token"
    connection.save()
    page = admin_client_.get("/admin/integrations/crmconnection/").content.decode()
    assert "Paused: authentication failed" in page and "fix the credentials, then Resume" in page
    assert "circuit" not in page.split('id="result_list"')[1].split("</table>")[0].lower()


CONNECTIONS = "/admin/integrations/crmconnection/"
STATES = "/admin/crm_sync/contactsyncstate/"


def test_connection_list_shows_state_last_sync_counts_and_last_error(admin_client_, connection):
    ContactSyncStateFactory(connection=connection, queued=True)
    ContactSyncStateFactory(connection=connection, errored=True, error="Email already taken")
    SyncRunFactory(connection=connection, succeeded=1)
    page = admin_client_.get(CONNECTIONS).content.decode()
    assert "Healthy" in page
    assert '<td class="field-queued">1</td>' in page
    assert "sync_status__exact=Error" in page and ">1</a>" in page
    assert "Email already taken" in page
    assert "ago" in page  # the last sync


def test_resume_offers_to_retry_the_auth_failures_then_does(admin_client_, connection):
    from integrations.models import CrmConnection

    CrmConnection.objects.filter(pk=connection.pk).update(
        circuit_state="open", circuit_reason="Authentication failed: Invalid token"
    )
    failed = [
        ContactSyncStateFactory(connection=connection, errored=True, error_category="auth") for _ in range(2)
    ]
    other = ContactSyncStateFactory(connection=connection, errored=True)  # validation: not re-queued
    data = {"action": "resume", ACTION_CHECKBOX_NAME: [str(connection.pk)]}
    page = admin_client_.post(CONNECTIONS, data).content.decode()
    assert "Resume and retry 2 contacts" in page
    connection.refresh_from_db()
    assert connection.is_circuit_open  # nothing changes before the choice
    response = admin_client_.post(CONNECTIONS, {**data, "apply": "1", "retry": "1"}, follow=True)
    assert "resumed, 2 contacts queued again" in response.content.decode()
    connection.refresh_from_db()
    assert not connection.is_circuit_open
    for state in failed:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.QUEUED and state.retry_count == 0
    other.refresh_from_db()
    assert other.sync_status == SyncStatus.ERROR


def test_resume_of_a_connection_that_is_not_paused_is_a_warning(admin_client_, connection):
    response = admin_client_.post(
        CONNECTIONS, {"action": "resume", ACTION_CHECKBOX_NAME: [str(connection.pk)]}, follow=True
    )
    page = response.content.decode()
    assert "0 connections resumed: none of the selected is paused" in page and 'class="warning"' in page


def test_sync_now_starts_a_push_and_refuses_a_paused_connection(admin_client_, connection, monkeypatch):
    from crm_sync import tasks

    started = []
    monkeypatch.setattr(tasks.push_batch, "delay", lambda **kw: started.append(kw))
    response = admin_client_.post(
        CONNECTIONS, {"action": "sync_now", ACTION_CHECKBOX_NAME: [str(connection.pk)]}, follow=True
    )
    assert started == [{"connection_id": connection.pk}] and b"push" in response.content
    connection.circuit_state = "open"
    connection.save()
    response = admin_client_.post(
        CONNECTIONS, {"action": "sync_now", ACTION_CHECKBOX_NAME: [str(connection.pk)]}, follow=True
    )
    assert len(started) == 1 and b"nothing started (paused" in response.content


def test_queueing_nothing_is_a_warning_with_the_reasons(admin_client_, org, connection):
    no_email = ContactFactory(organization=org, without_email=True)
    queued = ContactSyncStateFactory(connection=connection, queued=True).contact
    data = {
        "action": "queue_for_sync",
        ACTION_CHECKBOX_NAME: [str(no_email.pk), str(queued.pk)],
        "apply": "1",
        "crm": "scripted",
        "priority": "normal",
    }
    page = admin_client_.post(CHANGELIST, data, follow=True).content.decode()
    assert "0 contacts queued for scripted." in page
    assert "1 no email" in page and "1 already queued or being pushed" in page
    assert 'class="warning"' in page


def test_sync_state_list_shows_error_http_status_and_attempts_without_delete(admin_client_, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True, http_status=422, error="Bad phone")
    page = admin_client_.get(STATES).content.decode()
    assert "Bad phone" in page and "422" in page and "3 of 3" in page
    assert "delete_selected" not in page
    assert admin_client_.post(f"{STATES}{state.pk}/delete/").status_code == 403
    title = admin_client_.get(f"{STATES}{state.pk}/change/").content.decode()
    assert f"{state.contact.email} → Scripted CRM: Error" in title


def test_sync_state_retry_action_reports_what_it_skipped(admin_client_, connection):
    failed = ContactSyncStateFactory(connection=connection, errored=True)
    done = ContactSyncStateFactory(connection=connection, complete=True)
    response = admin_client_.post(
        STATES, {"action": "retry_now", ACTION_CHECKBOX_NAME: [str(failed.pk), str(done.pk)]}, follow=True
    )
    page = response.content.decode()
    assert "1 sync queued again. Skipped: 1 not in error." in page
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.sync_status == SyncStatus.QUEUED and done.sync_status == SyncStatus.COMPLETE


def test_dashboard_failure_link_filters_by_exact_message(admin_client_, connection):
    mine = ContactSyncStateFactory(connection=connection, errored=True, error="Bad phone")
    other = ContactSyncStateFactory(connection=connection, errored=True, error="Bad phone number format")
    page = admin_client_.get(STATES + "?error=Bad+phone&sync_status__exact=Error").content.decode()
    assert mine.contact.email in page and other.contact.email not in page


def test_contact_page_shows_timeline_and_push_now_and_retry(admin_client_, connection, monkeypatch):
    from crm_sync.services import queueing
    from crm_sync.services.events import sync_events_record

    monkeypatch.setattr(queueing, "_push_now", lambda connection_id: None)
    state = ContactSyncStateFactory(connection=connection, errored=True, http_status=400, error="Bad phone")
    sync_events_record(states=[state], connection=connection, direction="push", now=timezone.now())
    url = f"{CHANGELIST}{state.contact.pk}/change/"
    page = admin_client_.get(url).content.decode()
    assert 'id="sync-timeline"' in page and "attempt 3 of 3" in page and "Bad phone" in page
    assert "Push now" in page and ">Retry<" in page
    retry = f"{CHANGELIST}{state.contact.pk}/sync/{connection.pk}/retry/"
    assert admin_client_.post(retry).status_code == 302
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.retry_count == 0
    response = admin_client_.post(retry, follow=True)  # no longer in error
    assert b"Nothing queued for" in response.content
    push = f"{CHANGELIST}{state.contact.pk}/sync/{connection.pk}/push/"
    assert admin_client_.get(push).status_code == 405
    admin_client_.post(push)
    state.refresh_from_db()
    assert state.priority == 10  # high: pushed first
    assert "sync.retry" in admin_client_.get(url).content.decode()  # the audit trail is on the timeline


def test_contact_page_actions_are_scoped_to_the_users_organizations(connection, other_org):
    from tests.factories import MembershipFactory

    user = UserFactory(is_staff=True, is_superuser=False)
    MembershipFactory(user=user, organization=other_org)
    client = Client()
    client.force_login(user)
    state = ContactSyncStateFactory(connection=connection, errored=True)
    response = client.post(f"{CHANGELIST}{state.contact.pk}/sync/{connection.pk}/retry/")
    assert response.status_code in (403, 404)
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.ERROR
