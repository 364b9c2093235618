"""The generic REST connector against the sandbox REST CRM over real HTTP (pytest-django live_server).

Faults are injected per request with the sandbox's X-Sandbox-Fault header, sent through the
connection's generic `settings["headers"]` (the connector has no sandbox branch).
"""

import time
from datetime import UTC, datetime, timedelta

import pytest

from integrations.errors import CrmAuthError, CrmRateLimited, CrmTimeout, CrmUnavailable
from integrations.models import CrmConnection
from integrations.registry import connector_for
from tests.integrations.rest.sandbox_support import Sandbox, contact, pulled, require_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_sandbox():
    require_sandbox("REST", "/sandbox/rest/api/v1/contacts")


@pytest.fixture
def sandbox(live_server):
    box = Sandbox(live_server.url, "rest")
    box.reset()
    return box


@pytest.fixture
def make_rest(make_connection, live_server):
    from sandbox import credentials as creds

    auth = {
        "jwt": ({"type": "jwt"}, {"username": creds.REST_USERNAME, "password": creds.REST_PASSWORD}),
        "oauth": (
            {"type": "oauth"},
            {"client_id": creds.REST_CLIENT_ID, "client_secret": creds.REST_CLIENT_SECRET},
        ),
        "api_key": (
            {"type": "api_key", "header": creds.REST_API_KEY_HEADER, "format": "{key}"},
            {"api_key": creds.REST_API_KEY},
        ),
    }

    def make(auth_type="jwt", *, credentials=None, fault=None, **settings):
        auth_settings, default_credentials = auth[auth_type]
        settings = {"auth": auth_settings, "read_timeout": 5, **settings}
        if fault:
            settings["headers"] = {"X-Sandbox-Fault": fault}
        return make_connection(
            base_url=f"{live_server.url}/sandbox/rest",
            credentials=default_credentials if credentials is None else credentials,
            settings=settings,
        )

    return make


@pytest.mark.parametrize("auth_type", ["jwt", "oauth", "api_key"])
def test_credential_test_with_each_auth_type(auth_type, make_rest, sandbox):
    check = connector_for(make_rest(auth_type)).test_credentials()
    assert check.ok, check.message


@pytest.mark.parametrize(
    ("auth_type", "credentials"),
    [
        ("jwt", {"username": "sandbox", "password": "wrong-password"}),
        ("oauth", {"client_id": "sandbox-rest-client", "client_secret": "wrong-secret"}),
        ("api_key", {"api_key": "wrong-key-0000"}),
    ],
)
def test_wrong_credentials_are_refused(auth_type, credentials, make_rest, sandbox):
    check = connector_for(make_rest(auth_type, credentials=credentials)).test_credentials()
    assert check.ok is False
    assert check.message.startswith("Authentication failed")


def test_push_creates_then_updates_and_pull_reads_back(make_rest, sandbox):
    connector = connector_for(make_rest())
    first = connector.push_contacts([contact(1), contact(2)])
    assert [r.ok and r.created for r in first] == [True, True]
    # A retried push without the remote id finds the contact by email: no duplicate.
    again = connector.push_contacts([contact(1, company="Globex")])
    assert again[0].ok and again[0].created is False and again[0].remote_id == first[0].remote_id
    # With the remote id: a direct update.
    by_id = connector.push_contacts([_with_id(contact(2), first[1])])
    assert by_id[0].ok and by_id[0].remote_id == first[1].remote_id
    stored = sandbox.records("contacts")
    assert len(stored) == 2
    assert {r["data"]["company"] for r in stored} == {"Globex", "Acme"}
    records = pulled(connector.pull_contacts(since=None))
    assert {r.email for r in records} == {"sandbox1@example.com", "sandbox2@example.com"}
    assert all(r.updated_at is not None for r in records)
    assert {r.properties["first_name"] for r in records} == {"First1", "First2"}


def _with_id(payload, result):
    return _with_remote_id(payload, result.remote_id)


def _with_remote_id(payload, remote_id):
    from dataclasses import replace

    return replace(payload, remote_id=remote_id)


