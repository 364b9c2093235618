"""Pulls from the sandbox CRMs over real HTTP (live_server): every source's mapping, HubSpot's cap
with equal timestamps at the window edge, records changed, archived and merged in the CRM, and a
pull running while a push of the same connection holds its batch.
"""

from datetime import UTC, datetime

import pytest
import requests

from contacts.models import Contact
from crm_sync.models import ContactSyncState, ProcessingStatus, PullCursor, RemoteRecord, SyncRun, SyncStatus
from crm_sync.services.payloads import contact_payload_build
from crm_sync.services.pull import pull_run
from crm_sync.services.push import push_batch_process
from integrations.connectors.base import ContactPayload
from integrations.models import CrmConnection
from integrations.registry import connector_for
from sandbox.demo import demo_connections
from tests.contacts.factories import ContactFactory
from tests.integrations.rest.sandbox_support import Sandbox, require_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

PUSH_KINDS = ("hubspot", "brevo", "mautic", "brivity", "topproducer", "rest")


@pytest.fixture(autouse=True)
def _needs_sandbox():
    require_sandbox("HubSpot", "/sandbox/hubspot/account-info/v3/details")


@pytest.fixture(autouse=True)
def _read_ahead(settings):
    """As in production on PostgreSQL: committed data (transactional tests), so the reading
    thread sees it. Not on SQLite: its shared in-memory test database answers "table is locked"
    to the sandbox's write while the pull writes a page, instead of waiting."""
    from django.db import connection

    settings.SYNC_PULL_PREFETCH = connection.vendor == "postgresql"


@pytest.fixture
def make_connection(live_server):
    def make(kind: str, organization, **settings) -> CrmConnection:
        values = demo_connections(f"{live_server.url}/sandbox")[kind]
        return CrmConnection.objects.create(
            organization=organization,
            kind=kind,
            name=f"pull-{kind}",
            base_url=values["base_url"],
            credentials=values["credentials"],
            settings={**values.get("settings", {}), "read_timeout": 10, **settings},
            conflict_strategy="remote_wins",
        )

    return make


def box(live_server, kind: str) -> Sandbox:
    sandbox = Sandbox(live_server.url, kind)
    sandbox.reset()
    return sandbox


def payload(n: int) -> ContactPayload:
    return ContactPayload(
        contact_id=f"c{n}",
        email=f"mapped{n}@example.com",
        properties={
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "company": f"Co{n}",
            "phone": f"+1555000{n}",
        },
    )


@pytest.mark.parametrize("kind", PUSH_KINDS)
def test_every_source_maps_its_contacts_to_local_fields(kind, live_server, make_connection, org, other_org):
    box(live_server, kind)
    # a CRM user's contacts: written through the CRM's own API by another organization's connection
    writer = connector_for(make_connection(kind, other_org))
    results = writer.push_contacts([payload(1), payload(2)])
    assert all(r.ok for r in results), [r.error for r in results]
    connection = make_connection(kind, org)
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS, run.errors
    assert run.created == 2 and run.calls >= 1
    contact = Contact.objects.get(organization=org, email="mapped1@example.com")
    assert (contact.first_name, contact.last_name, contact.source) == ("First1", "Last1", f"crm:{kind}")
    state = ContactSyncState.objects.get(contact=contact, connection=connection)
    assert state.remote_id == next(r.remote_id for r in results if r.contact_id == "c1")
    record = RemoteRecord.objects.get(
        connection=connection, object_type="contacts", remote_id=state.remote_id
    )
    assert record.raw and record.contact_id == contact.pk and record.remote_updated_at is not None
    # nothing changed in the CRM: the next pull creates and updates nothing
    again = pull_run(connection_id=connection.pk, object_type="contacts")
    assert (again.created, again.updated) == (0, 0)


