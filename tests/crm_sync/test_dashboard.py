"""The admin dashboard: per-connection numbers, plain-word states, activity charts, failure groups."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from crm_sync.dashboard import activity_series, connection_panels, connection_state, failure_groups
from crm_sync.models import ContactSyncState, SyncRun, SyncStatus
from integrations.models import CrmConnection
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.factories import MembershipFactory, UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def _populate(connection):
    for _ in range(3):
        ContactSyncStateFactory(connection=connection, complete=True)
    ContactSyncStateFactory(connection=connection, errored=True)
    ContactSyncStateFactory(connection=connection, queued=True)
    ContactSyncStateFactory(connection=connection, queued=True)


def test_panel_counts_rate_queue_and_drain_time(connection):
    _populate(connection)
    now = timezone.now()
    SyncRunFactory(
        connection=connection, succeeded=20, started_at=now - timedelta(seconds=10), finished_at=now
    )
    SyncRunFactory(connection=connection, direction=SyncRun.Direction.PULL, fetched=5, object_type="contacts")
    (panel,) = connection_panels(connections=[connection], now=now)
    assert panel.counts == {SyncStatus.COMPLETE: 3, SyncStatus.ERROR: 1, SyncStatus.QUEUED: 2}
    assert panel.total == 6 and panel.queue_depth == 2
    assert panel.success_rate == pytest.approx(0.75)
    assert panel.throughput == pytest.approx(2.0)  # 20 contacts in 10 s
    assert panel.drain_seconds == pytest.approx(1.0)
    assert panel.last_push is not None and panel.last_pull is not None
    assert panel.state["text"] == "Healthy"


def test_drain_time_is_unknown_without_recent_pushes(connection):
    ContactSyncStateFactory(connection=connection, queued=True)
    old = timezone.now() - timedelta(hours=2)
    SyncRunFactory(connection=connection, succeeded=50, started_at=old, finished_at=old)
    (panel,) = connection_panels(connections=[connection])
    assert panel.throughput is None and panel.drain_seconds is None
    assert panel.success_rate is None  # nothing finished: no rate rather than 0 %


def test_panels_take_one_query_each_whatever_the_connections(org, scripted, django_assert_num_queries):
    connections = [CrmConnectionFactory(organization=org, kind="scripted", name=f"c{i}") for i in range(3)]
    for connection in connections:
        _populate(connection)
    connection_panels(connections=connections)  # counts, and stores the snapshots
    # then: the snapshots and the runs, whatever the number of connections and contacts
    with django_assert_num_queries(2):
        connection_panels(connections=connections)


def test_panels_read_a_fresh_snapshot_and_count_again_when_it_is_old(connection, settings):
    from crm_sync.models import ConnectionStatusSnapshot

    settings.DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS = 180
    ContactSyncStateFactory(connection=connection, complete=True)
    now = timezone.now()
    (panel,) = connection_panels(connections=[connection], now=now)
    assert panel.counts == {SyncStatus.COMPLETE: 1} and panel.counted_at == now
    ContactSyncStateFactory(connection=connection, queued=True)
    (panel,) = connection_panels(connections=[connection], now=now + timedelta(seconds=60))
    assert panel.counts == {SyncStatus.COMPLETE: 1}  # the snapshot, as the page says ("counted … ago")
    ConnectionStatusSnapshot.objects.filter(connection=connection).update(
        computed_at=now - timedelta(minutes=5)
    )
    (panel,) = connection_panels(connections=[connection], now=now)
    assert panel.counts == {SyncStatus.COMPLETE: 1, SyncStatus.QUEUED: 1} and panel.queue_depth == 1


def test_the_snapshot_task_counts_every_connection(connection):
    from crm_sync.models import ConnectionStatusSnapshot
    from crm_sync.tasks import dashboard_snapshot_refresh

    ContactSyncStateFactory(connection=connection, errored=True)
    assert dashboard_snapshot_refresh() == 1
    snapshot = ConnectionStatusSnapshot.objects.get(connection=connection)
    assert snapshot.counts == {SyncStatus.ERROR: 1} and snapshot.queue_depth == 0


def test_failure_groups_are_made_of_the_latest_failures(connection):
    now = timezone.now()
    for minutes in (1, 2):
        ContactSyncStateFactory(
            connection=connection, errored=True, error="new", last_retry_at=now - timedelta(minutes=minutes)
        )
    ContactSyncStateFactory(
        connection=connection, errored=True, error="old", last_retry_at=now - timedelta(days=1)
    )
    groups = failure_groups(connections=[connection], window=2)
    assert [(g["message"], g["count"]) for g in groups] == [("new", 2)]


def test_state_in_plain_words(connection):
    now = timezone.now()
    assert connection_state(connection=connection, now=now)["text"] == "Healthy"
    connection.circuit_state = CrmConnection.CircuitState.OPEN
    connection.circuit_reason = "Authentication failed: bad token"
    connection.circuit_opened_at = now
    state = connection_state(connection=connection, now=now)
    assert state["text"].startswith("Paused: authentication failed at ")
    assert state["action"] == "fix the credentials, then Resume"
    assert "circuit" not in state["text"].lower()
    connection.circuit_state = CrmConnection.CircuitState.CLOSED
    connection.quota_exhausted_until = now + timedelta(hours=3)
    assert connection_state(connection=connection, now=now)["text"].startswith("Daily quota spent until ")
    connection.quota_exhausted_until = None
    connection.enabled = False
    assert connection_state(connection=connection, now=now)["text"] == "Disabled"


def test_rate_limited_state_names_the_end_of_the_pause(connection):
    from integrations.ratelimit import default_backend, limiter_for

    default_backend().block(limiter_for(connection).key, 120)
    try:
        state = connection_state(connection=connection, now=timezone.now())
    finally:
        default_backend().reset()
    assert state["level"] == "warning" and state["text"].startswith("Rate limited until ")


def test_activity_series_buckets_runs_by_hour_and_direction(connection):
    # Half past the hour: "a minute ago" stays in the current hour's bucket whenever the test runs.
    now = timezone.now().replace(minute=30)
    SyncRunFactory(connection=connection, succeeded=7, failed=2, started_at=now - timedelta(minutes=1))
    SyncRunFactory(
        connection=connection,
        direction=SyncRun.Direction.PULL,
        object_type="contacts",
        fetched=4,
        error_count=1,
        started_at=now - timedelta(hours=3),
    )
    SyncRunFactory(connection=connection, succeeded=100, started_at=now - timedelta(days=3))
    hourly = activity_series(connections=[connection], now=now)
    assert len(hourly) == 24
    assert sum(p["pushed"] for p in hourly) == 7
    assert sum(p["pulled"] for p in hourly) == 4
    assert sum(p["failed"] for p in hourly) == 3
    assert hourly[-1]["pushed"] == 7
    daily = activity_series(connections=[connection], now=now, days=True)
    assert len(daily) == 30 and sum(p["pushed"] for p in daily) == 107


def test_failure_groups_group_by_crm_category_and_message(connection):
    for _ in range(3):
        ContactSyncStateFactory(connection=connection, errored=True, error="Property email invalid")
    ContactSyncStateFactory(connection=connection, errored=True, error="Other", error_category="conflict")
    groups = failure_groups(connections=[connection])
    assert [(g["category"], g["message"], g["count"]) for g in groups] == [
        ("validation", "Property email invalid", 3),
        ("conflict", "Other", 1),
    ]


def test_dashboard_page_shows_numbers_and_svg(superuser_client, connection, org, scripted):
    _populate(connection)
    other = CrmConnectionFactory(organization=org, kind="scripted", name="second")
    ContactSyncStateFactory(connection=other, errored=True, error="second failure")
    page = superuser_client.get(DASHBOARD).content.decode()
    assert "<svg" in page and "Healthy" in page
    assert re.search(r'class="total">6<', page)
    assert "75.0%" in page
    assert "Retry this group" in page and "second failure" in page
    # Nothing loaded from another host (a CDN): no script, style sheet or image from an absolute
    # URL. (Not a search for "cdn": the page's random CSRF token can spell it.)
    assert not re.search(r'<(script|link|img)\b[^>]*\b(src|href)="(https?:)?//', page)


def test_dashboard_is_scoped_to_the_users_organizations(org, other_org, scripted):
    mine = CrmConnectionFactory(organization=org, kind="scripted", name="mine")
    theirs = CrmConnectionFactory(organization=other_org, kind="scripted", name="theirs")
    ContactSyncStateFactory(connection=theirs, errored=True, error="their secret failure")
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=org)
    client = Client()
    client.force_login(user)
    page = client.get(DASHBOARD).content.decode()
    assert f'data-connection="{mine.pk}"' in page
    assert f'data-connection="{theirs.pk}"' not in page and "their secret failure" not in page
    response = client.post(
        DASHBOARD + "retry-group/",
        {"connection": theirs.pk, "category": "validation", "message": "their secret failure"},
    )
    assert response.status_code == 404
    assert ContactSyncState.objects.get(connection=theirs).sync_status == SyncStatus.ERROR


def test_dashboard_is_staff_only(connection):
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    assert client.get(DASHBOARD).status_code == 302  # to the admin login


def test_retry_this_group_requeues_only_that_group(superuser_client, connection):
    group = [ContactSyncStateFactory(connection=connection, errored=True, error="boom") for _ in range(2)]
    other = ContactSyncStateFactory(connection=connection, errored=True, error="different")
    response = superuser_client.post(
        DASHBOARD + "retry-group/", {"connection": connection.pk, "category": "validation", "message": "boom"}
    )
    assert response.status_code == 302
    for state in group:
        state.refresh_from_db()
        assert state.sync_status == SyncStatus.QUEUED and state.retry_count == 0
    other.refresh_from_db()
    assert other.sync_status == SyncStatus.ERROR
    page = superuser_client.get(response["Location"]).content.decode()
    assert "2 contacts queued again" in page


def test_retrying_an_empty_group_is_a_warning_with_the_reason(superuser_client, connection):
    response = superuser_client.post(
        DASHBOARD + "retry-group/",
        {"connection": connection.pk, "category": "validation", "message": "gone"},
        follow=True,
    )
    page = response.content.decode()
    assert "0 contacts queued" in page and "none of this group is still in error" in page
    assert 'class="warning"' in page


def test_landing_page_links_admin_docs_and_health(client):
    page = client.get("/").content.decode()
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/healthz"', 'href="/admin/dashboard/"'):
        assert link in page
