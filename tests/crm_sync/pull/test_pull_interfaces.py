"""What starts and shows pulls: the dispatcher and its schedule, the task, manage.py pull, the admin,
and GET /api/v1/sync-runs/."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_celery_beat.models import PeriodicTask

from crm_sync import tasks
from crm_sync.models import PullCursor, RemoteRecord, SyncRun
from crm_sync.schedules import schedules_seed
from crm_sync.services.pull_dispatch import pulls_dispatch_due
from tests.crm_sync.factories import SyncRunFactory
from tests.factories import UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person(n: int) -> dict:
    return {
        "id": str(n),
        "updated_at": T0 + timedelta(minutes=n),
        "email": f"p{n}@example.com",
        "firstname": "F",
    }


# -- dispatcher and task -------------------------------------------------------------------


def test_the_dispatcher_starts_each_object_type_once_per_interval(connection):
    queued = []
    assert pulls_dispatch_due(enqueue=lambda c, t: queued.append((c, t))) == {
        connection.pk: ["contacts", "deals"]
    }
    assert queued == [(connection.pk, "contacts"), (connection.pk, "deals")]
    # a pull that started a moment ago is not due again until its interval has passed
    SyncRunFactory(
        connection=connection, direction="pull", object_type="contacts", started_at=datetime.now(tz=UTC)
    )
    later = datetime.now(tz=UTC) + timedelta(seconds=connection.pull_interval_seconds / 2)
    queued.clear()
    from django.core.cache import cache

    cache.clear()
    pulls_dispatch_due(now=later, enqueue=lambda c, t: queued.append((c, t)))
    assert queued == [(connection.pk, "deals")]


@pytest.mark.parametrize(
    "change",
    [
        {"enabled": False},
        {"circuit_state": "open"},
        {"sync_direction": "push"},
        {"pull_interval_seconds": 0},
    ],
)
def test_the_dispatcher_skips_disabled_paused_push_only_and_unscheduled_connections(connection, change):
    for name, value in change.items():
        setattr(connection, name, value)
    connection.save()
    queued = []
    assert pulls_dispatch_due(enqueue=lambda c, t: queued.append((c, t))) == {}
    assert queued == []


def test_the_dispatcher_skips_a_source_running_or_just_rate_limited(connection):
    now = datetime.now(tz=UTC)
    SyncRunFactory(
        connection=connection, direction="pull", object_type="contacts", outcome="running",
        started_at=now - timedelta(hours=1), finished_at=None,
    )  # fmt: skip
    SyncRunFactory(
        connection=connection, direction="pull", object_type="deals", outcome="rate_limited",
        started_at=now - timedelta(hours=1), finished_at=now,
    )  # fmt: skip
    queued = []
    pulls_dispatch_due(enqueue=lambda c, t: queued.append((c, t)))
    assert queued == []


def test_the_dispatcher_skips_a_connection_out_of_daily_quota(connection):
    connection.settings = {"daily_quota": 1}
    connection.save()
    from integrations.ratelimit import daily_quota_for

    daily_quota_for(connection, default_limit=None).consume()
    queued = []
    pulls_dispatch_due(enqueue=lambda c, t: queued.append((c, t)))
    assert queued == []


def test_the_pull_dispatch_schedule_is_seeded_on_the_pull_queue_and_not_overwritten():
    task = PeriodicTask.objects.get(name="crm_sync: dispatch due pulls")
    assert task.task == "crm_sync.pull_dispatch_due" and task.queue == "pull"
    assert task.interval.every == 30
    task.enabled = False
    task.save()
    schedules_seed()
    assert PeriodicTask.objects.get(name="crm_sync: dispatch due pulls").enabled is False


def test_the_task_pulls_and_hands_the_rest_to_a_new_task_when_its_time_is_up(
    connection, paged, settings, monkeypatch
):
    paged.records["contacts"] = [person(n) for n in range(1, 10)]
    settings.SYNC_PULL_TASK_MAX_SECONDS = 0.000001  # one page, then hand over
    handed = []
    monkeypatch.setattr(tasks.pull_object_type, "apply_async", lambda kwargs: handed.append(kwargs))
    run_id = tasks.pull_object_type.run(connection_id=connection.pk, object_type="contacts")
    run = SyncRun.objects.get(pk=run_id)
    assert run.pages == 1 and run.outcome == "partial"
    assert handed == [{"connection_id": connection.pk, "object_type": "contacts"}]
    assert PullCursor.objects.get(connection=connection).cursor == "3"


def test_the_task_returns_quietly_when_the_source_is_already_running_or_gone(connection):
    SyncRunFactory(
        connection=connection, direction="pull", object_type="contacts", outcome="running",
        started_at=datetime.now(tz=UTC), finished_at=None, heartbeat_at=datetime.now(tz=UTC),
    )  # fmt: skip
    assert tasks.pull_object_type.run(connection_id=connection.pk, object_type="contacts") is None
    assert tasks.pull_object_type.run(connection_id=999999, object_type="contacts") is None


def test_pull_tasks_are_routed_to_the_pull_queue(settings):
    from config.celery import app

    for name in ("crm_sync.pull_object_type", "crm_sync.pull_dispatch_due"):
        assert app.amqp.router.route({}, name)["queue"].name == "pull"


# -- manage.py pull ------------------------------------------------------------------------


def test_the_command_pulls_one_connection_with_progress_and_exit_code_0(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 6)]
    out, err = io.StringIO(), io.StringIO()
    call_command("pull", connection=connection.pk, object_type="contacts", stdout=out, stderr=err)
    text = out.getvalue()
    assert "page 1, 3 fetched" in text and "page 2, 5 fetched" in text
    assert "success" in text and "5 created" in text


def test_the_command_backfills_every_connection(connection, paged, org):
    paged.records["contacts"] = [person(1)]
    paged.records["deals"] = [{"id": "d1", "updated_at": T0, "name": "Deal"}]
    call_command("pull", "--all", "--backfill", stdout=io.StringIO(), stderr=io.StringIO())
    assert set(SyncRun.objects.filter(direction="pull").values_list("object_type", "backfill")) == {
        ("contacts", True),
        ("deals", True),
    }
    assert RemoteRecord.objects.filter(object_type="deals").count() == 1


def test_the_command_reports_failures_with_exit_code_1(connection, paged):
    from integrations.errors import CrmValidationError

    paged.fail_before_page = {1: CrmValidationError("bad cursor", crm="paged")}
    with pytest.raises(CommandError) as caught:
        call_command("pull", connection=connection.pk, stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 1


@pytest.mark.parametrize(
    ("args", "options"),
    [((), {"connection": 999999}), ((), {"connection": None, "object_type": "projects"})],
)
def test_the_command_refuses_bad_usage_with_exit_code_2(connection, args, options):
    if options.get("connection") is None:
        options["connection"] = connection.pk
    with pytest.raises(CommandError) as caught:
        call_command("pull", *args, **options, stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 2


def test_the_command_needs_a_connection_or_all():
    with pytest.raises(CommandError):
        call_command("pull", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_skips_push_only_connections_with_all(connection, paged):
    connection.sync_direction = "push"
    connection.save()
    out = io.StringIO()
    call_command("pull", "--all", stdout=out, stderr=io.StringIO())
    assert "Nothing to pull." in out.getvalue() and not SyncRun.objects.exists()


# -- admin ---------------------------------------------------------------------------------


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_runs_records_and_cursors_are_read_only_in_the_admin(staff_client, connection, paged):
    paged.records["contacts"] = [person(1)]
    from crm_sync.services.pull import pull_run

    run = pull_run(connection_id=connection.pk, object_type="contacts")
    record = RemoteRecord.objects.get()
    for url in (
        "/admin/crm_sync/syncrun/?direction=pull",
        f"/admin/crm_sync/syncrun/{run.pk}/change/",
        "/admin/crm_sync/remoterecord/",
        f"/admin/crm_sync/remoterecord/{record.pk}/change/",
        "/admin/crm_sync/pullcursor/",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
    page = staff_client.get(f"/admin/crm_sync/remoterecord/{record.pk}/change/").content.decode()
    assert "As the CRM sent it" in page and "p1@example.com" in page
    assert staff_client.get("/admin/crm_sync/remoterecord/add/").status_code == 403


def test_the_admin_pull_now_action_queues_each_object_type(staff_client, connection, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.pull_object_type, "delay", lambda **kwargs: queued.append(kwargs))
    response = staff_client.post(
        "/admin/integrations/crmconnection/",
        {"action": "pull_now", "_selected_action": [connection.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert queued == [
        {"connection_id": connection.pk, "object_type": "contacts"},
        {"connection_id": connection.pk, "object_type": "deals"},
    ]


# -- API -----------------------------------------------------------------------------------

URL = "/api/v1/sync-runs/"


def test_the_api_lists_runs_with_filters(api_client, connection):
    pull = SyncRunFactory(connection=connection, direction="pull", object_type="contacts", fetched=7)
    SyncRunFactory(connection=connection, direction="push", succeeded=3)
    body = api_client.get(URL, {"direction": "pull", "connection": connection.pk}).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == pull.pk and row["fetched"] == 7 and row["object_type"] == "contacts"
    assert row["crm"] == "paged" and "credentials" not in row
    assert api_client.get(f"{URL}{pull.pk}/").json()["id"] == pull.pk


def test_the_api_hides_other_organizations_runs(api_client, other_org, paged):
    theirs = SyncRunFactory(connection=CrmConnectionFactory(organization=other_org, kind="paged"))
    assert api_client.get(URL).json()["count"] == 0
    response = api_client.get(f"{URL}{theirs.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "sync_run_not_found"


def test_a_bad_filter_is_a_400_with_the_error_body(api_client, connection):
    response = api_client.get(URL, {"direction": "sideways"})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "code", "details"} and "direction" in response.json()["details"]


def test_listing_runs_needs_the_read_scope(make_api_client, org, connection):
    response = make_api_client(org, scopes=["write"]).get(URL)
    assert response.status_code == 403


@pytest.mark.parametrize("rows", [3, 30])
def test_the_list_query_count_does_not_grow_with_rows(
    api_client, connection, rows, django_assert_num_queries
):
    SyncRunFactory.create_batch(rows, connection=connection, direction="pull", object_type="contacts")
    # 1 key lookup, 1 key usage update, 1 count, 1 page of runs with their connections
    with django_assert_num_queries(4):
        response = api_client.get(URL, {"limit": 100})
    assert response.status_code == 200 and response.json()["count"] == rows