@pytest.mark.parametrize(
    ("kind", "object_type", "entity", "item"),
    [
        ("brivity", "deals", "deals", {"name": "Lake house", "amount": 500000, "stage": "offer"}),
        (
            "topproducer",
            "transactions",
            "transactions",
            {"propertyAddress": "1 Main St", "salesPrice": 420000},
        ),
        ("rest", "projects", "projects", {"name": "Website", "status": "active"}),
    ],
)
def test_rest_family_objects_land_in_the_record_store(
    kind, object_type, entity, item, live_server, make_connection, org
):
    sandbox = box(live_server, kind)
    sandbox.seed(entity, [item, {**item, "name": "Second"}])
    connection = make_connection(kind, org)
    assert object_type in connector_for(connection).pull_object_types()
    run = pull_run(connection_id=connection.pk, object_type=object_type)
    assert run.outcome == SyncRun.Outcome.SUCCESS, run.errors
    assert run.created == 2
    stored = RemoteRecord.objects.filter(connection=connection, object_type=object_type)
    assert stored.count() == 2 and all(r.raw for r in stored)


def test_hubspot_deals_are_pulled_into_the_record_store(live_server, make_connection, org):
    sandbox = box(live_server, "hubspot")
    sandbox.seed("deal", [{"data": {"dealname": "Renewal", "amount": "1200"}}])
    connection = make_connection("hubspot", org)
    run = pull_run(connection_id=connection.pk, object_type="deals")
    assert run.created == 1, run.errors
    deal = RemoteRecord.objects.get(connection=connection, object_type="deals")
    assert deal.display_name == "Renewal" and deal.fields["amount"] == "1200"


def test_hubspot_deals_link_to_the_local_contact_their_crm_associates(live_server, make_connection, org):
    sandbox = box(live_server, "hubspot")
    ada, bob = sandbox.seed(
        "contact",
        [{"data": {"email": "ada@example.com", "firstname": "Ada"}}, {"data": {"email": "bob@example.com"}}],
    )
    to_bob = [
        {
            "to": {"id": str(bob)},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        }
    ]
    sandbox.seed(
        "deal",
        [{"data": {"dealname": "Bob's deal"}, "associations": to_bob}, {"data": {"dealname": "Nobody's"}}],
    )
    connection = make_connection("hubspot", org, pull_archived=False)
    contacts_run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert contacts_run.created == 2, contacts_run.errors
    run = pull_run(connection_id=connection.pk, object_type="deals")
    assert run.created == 2, run.errors
    assert run.calls == 2  # one search page, one association read for it
    log = sandbox_paths(sandbox)
    assert log.count("/sandbox/hubspot/crm/v4/associations/deals/contacts/batch/read") == 1
    deals = {
        d.display_name: d for d in RemoteRecord.objects.filter(connection=connection, object_type="deals")
    }
    local_bob = Contact.objects.get(organization=org, email="bob@example.com")
    assert ContactSyncState.objects.get(connection=connection, contact=local_bob).remote_id == str(bob)
    assert deals["Bob's deal"].contact_id == local_bob.pk
    assert deals["Bob's deal"].contact_remote_id == str(bob)
    assert deals["Bob's deal"].raw["associations"]["contacts"]["results"] == [
        {"id": str(bob), "type": "deal_to_contact"}
    ]
    assert deals["Nobody's"].contact_id is None and deals["Nobody's"].contact_remote_id == ""
    assert not RemoteRecord.objects.filter(object_type="deals", contact__email="ada@example.com").exists()


def sandbox_paths(sandbox: Sandbox) -> list[str]:
    log = requests.get(f"{sandbox.control}/requests", params={"limit": 1000}, timeout=10).json()
    return [row["path"] for row in log["results"]]


def _generate(sandbox: Sandbox, **body) -> None:
    response = requests.post(f"{sandbox.control}/records/generate", json=body, timeout=60)
    assert response.status_code == 201, response.text


