"""POST contacts/{id}/queue-sync/, bulk-queue-sync/, queue-all-sync/ (WO-018 1.1–1.3)."""

import uuid
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus
from tests.contacts.factories import ContactFactory, RegistrationFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db


def url_queue(contact_id):
    return f"/api/v1/contacts/{contact_id}/queue-sync/"


BULK = "/api/v1/contacts/bulk-queue-sync/"
ALL = "/api/v1/contacts/queue-all-sync/"


# ---- 1.1 queue one ------------------------------------------------------------------------
def test_queue_one_answers_the_seed_shape(api_client, org, connection):
    contact = ContactFactory(organization=org)
    response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["contact_id"] == str(contact.pk) and body["crm"] == "scripted"
    assert body["sync_status"] == "Queued" and body["processing_status"] == "Queued"
    # no push measured on the connection yet: no guess
    assert body["estimated_processing_time"].startswith("Unknown")
    assert body["estimated_processing_at"] is None and body["paused"] is None
    state = ContactSyncState.objects.get(contact=contact, connection=connection)
    assert state.due_at is not None and state.retry_count == 0
    assert AuditEvent.objects.filter(action="sync.queue", object_id=str(contact.pk)).count() == 1


def test_queue_without_trailing_slash_like_the_seed(api_client, org, connection):
    contact = ContactFactory(organization=org)
    response = api_client.post(
        f"/api/v1/contacts/{contact.pk}/queue-sync", {"crm": "scripted"}, format="json"
    )
    assert response.status_code == 200


def test_queue_resets_retry_fields(api_client, org, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True, next_retry_at=timezone.now())
    response = api_client.post(url_queue(state.contact_id), {"crm": "scripted"}, format="json")
    assert response.status_code == 200
    state.refresh_from_db()
    assert state.retry_count == 0 and state.next_retry_at is None and state.error == ""
    assert state.sync_status == SyncStatus.QUEUED


