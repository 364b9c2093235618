"""The CRM data API's endpoints other than search: success and failure paths, query counts."""

from datetime import UTC, datetime

import pytest

from accounts.models import AuditEvent
from contacts.models import Contact
from crm_sync.models import PullCursor, RemoteRecord, SyncRun
from crm_sync.services.pull import pull_run, pull_runs_reserve
from tests.crm_sync.pull.paged import PagedConnector

BASE = "/api/v1/integrations"


def _run(connection, object_type="contacts", outcome=SyncRun.Outcome.SUCCESS, errors=(), minute=0):
    moment = datetime(2026, 1, 20, 9, minute, tzinfo=UTC)
    return SyncRun.objects.create(
        connection=connection, direction=SyncRun.Direction.PULL, object_type=object_type, outcome=outcome,
        started_at=moment, finished_at=None if outcome == SyncRun.Outcome.RUNNING else moment,
        heartbeat_at=moment, errors=list(errors),
    )  # fmt: skip


# -- cached-data ---------------------------------------------------------------------------


def test_cached_data_has_the_seed_shape_for_every_source(api_client, dataset, brivity):
    _run(brivity, minute=5)
    response = api_client.get(f"{BASE}/cached-data")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["timestamp"]
    assert list(body["data"]) == ["local", "brivity", "hubspot"]
    local, briv = body["data"]["local"], body["data"]["brivity"]
    assert local["contactCount"] == 4 and local["deals"] == [] and local["syncStatus"] == "idle"
    assert {row["email"] for row in local["contacts"]} >= {"john.smith@example.com"}
    assert [row["remote_id"] for row in briv["contacts"]] == ["b3", "b2", "b1"]  # newest first
    assert [row["remote_id"] for row in briv["deals"]] == ["d2", "d1"]
    assert briv["lastSync"] == "2026-01-20T09:05:00Z" and briv["syncStatus"] == "idle"
    assert (briv["contactCount"], briv["dealCount"]) == (3, 2)


def test_cached_data_pages_each_source(api_client, dataset):
    body = api_client.get(f"{BASE}/cached-data", {"source": "brivity", "limit": 1, "offset": 1}).json()
    assert list(body["data"]) == ["brivity"]
    brivity = body["data"]["brivity"]
    assert [r["remote_id"] for r in brivity["contacts"]] == ["b2"] and [
        r["remote_id"] for r in brivity["deals"]
    ] == ["d1"]
    assert (brivity["limit"], brivity["offset"], brivity["contactCount"]) == (1, 1, 3)


def test_cached_data_query_count_is_constant(api_client, dataset, django_assert_num_queries):
    api_client.get(f"{BASE}/cached-data")
    # key usage (the key's row is cached), sources, local count, record counts, run times,
    # running runs, then pages: local contacts, and contacts + deals per connection
    with django_assert_num_queries(11):
        assert api_client.get(f"{BASE}/cached-data").status_code == 200


@pytest.mark.parametrize(
    ("source", "status", "code"),
    [
        ("nowhere", 400, "invalid_source"),
        ("topproducer", 404, "source_not_found"),
        ("999999", 404, "source_not_found"),
    ],
)
def test_cached_data_refuses_unknown_sources(api_client, dataset, source, status, code):
    response = api_client.get(f"{BASE}/cached-data", {"source": source})
    assert response.status_code == status and response.json()["code"] == code


def test_a_kind_with_two_connections_is_named_by_kind_and_id(api_client, dataset, org):
    from tests.integrations.factories import CrmConnectionFactory

    second = CrmConnectionFactory(organization=org, kind="brivity", base_url="https://api.brivity.com/v2")
    response = api_client.get(f"{BASE}/cached-data", {"source": "brivity"})
    assert response.status_code == 400 and response.json()["code"] == "ambiguous_source"
    body = api_client.get(f"{BASE}/cached-data", {"source": f"brivity-{second.pk}"}).json()
    assert list(body["data"]) == [f"brivity-{second.pk}"]


def test_reads_need_a_key(anon_client, dataset):
    assert anon_client.get(f"{BASE}/cached-data").status_code in (401, 403)


# -- sync-status ---------------------------------------------------------------------------