def test_hubspot_crosses_the_search_cap_with_equal_timestamps_at_the_window_edge(
    live_server, make_connection, org
):
    # A cap of 400 stands for HubSpot's 10,000 (same code path, 25 times fewer records).
    sandbox = box(live_server, "hubspot")
    sandbox.configure(options={"search_max_results": 400}, rate_limit_enabled=False)
    template = {"email": "cap{n}@example.com", "firstname": "Cap{n}"}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    # 350 with distinct times, then 300 sharing one millisecond across the first window's edge,
    # then 500 sharing one millisecond (more than a whole window), then 150 more.
    _generate(sandbox, object_type="contact", count=350, start=1, data=template, key="cap{n}@example.com",
              updated_at=base.isoformat(), step_ms=1)  # fmt: skip
    _generate(sandbox, object_type="contact", count=300, start=351, data=template, key="cap{n}@example.com",
              updated_at="2026-01-01T00:00:05Z", step_ms=0)  # fmt: skip
    _generate(sandbox, object_type="contact", count=500, start=651, data=template, key="cap{n}@example.com",
              updated_at="2026-01-01T00:00:09Z", step_ms=0)  # fmt: skip
    _generate(sandbox, object_type="contact", count=150, start=1151, data=template, key="cap{n}@example.com",
              updated_at="2026-01-01T00:00:20Z", step_ms=1)  # fmt: skip
    connection = make_connection("hubspot", org, search_result_cap=400, pull_archived=False)
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS, run.errors
    assert run.fetched == 1300 and run.created == 1300  # nothing lost, nothing read twice
    assert Contact.objects.filter(organization=org).count() == 1300
    assert ContactSyncState.objects.filter(connection=connection).count() == 1300


def test_records_edited_archived_and_merged_in_the_crm_are_applied_and_marked(
    live_server, make_connection, org, other_org
):
    sandbox = box(live_server, "hubspot")
    writer = connector_for(make_connection("hubspot", other_org))
    ids = {r.contact_id: r.remote_id for r in writer.push_contacts([payload(n) for n in range(1, 5)])}
    connection = make_connection("hubspot", org, pull_overlap_seconds=0)
    pull_run(connection_id=connection.pk, object_type="contacts")
    # a CRM user edits c1, merges c3 into c2, archives c4
    edit = requests.post(
        f"{sandbox.control}/records/edit",
        json={"object_type": "contact", "ids": [ids["c1"]], "set": {"firstname": "EditedInCrm"}},
        timeout=10,
    )
    assert edit.status_code == 200, edit.text
    merge = requests.post(
        f"{sandbox.control}/records/merge",
        json={"object_type": "contact", "primary": ids["c2"], "merged": [ids["c3"]]},
        timeout=10,
    )
    assert merge.status_code == 200, merge.text
    archive = requests.post(
        f"{sandbox.control}/records/edit",
        json={"object_type": "contact", "ids": [ids["c4"]], "archive": True},
        timeout=10,
    )
    assert archive.status_code == 200
    run = pull_run(connection_id=connection.pk, object_type="contacts")
    assert run.outcome == SyncRun.Outcome.SUCCESS, run.errors
    assert Contact.objects.get(organization=org, email="mapped1@example.com").first_name == "EditedInCrm"
    merged_state = ContactSyncState.objects.get(connection=connection, remote_id=ids["c3"])
    assert merged_state.merged_into_remote_id == ids["c2"] and merged_state.remote_archived
    assert (
        RemoteRecord.objects.get(connection=connection, remote_id=ids["c3"]).merged_into_remote_id
        == ids["c2"]
    )
    assert Contact.objects.filter(organization=org).count() == 4  # nothing deleted
    # the archived record: search no longer returns it; the archived listing marks it where the
    # CRM supports it (this sandbox build lists only live records, so it is simply not re-read)
    assert ContactSyncState.objects.get(connection=connection, remote_id=ids["c4"]).contact_id