def test_queue_high_priority_starts_a_push_on_commit(
    api_client, org, connection, django_capture_on_commit_callbacks
):
    contact = ContactFactory(organization=org)
    with (
        mock.patch("crm_sync.tasks.push_batch.delay") as push,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(
            url_queue(contact.pk), {"crm": "scripted", "priority": "high"}, format="json"
        )
    assert response.status_code == 200
    assert ContactSyncState.objects.get(contact=contact).priority == Priority.HIGH
    push.assert_called_once_with(connection_id=connection.pk)


def test_queue_normal_priority_starts_no_push(
    api_client, org, connection, django_capture_on_commit_callbacks
):
    contact = ContactFactory(organization=org)
    with (
        mock.patch("crm_sync.tasks.push_batch.delay") as push,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 200
    push.assert_not_called()


def test_queue_contact_without_email_is_400_and_writes_nothing(api_client, org, connection):
    contact = ContactFactory(organization=org, without_email=True)
    response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "Contact does not have email address"
    assert response.json()["code"] == "no_email"
    assert (
        not ContactSyncState.objects.exists() and not AuditEvent.objects.filter(action="sync.queue").exists()
    )


def test_queue_unknown_contact_is_404(api_client, connection):
    response = api_client.post(url_queue(uuid.uuid4()), {"crm": "scripted"}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "Contact not found"


def test_queue_malformed_contact_id_is_404(api_client, connection):
    response = api_client.post(url_queue("not-a-uuid"), {"crm": "scripted"}, format="json")
    assert response.status_code == 404


def test_queue_other_organizations_contact_is_404(api_client, other_org, connection):
    contact = ContactFactory(organization=other_org)
    response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 404
    assert not ContactSyncState.objects.exists()


def test_queue_unknown_crm_is_400_naming_the_valid_ones(api_client, org, connection):
    contact = ContactFactory(organization=org)
    response = api_client.post(url_queue(contact.pk), {"crm": "salesforce"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (
        body["code"] == "unknown_crm"
        and "scripted" in body["details"]["valid"]
        and "scripted" in body["error"]
    )


def test_queue_crm_not_enabled_for_the_organization_is_409(api_client, org, scripted):
    CrmConnectionFactory(organization=org, kind="scripted", enabled=False)
    contact = ContactFactory(organization=org)
    response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "crm_not_enabled"
    assert not ContactSyncState.objects.exists()


def test_queue_crm_without_any_connection_is_409(api_client, org, scripted):
    contact = ContactFactory(organization=org)
    response = api_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 409


def test_queue_bad_priority_and_unknown_fields_are_400(api_client, org, connection):
    contact = ContactFactory(organization=org)
    assert (
        api_client.post(
            url_queue(contact.pk), {"crm": "scripted", "priority": "urgent"}, format="json"
        ).status_code
        == 400
    )
    assert (
        api_client.post(url_queue(contact.pk), {"crm": "scripted", "prio": "high"}, format="json").status_code
        == 400
    )
    assert api_client.post(url_queue(contact.pk), {}, format="json").status_code == 400
    assert not ContactSyncState.objects.exists()


def test_queue_needs_the_sync_scope(make_api_client, org, connection):
    contact = ContactFactory(organization=org)
    client = make_api_client(org, scopes=["read", "write"])
    response = client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    assert (
        make_api_client(org, scopes=["sync"])
        .post(url_queue(contact.pk), {"crm": "scripted"}, format="json")
        .status_code
        == 200
    )


def test_queue_needs_authentication(anon_client, org, connection):
    contact = ContactFactory(organization=org)
    assert anon_client.post(url_queue(contact.pk), {"crm": "scripted"}, format="json").status_code == 401


def test_queueing_a_contact_being_pushed_flags_it_instead_of_taking_it(api_client, org, connection):
    state = ContactSyncStateFactory(connection=connection, stuck=True, claim_token="w1")
    api_client.post(url_queue(state.contact_id), {"crm": "scripted"}, format="json")
    state.refresh_from_db()
    assert state.processing_status == ProcessingStatus.PROCESSING and state.claim_token == "w1"
    assert state.requeue_requested


# ---- 1.2 bulk -----------------------------------------------------------------------------
def test_bulk_queue_reports_each_id_that_was_not_queued(api_client, org, connection):
    ok = [ContactFactory(organization=org) for _ in range(3)]
    no_email = ContactFactory(organization=org, without_email=True)
    queued = ContactSyncStateFactory(connection=connection, queued=True)
    missing = str(uuid.uuid4())
    ids = [str(c.pk) for c in ok] + [str(no_email.pk), str(queued.contact_id), missing]
    response = api_client.post(BULK, {"contact_ids": ids, "crm": "scripted"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["queued"] == 3 and body["skipped"] == 3
    reasons = {e["contact_id"]: e["reason"] for e in body["errors"]}
    assert reasons == {
        str(no_email.pk): "No email address",
        str(queued.contact_id): "Already queued",
        missing: "Contact not found",
    }
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.QUEUED).count() == 4
    assert AuditEvent.objects.filter(action="sync.bulk_queue").count() == 1


def test_bulk_queue_skips_unchanged_contacts_unless_forced(api_client, org, connection):
    state = ContactSyncStateFactory(connection=connection, complete=True)
    body = api_client.post(
        BULK, {"contact_ids": [str(state.contact_id)], "crm": "scripted"}, format="json"
    ).json()
    assert body["queued"] == 0 and body["errors"][0]["code"] == "unchanged"
    body = api_client.post(
        BULK, {"contact_ids": [str(state.contact_id)], "crm": "scripted", "force": True}, format="json"
    ).json()
    assert body["queued"] == 1
    state.refresh_from_db()
    assert state.sync_status == SyncStatus.QUEUED and state.pushed_hash == ""


def test_bulk_dry_run_changes_nothing(api_client, org, connection):
    contacts = [ContactFactory(organization=org) for _ in range(2)]
    response = api_client.post(
        BULK,
        {"contact_ids": [str(c.pk) for c in contacts], "crm": "scripted", "dry_run": True},
        format="json",
    )
    assert response.json()["queued"] == 2 and response.json()["dry_run"] is True
    assert not ContactSyncState.objects.exists()
    assert not AuditEvent.objects.filter(action="sync.bulk_queue").exists()


def test_bulk_over_the_limit_is_400(api_client, org, connection, settings):
    settings.SYNC_BULK_QUEUE_MAX_IDS = 5
    ids = [str(uuid.uuid4()) for _ in range(6)]
    response = api_client.post(BULK, {"contact_ids": ids, "crm": "scripted"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "too_many_ids"


def test_bulk_accepts_a_thousand_ids(api_client, org, connection):
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    response = api_client.post(BULK, {"contact_ids": ids, "crm": "scripted"}, format="json")
    assert response.status_code == 200 and response.json()["skipped"] == 1000


def test_bulk_empty_or_malformed_list_is_400(api_client, connection):
    assert api_client.post(BULK, {"contact_ids": [], "crm": "scripted"}, format="json").status_code == 400
    assert api_client.post(BULK, {"contact_ids": "abc", "crm": "scripted"}, format="json").status_code == 400


def test_bulk_malformed_id_is_reported_not_found(api_client, org, connection):
    body = api_client.post(BULK, {"contact_ids": ["nope"], "crm": "scripted"}, format="json").json()
    assert body["errors"] == [{"contact_id": "nope", "code": "not_found", "reason": "Contact not found"}]


def test_bulk_unknown_crm_400_and_disabled_409(api_client, org, connection):
    contact = ContactFactory(organization=org)
    assert (
        api_client.post(BULK, {"contact_ids": [str(contact.pk)], "crm": "nope"}, format="json").status_code
        == 400
    )
    connection.enabled = False
    connection.save()
    assert (
        api_client.post(
            BULK, {"contact_ids": [str(contact.pk)], "crm": "scripted"}, format="json"
        ).status_code
        == 409
    )
    assert not ContactSyncState.objects.exists()


@pytest.mark.parametrize("rows", [3, 30])
def test_bulk_query_count_does_not_grow_with_the_list(
    api_client, org, connection, django_assert_num_queries, rows
):
    new = [ContactFactory(organization=org) for _ in range(rows)]
    old = [ContactSyncStateFactory(connection=connection, errored=True).contact for _ in range(rows)]
    ids = [str(c.pk) for c in new + old]
    # api key lookup + usage bump (auth), connection, contacts, states, savepoint,
    # UPDATE idle rows, UPDATE processing rows, INSERT … SELECT, audit, release savepoint
    with django_assert_num_queries(11):
        response = api_client.post(BULK, {"contact_ids": ids, "crm": "scripted"}, format="json")
    assert response.json()["queued"] == rows * 2


# ---- 1.3 queue all ------------------------------------------------------------------------
def test_queue_all_queues_matching_contacts_and_counts_the_skipped(api_client, org, connection):
    fresh = [ContactFactory(organization=org, source="event") for _ in range(3)]
    ContactFactory(organization=org, source="event", without_email=True)
    ContactSyncStateFactory(
        connection=connection, queued=True, contact=ContactFactory(organization=org, source="event")
    )
    ContactSyncStateFactory(
        connection=connection, complete=True, contact=ContactFactory(organization=org, source="event")
    )
    errored = ContactSyncStateFactory(
        connection=connection, errored=True, contact=ContactFactory(organization=org, source="event")
    )
    ContactFactory(organization=org, source="api")  # filtered out
    response = api_client.post(ALL, {"crm": "scripted", "filters": {"source": "event"}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["queued_count"] == 4 and body["matched_count"] == 7
    assert body["skipped"] == {"no_email": 1, "already_queued": 1, "unchanged": 1}
    assert body["estimated_completion"] is None and body["estimate"].startswith("Unknown")
    assert body["paused"] is None
    queued_ids = set(
        ContactSyncState.objects.filter(sync_status=SyncStatus.QUEUED).values_list("contact_id", flat=True)
    )
    assert {c.pk for c in fresh} | {errored.contact_id} <= queued_ids
    errored.refresh_from_db()
    assert errored.retry_count == 0


def test_queue_all_dry_run_says_what_would_happen_and_changes_nothing(api_client, org, connection):
    ContactFactory(organization=org)
    ContactFactory(organization=org, without_email=True)
    before = list(ContactSyncState.objects.values_list("pk", "sync_status"))
    body = api_client.post(ALL, {"crm": "scripted", "dry_run": True}, format="json").json()
    assert body["dry_run"] is True and body["queued_count"] == 1 and body["skipped"]["no_email"] == 1
    assert list(ContactSyncState.objects.values_list("pk", "sync_status")) == before


def test_queue_all_not_already_synced_leaves_complete_ones(api_client, org, connection):
    done = ContactSyncStateFactory(connection=connection, complete=True)
    ContactFactory(organization=org)
    body = api_client.post(
        ALL, {"crm": "scripted", "force": True, "filters": {"not_already_synced": True}}, format="json"
    ).json()
    assert body["queued_count"] == 1 and body["matched_count"] == 1
    done.refresh_from_db()
    assert done.sync_status == SyncStatus.COMPLETE


def test_queue_all_filters_by_event_and_tag(api_client, org, connection):
    registration = RegistrationFactory(event__organization=org)
    ContactFactory(organization=org, tags=["vip"])
    ContactFactory(organization=org)
    body = api_client.post(
        ALL, {"crm": "scripted", "filters": {"event": str(registration.event_id)}}, format="json"
    ).json()
    assert body["queued_count"] == 1
    body = api_client.post(ALL, {"crm": "scripted", "filters": {"tag": "vip"}}, format="json").json()
    assert body["queued_count"] == 1


def test_queue_all_unknown_filter_is_400(api_client, connection):
    response = api_client.post(ALL, {"crm": "scripted", "filters": {"domain_id": "x"}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_filter"


def test_queue_all_bad_filter_value_is_400(api_client, connection):
    response = api_client.post(
        ALL, {"crm": "scripted", "filters": {"created_after": "yesterday"}}, format="json"
    )
    assert response.status_code == 400
    assert not ContactSyncState.objects.exists()


@pytest.mark.parametrize("rows", [3, 30])
def test_queue_all_query_count_is_constant(api_client, org, connection, django_assert_num_queries, rows):
    for _ in range(rows):
        ContactFactory(organization=org)
        ContactSyncStateFactory(connection=connection, errored=True)
    # auth (2), connection, unfinished queue-all run, aggregate, savepoint, UPDATE idle, UPDATE
    # processing, INSERT … SELECT, audit, release, then the estimate: connection, throughput
    # (recent runs, then older), depth (rows in the queue, contacts a queue-all has still to write)
    with django_assert_num_queries(16):
        response = api_client.post(ALL, {"crm": "scripted"}, format="json")
    assert response.json()["queued_count"] == rows * 2