def test_per_item_results_when_one_contact_is_invalid(make_rest, sandbox):
    connector = connector_for(make_rest())
    bad = contact(2)
    from dataclasses import replace

    bad = replace(bad, email="not-an-email", properties={**bad.properties, "email": "not-an-email"})
    results = connector.push_contacts([contact(1), bad, contact(3)])
    assert [r.contact_id for r in results] == ["1", "2", "3"]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error.category == "validation"
    assert "valid email" in results[1].error.message


@pytest.mark.parametrize(
    "paging",
    [
        {"style": "page", "page_size": 2, "total_path": "meta.total"},
        {"style": "page", "page_size": 2},
        {"style": "offset", "page_size": 2, "total_path": "meta.total"},
        {"style": "cursor", "page_size": 2, "next_cursor_path": "meta.next_cursor"},
    ],
)
def test_each_paging_style_reads_everything_once(paging, make_rest, sandbox):
    list_params = {"paging": "cursor"} if paging["style"] == "cursor" else {}
    sandbox.seed("projects", [{"data": {"name": f"P{n}"}} for n in range(5)])
    connector = connector_for(make_rest(paging=paging, list_params=list_params))
    pages = list(connector.read_entity("projects"))
    names = [r.properties["name"] for page in pages for r in page.records]
    assert sorted(names) == [f"P{n}" for n in range(5)]
    assert pages[-1].next_cursor is None
    assert all(p.next_cursor for p in pages[:-1])


def test_incremental_pull_and_cursor_resume(make_rest, sandbox):
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    sandbox.seed("contacts", [{"data": {"email": "old@example.com"}, "updated_at": old}])
    sandbox.seed("contacts", [{"data": {"email": f"new{n}@example.com"}} for n in range(3)])
    connector = connector_for(make_rest(paging={"page_size": 2, "total_path": "meta.total"}))
    since = datetime.now(UTC) - timedelta(days=1)
    pages = connector.pull_contacts(since=since)
    first = next(pages)
    assert len(first.records) == 2 and first.next_cursor
    # Another worker resumes from the stored cursor.
    rest = pulled(
        connector_for(CrmConnection.objects.get(pk=connector.connection.pk)).pull_contacts(
            since=None, cursor=first.next_cursor
        )
    )
    emails = {r.email for r in first.records} | {r.email for r in rest}
    assert emails == {"new0@example.com", "new1@example.com", "new2@example.com"}


def test_deals_and_every_seed_002_entity(make_rest, sandbox):
    for entity in ("deals", "tasks", "users", "clients", "comments"):
        sandbox.seed(entity, [{"data": {"title": entity}}])
    connector = connector_for(make_rest())
    deals = pulled(connector.pull_deals(since=None))
    assert deals[0].object_type == "deals" and deals[0].properties["title"] == "deals"
    for entity in ("tasks", "users", "clients", "comments"):
        assert pulled(connector.read_entity(entity))[0].properties["title"] == entity


def test_jwt_refresh_before_expiry_rotates_the_refresh_token(make_rest, sandbox):
    connection = make_rest()
    connector = connector_for(connection)
    assert connector.test_credentials().ok
    first = CrmConnection.objects.get(pk=connection.pk).token_state
    now = time.time()
    connector.client.auth.clock = lambda: now + first["lifetime"] - 10
    assert connector.test_credentials().ok
    second = CrmConnection.objects.get(pk=connection.pk).token_state
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]