def test_a_pull_and_a_push_of_the_same_connection_at_once(live_server, make_connection, org, monkeypatch):
    sandbox = box(live_server, "hubspot")
    sandbox.seed("contact", [{"data": {"email": "crm-only@example.com", "firstname": "FromCrm"}}])
    connection = make_connection("hubspot", org, pull_overlap_seconds=0)
    local = [ContactFactory(organization=org, email=f"local{n}@example.com") for n in range(3)]
    now = datetime.now(tz=UTC)
    for contact in local:
        ContactSyncState.objects.create(
            contact=contact, connection=connection, sync_status=SyncStatus.QUEUED,
            processing_status=ProcessingStatus.QUEUED, queued_at=now, due_at=now,
        )  # fmt: skip
    connector_class = type(connector_for(connection))
    real_push = connector_class.push_contacts
    seen = {}

    def push_while_pulling(self, records):
        # the push has claimed its batch (Processing) and not yet called the CRM: pull now
        seen["claimed"] = ContactSyncState.objects.filter(
            connection=connection, processing_status=ProcessingStatus.PROCESSING
        ).count()
        seen["run"] = pull_run(connection_id=connection.pk, object_type="contacts")
        return real_push(self, records)

    monkeypatch.setattr(connector_class, "push_contacts", push_while_pulling)
    push_run = push_batch_process(connection_id=connection.pk)
    assert seen["claimed"] == 3 and seen["run"].created == 1
    assert push_run.succeeded == 3
    monkeypatch.setattr(connector_class, "push_contacts", real_push)
    # the next pull reads the pushed contacts back: same contacts, nothing to push again
    after = pull_run(connection_id=connection.pk, object_type="contacts")
    assert after.created == 0 and after.fetched >= 3
    assert Contact.objects.filter(organization=org).count() == 4
    for state in ContactSyncState.objects.filter(connection=connection).select_related("contact"):
        assert state.sync_status == SyncStatus.COMPLETE and state.remote_id
        assert (
            state.pushed_hash
            == contact_payload_build(contact=state.contact, connection=connection).idempotency_key
        )
    assert PullCursor.objects.get(connection=connection, object_type="contacts").cursor == ""


def test_a_page_failing_mid_run_is_resumed_by_the_next_run_nothing_skipped_nothing_doubled(
    live_server, make_connection, org, settings
):
    settings.SYNC_PULL_PAGE_RETRIES = 0
    # One request at a time: the sandbox counts requests in the database, and SQLite's shared
    # in-memory test database refuses a write while the pull thread writes its page.
    settings.SYNC_PULL_PREFETCH = False
    sandbox = box(live_server, "hubspot")
    template = {"email": "mid{n}@example.com", "firstname": "M{n}"}
    _generate(sandbox, object_type="contact", count=900, data=template, key="mid{n}@example.com",
              updated_at="2026-01-01T00:00:00Z", step_ms=1000)  # fmt: skip
    # the third search (the third page) answers 500
    sandbox.configure(options={"fail_requests": {"nth": [3], "status": 500, "path_contains": "/search"}})
    connection = make_connection("hubspot", org, pull_archived=False)
    first = pull_run(connection_id=connection.pk, object_type="contacts")
    assert first.outcome == SyncRun.Outcome.FAILED and first.pages == 2 and first.created == 400
    assert first.errors[-1]["code"] == "unavailable"
    second = pull_run(connection_id=connection.pk, object_type="contacts")
    assert second.outcome == SyncRun.Outcome.SUCCESS and second.cursor_before == first.cursor_after
    assert second.created == 500 and second.fetched == 500
    assert ContactSyncState.objects.filter(connection=connection).count() == 900
    assert Contact.objects.filter(organization=org).count() == 900


def _crm_delete(connection: CrmConnection, remote_id: str) -> None:
    """A CRM user deletes a contact through the CRM's own API: Brevo's DELETE /v3/contacts/{id},
    Mautic's DELETE /api/contacts/{id}/delete."""
    if connection.kind == "brevo":
        url, auth = f"{connection.base_url}/contacts/{remote_id}", None
        headers = {"api-key": connection.credentials["api_key"]}
    else:
        url, headers = f"{connection.base_url}/api/contacts/{remote_id}/delete", {}
        auth = (connection.credentials["username"], connection.credentials["password"])
    response = requests.delete(url, headers=headers, auth=auth, timeout=10)
    assert response.status_code in (200, 204), response.text


# CRMs without a deletion feed: the path a pull's list requests take there.
LIST_PATHS = {"brevo": "/v3/contacts", "mautic": "/api/contacts"}


def _three_pulled_then_c2_deleted(kind, make_connection, org, other_org):
    """Three contacts written to the CRM by another organization's connection, pulled once into
    `org` one per page; then the CRM deletes c2. (connection, {local id: CRM id})."""
    writer = make_connection(kind, other_org)
    results = connector_for(writer).push_contacts([payload(n) for n in range(1, 4)])
    assert all(r.ok for r in results), [r.error for r in results]
    ids = {r.contact_id: r.remote_id for r in results}
    connection = make_connection(kind, org, page_size=1)
    assert pull_run(connection_id=connection.pk, object_type="contacts").created == 3
    _crm_delete(writer, ids["c2"])
    return connection, ids


