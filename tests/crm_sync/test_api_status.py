"""GET contacts/{id}/sync-status/, sync-stats/, sync-failures/ (WO-018 2.1–2.3)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_sync.connections import push_kinds
from crm_sync.selectors import seconds_phrase
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db


def status_url(contact_id):
    return f"/api/v1/contacts/{contact_id}/sync-status/"


# ---- 2.1 sync-status ----------------------------------------------------------------------
def test_sync_status_lists_every_push_crm_with_nulls_where_never_synced(api_client, org, connection):
    contact = ContactFactory(organization=org)
    body = api_client.get(status_url(contact.pk)).json()
    assert body["contact_id"] == str(contact.pk) and body["email"] == contact.email
    for kind in push_kinds():
        assert body[kind]["sync_status"] is None
        assert body[kind]["processing_status"] is None and body[kind]["contact_id"] is None


def test_sync_status_shows_complete_with_remote_id_and_synced_at(api_client, connection):
    state = ContactSyncStateFactory(connection=connection, complete=True, remote_id="user@example.com")
    body = api_client.get(status_url(state.contact_id)).json()["scripted"]
    assert body["sync_status"] == "Complete" and body["processing_status"] == "Complete"
    assert body["contact_id"] == "user@example.com" and body["synced_at"]
    assert "last_request" not in body


def test_sync_status_estimates_from_the_queue_ahead_and_measured_throughput(api_client, connection):
    # given: 119 rows ahead, 10 contacts/s measured over the last minute
    for _ in range(119):
        ContactSyncStateFactory(
            connection=connection, queued=True, due_at=timezone.now() - timedelta(minutes=5)
        )
    mine = ContactSyncStateFactory(connection=connection, queued=True)
    now = timezone.now()
    SyncRunFactory(
        connection=connection, succeeded=600, started_at=now - timedelta(seconds=60), finished_at=now
    )
    body = api_client.get(status_url(mine.contact_id)).json()["scripted"]
    assert body["sync_status"] == "Queued"
    assert body["estimated_processing"] == "Within 12 seconds"  # (119 + 1) / 10 per second


def test_sync_status_without_history_says_the_time_is_unknown(api_client, connection):
    mine = ContactSyncStateFactory(connection=connection, queued=True)
    body = api_client.get(status_url(mine.contact_id)).json()["scripted"]
    assert body["estimated_processing"].startswith("Unknown: no push has been measured")


def test_sync_status_falls_back_on_older_runs_over_their_durations(api_client, connection):
    # given: no run in the last 15 minutes; an hour ago 100 contacts took 20 s of push time
    mine = ContactSyncStateFactory(connection=connection, queued=True)
    ahead = timezone.now() - timedelta(minutes=5)
    for _ in range(9):
        ContactSyncStateFactory(connection=connection, queued=True, due_at=ahead)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SyncRunFactory(
        connection=connection,
        succeeded=100,
        duration_ms=20_000,
        started_at=an_hour_ago - timedelta(seconds=20),
        finished_at=an_hour_ago,
    )
    body = api_client.get(status_url(mine.contact_id)).json()["scripted"]
    assert body["estimated_processing"] == "Within 2 seconds"  # (9 + 1) / 5 per second


def test_the_estimate_waits_for_the_dispatchers_next_start_of_the_connection(api_client, connection):
    """Started 20 s ago with a 60 s push interval: nothing of this connection starts for 40 s,
    whatever the measured rate (the fixture's push_interval_seconds is 60)."""
    from django.core.cache import cache

    from crm_sync.dispatch_marks import dispatch_key

    mine = ContactSyncStateFactory(connection=connection, queued=True)
    SyncRunFactory(connection=connection, succeeded=100)  # 10 per second
    body = api_client.get(status_url(mine.contact_id)).json()["scripted"]
    assert body["estimated_processing"] == "Within 1 second"
    cache.set(dispatch_key(connection.pk), (timezone.now() - timedelta(seconds=20)).isoformat(), 60)
    text = api_client.get(status_url(mine.contact_id)).json()["scripted"]["estimated_processing"]
    seconds = int(text.removeprefix("Within ").removesuffix(" seconds"))
    assert 39 <= seconds <= 41, text  # the 40 s left of the interval, and 1 / 10 per second


def test_sync_status_of_a_paused_connection_says_so(api_client, connection):
    mine = ContactSyncStateFactory(connection=connection, queued=True)
    connection.circuit_state = "open"
    connection.circuit_reason = "Authentication failed: bad token"
    connection.save()
    body = api_client.get(status_url(mine.contact_id)).json()["scripted"]
    assert body["estimated_processing"].startswith("Paused: Authentication failed: bad token.")
    assert "resumed" in body["estimated_processing"]
    assert body["paused"]["reason"] == "circuit_open"


def test_sync_status_error_shows_per_crm_retry_fields(api_client, connection):
    state = ContactSyncStateFactory(connection=connection, errored=True)
    body = api_client.get(status_url(state.contact_id)).json()["scripted"]
    assert body["sync_status"] == "Error" and body["retry_count"] == 3
    assert body["error"].startswith("HubSpot API") and body["can_retry"] is False


def test_sync_status_debug_shows_the_last_exchange(api_client, connection):
    state = ContactSyncStateFactory(
        connection=connection,
        complete=True,
        last_request={"email": "a@b.c"},
        last_response={"status": "error"},
    )
    body = api_client.get(status_url(state.contact_id) + "?debug=1").json()["scripted"]
    assert body["last_request"] == {"email": "a@b.c"} and body["last_response"] == {"status": "error"}


def test_sync_status_unknown_and_foreign_contacts_are_404(api_client, other_org, connection):
    assert api_client.get(status_url(uuid.uuid4())).status_code == 404
    assert api_client.get(status_url(ContactFactory(organization=other_org).pk)).status_code == 404
    assert api_client.get(status_url("garbage")).status_code == 404


def test_sync_status_needs_read_scope_only(make_api_client, org, connection):
    contact = ContactFactory(organization=org)
    assert make_api_client(org, scopes=["read"]).get(status_url(contact.pk)).status_code == 200
    assert make_api_client(org, scopes=["write"]).get(status_url(contact.pk)).status_code == 403


# ---- 2.2 sync-stats -----------------------------------------------------------------------
def test_sync_stats_counts_by_status_in_the_seed_shape(api_client, connection):
    for _ in range(3):
        ContactSyncStateFactory(connection=connection, complete=True)
    ContactSyncStateFactory(
        connection=connection, complete=True, last_synced_at=timezone.now() - timedelta(days=3)
    )
    ContactSyncStateFactory(connection=connection, queued=True)
    ContactSyncStateFactory(connection=connection, stuck=True)
    ContactSyncStateFactory(connection=connection, errored=True)
    ContactSyncStateFactory(connection=connection, sync_status="Skipped", processing_status="Complete")
    response = api_client.get("/api/v1/contacts/sync-stats/?crm=scripted")
    assert response.status_code == 200
    assert response.json() == {
        "crm": "scripted",
        "total_contacts": 8,
        "synced": 4,
        "queued": 1,
        "processing": 1,
        "errors": 1,
        "skipped": 1,
        "success_rate": 0.5,
        "last_24h": {"synced": 3, "errors": 1},
        "queue_all_pending": 0,
        "paused": None,
    }


def test_sync_stats_is_one_aggregate_query(api_client, connection, django_assert_num_queries):
    for _ in range(5):
        ContactSyncStateFactory(connection=connection, complete=True)
    with django_assert_num_queries(4):  # auth (2), connection, one aggregate
        api_client.get("/api/v1/contacts/sync-stats/?crm=scripted")


def test_sync_stats_last_24h_counts_each_timestamp_only_for_its_status(api_client, connection):
    """A recent retry of a row now Complete is no error; a recent sync of a row now failed is no sync."""
    recent = timezone.now() - timedelta(hours=1)
    ContactSyncStateFactory(connection=connection, complete=True, last_retry_at=recent)
    ContactSyncStateFactory(connection=connection, errored=True, last_synced_at=recent)
    body = api_client.get("/api/v1/contacts/sync-stats/?crm=scripted").json()
    assert body["last_24h"] == {"synced": 1, "errors": 1}
    assert body["synced"] == 1 and body["errors"] == 1 and body["total_contacts"] == 2


@pytest.mark.requires_postgres
def test_sync_stats_query_can_be_answered_from_the_stats_index(connection):
    """Each part of the one statement reads only its index's columns: index-only scans of the stats
    index (counts by status), of the Complete rows' index (synced in 24 h) and of the errors index."""
    from django.db import connection as db_connection
    from django.test.utils import CaptureQueriesContext

    from crm_sync.selectors import sync_stats

    ContactSyncStateFactory(connection=connection, complete=True)
    with CaptureQueriesContext(db_connection) as captured:
        sync_stats(connection=connection)
    sql = captured.captured_queries[-1]["sql"]
    with db_connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("crm_sync_state_stats", "crm_sync_state_synced", "crm_sync_state_errors"):
        assert f"Index Only Scan using {index}" in plan, plan


def test_sync_stats_equals_a_count_row_by_row(connection):
    """Every figure of the UNION ALL statement equals a count of the rows themselves, the 24-hour
    window's edges included."""
    from datetime import timedelta

    from django.utils import timezone

    from crm_sync.models import ContactSyncState
    from crm_sync.selectors import sync_stats

    now = timezone.now()
    recent, old = now - timedelta(hours=1), now - timedelta(hours=25)
    for when in (recent, recent, old):
        ContactSyncStateFactory(connection=connection, complete=True, last_synced_at=when)
    for when in (recent, old):
        ContactSyncStateFactory(connection=connection, errored=True, last_retry_at=when)
    ContactSyncStateFactory(connection=connection, queued=True, last_synced_at=recent)  # not Complete
    ContactSyncStateFactory(connection=connection, stuck=True)
    ContactSyncStateFactory(connection=connection)
    ContactSyncStateFactory(errored=True, last_retry_at=recent)  # another connection
    stats = sync_stats(connection=connection, now=now)
    rows = list(ContactSyncState.objects.filter(connection=connection))
    since = now - timedelta(hours=24)

    def status(*names):
        return sum(1 for r in rows if r.sync_status in names)

    assert stats["total_contacts"] == len(rows) == 8
    assert (stats["synced"], stats["errors"], stats["processing"]) == (status("Complete"), status("Error"), 1)
    assert stats["queued"] == status("Queued", "Selected") == 2
    assert stats["last_24h"] == {
        "synced": sum(1 for r in rows if r.sync_status == "Complete" and r.last_synced_at >= since),
        "errors": sum(1 for r in rows if r.sync_status == "Error" and r.last_retry_at >= since),
    }
    assert stats["last_24h"] == {"synced": 2, "errors": 1}


def test_sync_stats_empty_has_zero_rate(api_client, connection):
    body = api_client.get("/api/v1/contacts/sync-stats/?crm=scripted").json()
    assert body["total_contacts"] == 0 and body["success_rate"] == 0.0


def test_sync_stats_needs_a_known_crm(api_client, connection):
    response = api_client.get("/api/v1/contacts/sync-stats/?crm=nope")
    assert response.status_code == 400 and response.json()["code"] == "unknown_crm"


def test_sync_stats_crm_without_a_connection_is_409(api_client, org, scripted):
    assert api_client.get("/api/v1/contacts/sync-stats/?crm=scripted").status_code == 409


def test_sync_stats_counts_only_the_callers_organization(api_client, other_org, connection):
    foreign = CrmConnectionFactory(organization=other_org, kind="scripted")
    ContactSyncStateFactory(connection=foreign, complete=True)
    assert api_client.get("/api/v1/contacts/sync-stats/?crm=scripted").json()["total_contacts"] == 0


# ---- 2.3 sync-failures --------------------------------------------------------------------
def test_sync_failures_lists_errors_newest_first_with_can_retry(api_client, connection):
    old = ContactSyncStateFactory(
        connection=connection, errored=True, last_retry_at=timezone.now() - timedelta(hours=1)
    )
    scheduled = ContactSyncStateFactory(
        connection=connection,
        errored=True,
        processing_status="Queued",
        retry_count=1,
        error_category="unavailable",
    )
    ContactSyncStateFactory(connection=connection, complete=True)
    body = api_client.get("/api/v1/contacts/sync-failures/?crm=scripted").json()
    assert body["crm"] == "scripted" and body["total"] == 2
    first, second = body["failures"]
    assert first["contact_id"] == str(scheduled.contact_id) and first["can_retry"] is True
    assert second["contact_id"] == str(old.contact_id) and second["can_retry"] is False
    assert set(first) >= {
        "contact_id",
        "email",
        "error",
        "error_category",
        "retry_count",
        "last_retry_at",
        "can_retry",
    }


def test_sync_failures_paginates(api_client, connection):
    for _ in range(5):
        ContactSyncStateFactory(connection=connection, errored=True)
    body = api_client.get("/api/v1/contacts/sync-failures/?crm=scripted&limit=2&offset=2").json()
    assert body["total"] == 5 and len(body["failures"]) == 2 and body["next"] and body["previous"]


@pytest.mark.parametrize("rows", [3, 30])
def test_sync_failures_query_count_is_constant(api_client, connection, django_assert_num_queries, rows):
    for _ in range(rows):
        ContactSyncStateFactory(connection=connection, errored=True)
    with django_assert_num_queries(5):  # auth (2), connection, count, page (with contacts joined)
        body = api_client.get("/api/v1/contacts/sync-failures/?crm=scripted&limit=50").json()
    assert len(body["failures"]) == rows


def test_sync_failures_bad_input(api_client, connection):
    assert api_client.get("/api/v1/contacts/sync-failures/").status_code == 400
    assert api_client.get("/api/v1/contacts/sync-failures/?crm=zoho").status_code == 400


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (0, "Within 1 second"),
        (0.4, "Within 1 second"),
        (1.2, "Within 2 seconds"),
        (59, "Within 59 seconds"),
        (60, "Within 1 minute"),
        (61, "Within 2 minutes"),
        (119 * 60, "Within 119 minutes"),
        (120 * 60, "Within 2 hours"),
    ],
)
def test_the_estimate_reads_as_a_phrase(seconds, phrase):
    assert seconds_phrase(seconds) == phrase