def test_sync_status_says_idle_syncing_and_error(api_client, dataset, brivity, hubspot):
    _run(brivity, minute=1)
    running = _run(brivity, object_type="deals", outcome=SyncRun.Outcome.RUNNING)
    SyncRun.objects.filter(pk=running.pk).update(heartbeat_at=datetime.now(UTC))
    _run(hubspot, minute=1)
    _run(hubspot, object_type="deals", outcome=SyncRun.Outcome.FAILED, minute=2,
         errors=[{"code": "auth", "message": "HubSpot refused the token"}])  # fmt: skip
    status = api_client.get(f"{BASE}/sync-status").json()["status"]
    assert status["local"]["status"] == "idle" and status["local"]["contactCount"] == 4
    assert status["brivity"]["status"] == "syncing" and status["brivity"]["runningRuns"] == [running.pk]
    assert status["brivity"]["lastSync"] == "2026-01-20T09:01:00Z"
    assert (
        status["hubspot"]["status"] == "error"
        and status["hubspot"]["lastError"] == "HubSpot refused the token"
    )
    assert (status["hubspot"]["contactCount"], status["hubspot"]["dealCount"]) == (1, 1)


def test_sync_status_query_count_is_constant(api_client, dataset, brivity, django_assert_num_queries):
    _run(brivity, outcome=SyncRun.Outcome.FAILED, errors=[{"message": "down"}])
    api_client.get(f"{BASE}/sync-status")
    with django_assert_num_queries(7):  # the key's row is cached after the first request
        assert api_client.get(f"{BASE}/sync-status").status_code == 200


# -- sync-all, sync/{source} ---------------------------------------------------------------


def test_sync_source_starts_runs_that_the_task_adopts(
    api_client, paged, queued, django_capture_on_commit_callbacks
):
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    PagedConnector.records["contacts"] = [
        {"id": 1, "email": "a@x.io", "firstname": "Ada", "updated_at": moment}
    ]
    PagedConnector.records["deals"] = [{"id": 9, "name": "Big deal", "updated_at": moment}]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{BASE}/sync/paged")
    assert response.status_code == 202, response.content
    runs = response.json()["runs"]
    assert [r["object_type"] for r in runs] == ["contacts", "deals"]
    assert queued == [(paged.pk, "contacts", runs[0]["id"]), (paged.pk, "deals", runs[1]["id"])]
    assert SyncRun.objects.get(pk=runs[0]["id"]).outcome == SyncRun.Outcome.RUNNING
    assert AuditEvent.objects.filter(action="crm_data.sync_started", object_id=str(paged.pk)).exists()

    again = api_client.post(f"{BASE}/sync/{paged.pk}")
    assert again.status_code == 409
    assert again.json()["code"] == "pull_running" and again.json()["details"]["run"] == runs[0]["id"]

    for _, object_type, run_id in queued:
        run = pull_run(connection_id=paged.pk, object_type=object_type, run_id=run_id)
        assert (run.pk, run.outcome, run.fetched) == (run_id, SyncRun.Outcome.SUCCESS, 1), run.errors
    assert RemoteRecord.objects.filter(connection=paged).count() == 2
    assert api_client.post(f"{BASE}/sync/paged").status_code == 202  # finished: free again


def test_a_reserved_run_whose_connection_was_disabled_is_closed(paged):
    (run, _) = pull_runs_reserve(connection=paged, object_types=("contacts", "deals"))
    paged.enabled = False
    paged.save()
    with pytest.raises(Exception, match="disabled"):
        pull_run(connection_id=paged.pk, object_type="contacts", run_id=run.pk)
    run.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.FAILED and run.errors[0]["code"] == "crm_not_enabled"


@pytest.mark.parametrize(
    ("source", "status", "code"),
    [
        ("local", 400, "source_not_pullable"),
        ("nowhere", 400, "invalid_source"),
        ("hubspot", 404, "source_not_found"),
    ],
)
def test_sync_source_refuses(api_client, paged, source, status, code):
    response = api_client.post(f"{BASE}/sync/{source}")
    assert response.status_code == status and response.json()["code"] == code
    assert not SyncRun.objects.exists()