class TestFaults:
    def test_401_when_the_token_is_revoked(self, make_rest, sandbox):
        with pytest.raises(CrmAuthError):
            list(
                connector_for(make_rest("api_key", credentials={"api_key": "revoked-0000"})).pull_contacts(
                    since=None
                )
            )

    def test_429_with_retry_after(self, make_rest, sandbox):
        with pytest.raises(CrmRateLimited) as caught:
            list(connector_for(make_rest(fault="429,retry-after=3")).pull_contacts(since=None))
        assert caught.value.retry_after == 3

    def test_429_without_retry_after(self, make_rest, sandbox):
        with pytest.raises(CrmRateLimited) as caught:
            list(connector_for(make_rest("api_key", fault="429")).pull_contacts(since=None))
        assert caught.value.retry_after is None

    def test_429_halts_a_push_batch(self, make_rest, sandbox):
        results = connector_for(make_rest("api_key", fault="429,retry-after=2")).push_contacts(
            [contact(1), contact(2)]
        )
        assert [r.error.category for r in results] == ["rate_limited", "rate_limited"]
        assert sandbox.records("contacts") == []

    def test_5xx(self, make_rest, sandbox):
        with pytest.raises(CrmUnavailable) as caught:
            list(connector_for(make_rest("api_key", fault="503")).pull_contacts(since=None))
        assert caught.value.status == 503 and caught.value.retriable

    def test_timeout_on_a_write(self, make_rest, sandbox):
        sandbox.configure(timeout_seconds=1)
        connector = connector_for(make_rest("api_key", fault="timeout", read_timeout=0.3))
        [result] = connector.push_contacts([_with_remote_id(contact(1), "1")])
        assert isinstance(result.error, CrmTimeout)
        sandbox.wait_for_status(504)

    def test_timeout_on_a_read_is_retriable(self, make_rest, sandbox):
        # integrations/http.py turns a read timeout of an idempotent call (GET) into
        # `unavailable` today (urllib3 Retry(read=0) wraps it in MaxRetryError); both are
        # retriable, which is what the sync engine acts on. Expect CrmTimeout once fixed.
        sandbox.configure(timeout_seconds=1)
        with pytest.raises((CrmTimeout, CrmUnavailable)) as caught:
            list(
                connector_for(make_rest("api_key", fault="timeout", read_timeout=0.3)).pull_contacts(
                    since=None
                )
            )
        assert caught.value.retriable
        assert "timed out" in caught.value.message.lower() or caught.value.category == "timeout"
        sandbox.wait_for_status(504)

    def test_malformed_json(self, make_rest, sandbox):
        with pytest.raises(CrmUnavailable, match="not JSON"):
            list(connector_for(make_rest("api_key", fault="malformed")).pull_contacts(since=None))

    def test_5xx_on_push_fails_each_item_and_writes_nothing(self, make_rest, sandbox):
        results = connector_for(make_rest("api_key", fault="500")).push_contacts([contact(1), contact(2)])
        assert [r.ok for r in results] == [False, False]
        assert all(r.error.retriable for r in results)
        assert sandbox.records("contacts") == []


class TestRecordWrites:
    """Seed 002's record writes: field updates and the task actions, through the connector."""

    def test_patch_and_put_update_a_project(self, sandbox, make_rest):
        [project_id] = sandbox.seed(
            "projects", [{"name": "Relaunch", "status": "active", "priority": "high"}]
        )
        connector = connector_for(make_rest())
        exchange = connector.write_record(
            entity="projects", remote_id=str(project_id), values={"status": "completed"}, current={}
        )
        assert exchange.request["method"] == "PATCH" and exchange.response["status"] == "completed"
        [row] = sandbox.records("projects")
        assert row["data"] == {"name": "Relaunch", "status": "completed", "priority": "high"}
        put = connector_for(make_rest(contacts={"update_method": "PUT"}))
        put.write_record(
            entity="projects",
            remote_id=str(project_id),
            values={"priority": "low"},
            current={"id": project_id, "name": "Relaunch", "status": "completed", "priority": "high"},
        )
        [row] = sandbox.records("projects")
        assert row["data"] == {"name": "Relaunch", "status": "completed", "priority": "low"}

    def test_task_actions_are_validated_by_the_crm(self, sandbox, make_rest):
        from integrations.errors import CapabilityNotSupported, CrmNotFound, CrmValidationError

        [task_id] = sandbox.seed("tasks", [{"title": "T", "status": "todo"}])
        connector = connector_for(make_rest())
        with pytest.raises(CrmValidationError):
            connector.record_action(
                entity="tasks", remote_id=str(task_id), action="status", body={"status": ""}
            )
        with pytest.raises(CrmValidationError):
            connector.record_action(
                entity="tasks", remote_id=str(task_id), action="assign", body={"assignee_id": 12345}
            )
        with pytest.raises(CrmNotFound):
            connector.record_action(
                entity="tasks", remote_id="999999", action="status", body={"status": "done"}
            )
        with pytest.raises(CapabilityNotSupported):
            connector.record_action(entity="projects", remote_id="1", action="assign", body={})
        connector.record_action(
            entity="tasks", remote_id=str(task_id), action="status", body={"status": "done"}
        )
        [row] = sandbox.records("tasks")
        assert row["data"]["status"] == "done"