# ---- the answers tell the truth ------------------------------------------------------------
def test_sync_stats_without_crm_answers_every_crm_of_the_organization(api_client, org, other_org, connection):
    # given: the scripted connection with one synced contact, a disabled HubSpot, another org's Brevo
    ContactSyncStateFactory(connection=connection, complete=True)
    CrmConnectionFactory(organization=org, kind="hubspot", enabled=False)
    CrmConnectionFactory(organization=other_org, kind="brevo")
    # when
    response = api_client.get("/api/v1/contacts/sync-stats/")
    # then: the per-CRM answer of each, by kind, and nothing of the other organization
    assert response.status_code == 200, response.json()
    crms = response.json()["crms"]
    assert sorted(crms) == ["hubspot", "scripted"]
    assert crms["scripted"] == api_client.get("/api/v1/contacts/sync-stats/?crm=scripted").json()
    assert crms["scripted"]["synced"] == 1 and crms["hubspot"]["total_contacts"] == 0


def test_sync_stats_without_crm_of_an_organization_without_connections_is_empty(api_client, org):
    assert api_client.get("/api/v1/contacts/sync-stats").json() == {"crms": {}}


def test_queueing_on_a_paused_connection_says_paused_and_why_never_a_time(api_client, org, connection):
    # given: a fast measured rate, then the CRM refused the credentials
    SyncRunFactory(connection=connection, succeeded=600)
    connection.circuit_state = "open"
    connection.circuit_reason = "Authentication failed: bad token"
    connection.save()
    contact = ContactFactory(organization=org)
    # when
    one = api_client.post(f"/api/v1/contacts/{contact.pk}/queue-sync/", {"crm": "scripted"}, format="json")
    every = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "scripted"}, format="json")
    # then
    assert one.status_code == 200, one.json()
    body = one.json()
    assert body["estimated_processing_time"].startswith("Paused: Authentication failed: bad token.")
    assert "Within" not in body["estimated_processing_time"]
    assert body["estimated_processing_at"] is None
    assert body["paused"]["reason"] == "circuit_open" and body["paused"]["until"] is None
    assert every.json()["estimated_completion"] is None
    assert every.json()["estimate"].startswith("Paused: Authentication failed")


def test_queue_all_estimates_completion_from_the_measured_rate(api_client, org, connection):
    # given: 600 contacts pushed over the last minute (10/s), 50 to queue
    now = timezone.now()
    SyncRunFactory(
        connection=connection, succeeded=600, started_at=now - timedelta(seconds=60), finished_at=now
    )
    for _ in range(50):
        ContactFactory(organization=org)
    # when
    body = api_client.post("/api/v1/contacts/queue-all-sync/", {"crm": "scripted"}, format="json").json()
    # then: 50 / 10 per second
    assert body["queued_count"] == 50 and body["estimate"] == "Within 5 seconds"
    assert body["estimated_completion"] is not None and body["paused"] is None