def test_sync_of_a_disabled_source_is_a_409(api_client, paged):
    paged.enabled = False
    paged.save()
    response = api_client.post(f"{BASE}/sync/paged")
    assert response.status_code == 409 and response.json()["code"] == "crm_not_enabled"


def test_sync_of_another_organizations_connection_is_a_404(api_client, dataset):
    response = api_client.post(f"{BASE}/sync/{dataset['other_connection'].pk}")
    assert response.status_code == 404
    assert not SyncRun.objects.exists()


def test_sync_needs_the_sync_scope(make_api_client, org, paged):
    client = make_api_client(org, scopes=["read"])
    assert client.post(f"{BASE}/sync/paged").status_code == 403
    assert client.post(f"{BASE}/sync-all").status_code == 403
    assert client.post(f"{BASE}/cache/clear", {}, format="json").status_code == 403


def test_sync_all_starts_every_source_and_reports_the_others(
    api_client, paged, dataset, brivity, hubspot, queued
):
    hubspot.enabled = False
    hubspot.save()
    busy = _run(brivity, outcome=SyncRun.Outcome.RUNNING)
    SyncRun.objects.filter(pk=busy.pk).update(heartbeat_at=datetime.now(UTC))
    response = api_client.post(f"{BASE}/sync-all")
    assert response.status_code == 202
    body = response.json()
    sources = body["sources"]
    assert sources["paged"]["status"] == "started" and len(sources["paged"]["runs"]) == 2
    assert sources["brivity"]["status"] == "running" and sources["brivity"]["running"] == [busy.pk]
    assert sources["hubspot"] == {"status": "skipped", "runs": [], "code": "crm_not_enabled",
                                  "message": sources["hubspot"]["message"]}  # fmt: skip
    assert body["runs"] == [r["id"] for r in sources["paged"]["runs"]]


# -- contacts, deals -----------------------------------------------------------------------


def test_contacts_of_a_source_are_paged_and_filtered_by_update_time(api_client, dataset):
    body = api_client.get(f"{BASE}/contacts", {"source": "brivity", "limit": 2}).json()
    assert body["count"] == 3 and [c["remote_id"] for c in body["contacts"]] == ["b3", "b2"]
    since = api_client.get(
        f"{BASE}/contacts", {"source": "brivity", "updated_since": "2026-01-20T10:02:00Z"}
    ).json()
    assert [c["remote_id"] for c in since["contacts"]] == ["b3", "b2"] and since["count"] == 2
    before = api_client.get(
        f"{BASE}/contacts", {"source": "brivity", "updated_before": "2026-01-20T10:02:00Z"}
    )
    assert [c["remote_id"] for c in before.json()["contacts"]] == ["b1"]


def test_contacts_without_a_source_run_over_every_source(api_client, dataset):
    body = api_client.get(f"{BASE}/contacts", {"limit": 3, "offset": 3}).json()
    assert body["count"] == 4 + 3 + 1
    assert [c["source"] for c in body["contacts"]] == ["local", "hubspot", "brivity"]
    local = api_client.get(f"{BASE}/contacts", {"source": "local"}).json()
    assert local["count"] == 4 and all(c["source"] == "local" for c in local["contacts"])


def test_deals_of_a_source(api_client, dataset):
    body = api_client.get(f"{BASE}/deals", {"source": "hubspot"}).json()
    assert body["count"] == 1 and body["deals"][0]["name"] == "Smith renewal"
    assert api_client.get(f"{BASE}/deals", {"source": "local"}).json() == {
        "success": True, "source": "local", "deals": [], "count": 0, "limit": 50, "offset": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"updated_since": "yesterday"}, 400, "invalid_filter"),
        ({"limit": "x"}, 400, "invalid_pagination"),
        ({"source": "pipedrive"}, 400, "invalid_source"),
        ({"source": "mautic"}, 404, "source_not_found"),
    ],
)
def test_lists_refuse_bad_input(api_client, dataset, params, status, code):
    for path in ("contacts", "deals"):
        response = api_client.get(f"{BASE}/{path}", params)
        assert response.status_code == status and response.json()["code"] == code