@pytest.mark.parametrize("kind", sorted(LIST_PATHS))
def test_a_backfill_marks_a_contact_deleted_in_a_crm_without_a_deletion_feed_and_keeps_its_data(
    kind, live_server, make_connection, org, other_org, settings
):
    settings.SYNC_PULL_PAGE_RETRIES = 0
    settings.SYNC_PULL_PREFETCH = False  # the sandbox counts scripted faults in the database
    sandbox = box(live_server, kind)
    connection, ids = _three_pulled_then_c2_deleted(kind, make_connection, org, other_org)

    def gone_state() -> ContactSyncState:
        return ContactSyncState.objects.get(connection=connection, remote_id=ids["c2"])

    # an incremental pull only sees changes: the CRM lists no deleted contacts, nothing is marked
    incremental = pull_run(connection_id=connection.pk, object_type="contacts")
    assert incremental.outcome == SyncRun.Outcome.SUCCESS and incremental.archived == 0
    assert not gone_state().remote_archived
    # a backfill whose second page fails read only part of the CRM: nothing is marked
    sandbox.configure(
        options={"fail_requests": {"nth": [2], "status": 500, "path_contains": LIST_PATHS[kind]}}
    )
    failed = pull_run(connection_id=connection.pk, object_type="contacts", backfill=True)
    assert failed.outcome == SyncRun.Outcome.FAILED and failed.pages == 1 and failed.archived == 0
    assert not ContactSyncState.objects.filter(connection=connection, remote_archived=True).exists()
    assert not RemoteRecord.objects.filter(connection=connection, archived=True).exists()
    # a complete backfill marks the deleted contact, and only it; its local data stays
    sandbox.configure(options={})
    backfill = pull_run(connection_id=connection.pk, object_type="contacts", backfill=True)
    assert backfill.outcome == SyncRun.Outcome.SUCCESS, backfill.errors
    assert (backfill.fetched, backfill.archived) == (2, 1) and backfill.pages >= 2
    state = gone_state()
    assert state.remote_archived and state.remote_archived_at is not None
    assert ContactSyncState.objects.filter(connection=connection, remote_archived=True).count() == 1
    assert RemoteRecord.objects.get(connection=connection, remote_id=ids["c2"]).archived
    assert RemoteRecord.objects.filter(connection=connection, archived=True).count() == 1
    contact = Contact.objects.get(pk=state.contact_id)
    assert (contact.email, contact.first_name, contact.company) == ("mapped2@example.com", "First2", "Co2")
    assert Contact.objects.filter(organization=org).count() == 3


@pytest.mark.parametrize("kind", sorted(LIST_PATHS))
def test_a_backfill_the_pull_task_splits_at_its_time_budget_marks_too(
    kind, live_server, make_connection, org, other_org, settings, monkeypatch
):
    """The Celery task stops each run after a page here (SYNC_PULL_TASK_MAX_SECONDS) and hands the
    rest to a fresh task: the run that ends the pass marks the contact deleted in the CRM."""
    from crm_sync.tasks import pull_object_type

    settings.SYNC_PULL_PREFETCH = False
    connection, ids = _three_pulled_then_c2_deleted(kind, make_connection, org, other_org)

    settings.SYNC_PULL_TASK_MAX_SECONDS = 1e-9
    handed_on = []
    monkeypatch.setattr(pull_object_type, "apply_async", lambda kwargs: handed_on.append(kwargs))
    pull_object_type(connection_id=connection.pk, object_type="contacts", backfill=True)
    while handed_on:
        pull_object_type(**handed_on.pop())

    runs = list(SyncRun.objects.filter(connection=connection, object_type="contacts").order_by("pk"))[1:]
    assert len(runs) >= 2 and runs[0].backfill and not any(r.backfill for r in runs[1:])
    assert [r.archived for r in runs] == [0] * (len(runs) - 1) + [1]
    marked = ContactSyncState.objects.filter(connection=connection, remote_archived=True)
    assert list(marked.values_list("remote_id", flat=True)) == [ids["c2"]]
    assert Contact.objects.filter(organization=org).count() == 3