def test_list_query_count_does_not_grow_with_the_page(api_client, dataset, django_assert_num_queries):
    api_client.get(f"{BASE}/contacts")
    # key usage (the key's row is cached), sources, then per segment (local, pulled) a count and a page
    with django_assert_num_queries(6):
        assert api_client.get(f"{BASE}/contacts", {"limit": 500}).status_code == 200
    with django_assert_num_queries(4):
        assert api_client.get(f"{BASE}/deals", {"source": "brivity"}).status_code == 200


# -- cache/clear ---------------------------------------------------------------------------


def test_clear_removes_one_sources_records_resets_its_cursors_and_is_audited(
    api_client, dataset, brivity, hubspot
):
    PullCursor.objects.create(connection=brivity, object_type="contacts", cursor="3")
    PullCursor.objects.create(connection=hubspot, object_type="contacts", cursor="7")
    contacts_before = Contact.objects.count()
    response = api_client.post(f"{BASE}/cache/clear", {"source": "brivity"}, format="json")
    assert response.status_code == 200
    assert response.json()["cleared"] == {"brivity": {"records": 5, "cursors": 1}}
    assert not RemoteRecord.objects.filter(connection=brivity).exists()
    assert RemoteRecord.objects.filter(connection=hubspot).count() == 2
    assert not PullCursor.objects.filter(connection=brivity).exists()
    assert PullCursor.objects.filter(connection=hubspot).exists()
    assert Contact.objects.count() == contacts_before
    event = AuditEvent.objects.get(action="crm_data.cache_cleared")
    assert event.object_id == str(brivity.pk) and event.changes["records_deleted"] == 5
    assert not SyncRun.objects.exists()  # the clear's slot holds leave nothing behind
    assert api_client.get(f"{BASE}/search", {"q": "renee"}).json()["results"]["brivity"] == []


def test_clear_all_keeps_local_contacts_and_other_organizations(api_client, dataset):
    response = api_client.post(f"{BASE}/cache/clear", {}, format="json")
    assert response.status_code == 200 and set(response.json()["cleared"]) == {"brivity", "hubspot"}
    assert list(RemoteRecord.objects.values_list("remote_id", flat=True)) == ["x1"]
    assert Contact.objects.count() == 5


def test_clear_while_a_pull_runs_is_refused_and_clears_nothing(api_client, dataset, brivity, hubspot):
    (running, _) = pull_runs_reserve(connection=brivity, object_types=("contacts", "deals"))
    response = api_client.post(f"{BASE}/cache/clear", {}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "pull_running" and body["details"]["run"] == running.pk
    assert RemoteRecord.objects.filter(connection__in=[brivity, hubspot]).count() == 7  # all or nothing
    assert not AuditEvent.objects.filter(action="crm_data.cache_cleared").exists()


def test_a_pull_after_a_clear_starts_from_scratch(api_client, paged):
    PagedConnector.records["contacts"] = [
        {"id": n, "email": f"p{n}@x.io", "updated_at": datetime(2026, 1, n, tzinfo=UTC)} for n in (1, 2)
    ]
    pull_run(connection_id=paged.pk, object_type="contacts")
    assert PullCursor.objects.get(connection=paged, object_type="contacts").since is not None
    assert api_client.post(f"{BASE}/cache/clear", {"source": "paged"}, format="json").status_code == 200
    run = pull_run(connection_id=paged.pk, object_type="contacts")
    assert run.cursor_before == "" and run.fetched == 2
    assert RemoteRecord.objects.filter(connection=paged).count() == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"source": "local"}, 400, "local_not_clearable"),
        ({"source": "nowhere"}, 400, "invalid_source"),
        ({"source": ["brivity"]}, 400, "validation_error"),
        ({"source": "mautic"}, 404, "source_not_found"),
    ],
)
def test_clear_refuses(api_client, dataset, body, status, code):
    response = api_client.post(f"{BASE}/cache/clear", body, format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert RemoteRecord.objects.count() == 8


def test_clear_of_another_organizations_source_is_a_404(api_client, dataset):
    response = api_client.post(
        f"{BASE}/cache/clear", {"source": str(dataset["other_connection"].pk)}, format="json"
    )
    assert response.status_code == 404
    assert RemoteRecord.objects.filter(connection=dataset["other_connection"]).exists()
