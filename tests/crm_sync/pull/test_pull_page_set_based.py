"""One pulled page holding every case at once, applied set-based: what each record ends as, and
the cost of a page (its queries) not growing with the number of records in it.

The cases of a page: new, updated, unchanged, email changed, archived, a conflict, an invalid
custom value. The page apply builds its rows without Model.__init__ and writes each table in
one statement; these tests hold it to the semantics the one-record-at-a-time tests describe
(test_pull_service.py), on one page where the cases sit side by side.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from contacts.models import Contact
from crm_sync.models import ContactSyncEvent, ContactSyncState, RemoteRecord, SyncConflict, SyncRun
from crm_sync.services.payloads import contact_payload_build
from crm_sync.services.pull import pull_run
from properties.models import PropertyDefinition

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
CASES = ("unchanged", "updated", "email", "archived", "conflict", "invalid", "new")


def person(n: int, *, at: datetime, **extra) -> dict:
    return {
        "id": str(n),
        "updated_at": at,
        "email": f"person{n}@example.com",
        "firstname": f"First{n}",
        "lastname": "Pulled",
        "company": f"Co {n}",
        **extra,
    }


def first_page(groups: int) -> list[dict]:
    """What the CRM holds before: every case but the new one, `groups` times."""
    return [
        person(g * 10 + i, at=T0 + timedelta(minutes=g))
        for g in range(groups)
        for i, case in enumerate(CASES)
        if case != "new"
    ]


def second_page(groups: int) -> list[dict]:
    """The same records after edits in the CRM, plus one new record, `groups` times."""
    records = []
    for g in range(groups):
        for i, case in enumerate(CASES):
            n = g * 10 + i
            extra = {
                "unchanged": {},
                "updated": {"company": f"NewCo {n}"},
                "email": {"email": f"renamed{n}@example.com"},
                "archived": {"archived": True},
                "conflict": {"firstname": f"RemoteEdit{n}"},
                "invalid": {"score": "lots", "company": f"Six Co {n}"},
                "new": {},
            }[case]
            records.append(person(n, at=LATER, **extra))
    return records


@pytest.fixture
def setup(connection, paged, org):
    PropertyDefinition.objects.create(
        organization=org,
        object_type="contacts",
        name="score",
        label="Score",
        type="number",
        field_type="number",
    )
    connection.conflict_strategy = "manual_review"
    connection.field_mapping = {**paged.default_field_mapping, "score": "score"}
    connection.save()
    paged.page_size = 1000  # one page per pull: the cases side by side
    yield connection
    paged.page_size = 3


def _pull_twice(connection, paged, groups: int):
    paged.records["contacts"] = first_page(groups)
    first = pull_run(connection_id=connection.pk, object_type="contacts")
    assert first.outcome == SyncRun.Outcome.SUCCESS and first.pages == 1
    for g in range(groups):  # a local edit the CRM does not have: the conflict case
        n = g * 10 + CASES.index("conflict")
        Contact.objects.filter(email=f"person{n}@example.com").update(first_name=f"LocalEdit{n}")
    paged.records["contacts"] = second_page(groups)
    with CaptureQueriesContext(db_connection) as captured:
        second = pull_run(connection_id=connection.pk, object_type="contacts")
    assert second.pages == 1
    return first, second, len(captured.captured_queries)


def _state(connection, n: int) -> ContactSyncState:
    return ContactSyncState.objects.select_related("contact").get(connection=connection, remote_id=str(n))


def test_a_mixed_page_applies_every_case_as_the_record_by_record_rules_say(setup, paged):
    connection = setup
    first, run, _ = _pull_twice(connection, paged, groups=1)
    n = {case: CASES.index(case) for case in CASES}
    assert first.created == 6
    assert (run.fetched, run.created, run.updated, run.unchanged, run.archived, run.conflicts) == (
        7,
        1,
        3,
        2,
        1,
        1,
    )
    assert {(e["remote_id"], e["code"], e.get("field")) for e in run.errors} == {
        (str(n["invalid"]), "invalid_value", "score")
    }
    assert run.outcome == SyncRun.Outcome.PARTIAL  # the invalid value is recorded, not fatal
    assert Contact.objects.count() == 7

    def in_sync(state):  # no echo: what was pulled is what the push side would send
        return (
            state.pushed_hash
            == contact_payload_build(contact=state.contact, connection=connection).idempotency_key
        )

    unchanged = _state(connection, n["unchanged"])
    assert unchanged.contact.company == "Co 0" and in_sync(unchanged)
    updated = _state(connection, n["updated"])
    assert (
        updated.contact.company == "NewCo 1"
        and updated.base_values["company"] == "NewCo 1"
        and in_sync(updated)
    )
    renamed = _state(connection, n["email"])
    assert renamed.contact.email == "renamed2@example.com" and in_sync(renamed)  # the same contact
    assert not Contact.objects.filter(email="person2@example.com").exists()
    archived = _state(connection, n["archived"])
    assert archived.remote_archived and archived.remote_archived_at is not None
    assert archived.contact.email == "person3@example.com"  # marked, never deleted
    conflict = _state(connection, n["conflict"])
    assert conflict.contact.first_name == "LocalEdit4" and conflict.base_values["first_name"] == "First4"
    assert SyncConflict.objects.get(contact=conflict.contact).fields["first_name"] == {
        "base": "First4",
        "local": "LocalEdit4",
        "remote": "RemoteEdit4",
    }
    invalid = _state(connection, n["invalid"])
    assert invalid.contact.company == "Six Co 5" and "score" not in invalid.contact.custom_properties
    new = _state(connection, n["new"])
    assert new.contact.source == "crm:paged" and new.base_values["first_name"] == "First6" and in_sync(new)
    assert new.last_pulled_at == new.last_synced_at is not None

    # the record store: every record once, linked, the archived one marked, the new email kept
    records = {
        r.remote_id: r for r in RemoteRecord.objects.filter(connection=connection, object_type="contacts")
    }
    assert sorted(records, key=int) == [str(i) for i in range(7)]
    assert all(records[str(i)].contact_id == _state(connection, i).contact_id for i in range(7))
    assert records["3"].archived and records["2"].email == "renamed2@example.com"
    # an unchanged record is only marked seen again, its stored copy as it was
    assert records["0"].fetched_at == records["1"].fetched_at > records["0"].created_at
    assert records["0"].raw["company"] == "Co 0" and records["0"].fields["first_name"] == "First0"
    assert records["1"].fields["company"] == "NewCo 1" and records["1"].raw["company"] == "NewCo 1"
    # the timeline: one pull event per contact each pull; the audit: what was created or changed
    assert ContactSyncEvent.objects.filter(direction="pull").count() == 6 + 7
    pulled = AuditEvent.objects.filter(action="contact.pulled")
    assert pulled.count() == 6 + 1 + 3
    audit = pulled.get(object_id=str(updated.contact_id), changes__company__new="NewCo 1")
    assert audit.changes["company"] == {"old": "Co 1", "new": "NewCo 1"} and audit.actor_type == "system"
    assert audit.organization_id == connection.organization_id


@pytest.mark.requires_postgres
def test_the_queries_of_a_page_do_not_grow_with_the_records_in_it(setup, paged):
    """Four times the records (of every case but conflicts, which cost a few queries each and
    stay one a page here) cost the same number of queries."""
    connection = setup
    _, small_run, small = _pull_twice(connection, paged, groups=1)
    Contact.objects.all().delete()
    ContactSyncState.objects.all().delete()
    RemoteRecord.objects.all().delete()
    SyncConflict.objects.all().delete()
    connection_pk = connection.pk
    from crm_sync.models import PullCursor

    PullCursor.objects.filter(connection_id=connection_pk).delete()
    paged.reset()
    conflicts_before = 1
    # groups of 4 with the conflict case only in the first group
    paged.records["contacts"] = first_page(4)
    pull_run(connection_id=connection_pk, object_type="contacts")
    Contact.objects.filter(email="person4@example.com").update(first_name="LocalEdit4")
    paged.records["contacts"] = second_page(4)
    with CaptureQueriesContext(db_connection) as captured:
        big_run = pull_run(connection_id=connection_pk, object_type="contacts")
    assert big_run.fetched == 4 * small_run.fetched and big_run.conflicts == conflicts_before
    assert len(captured.captured_queries) == small


def test_a_deal_pulled_before_its_contact_is_linked_when_the_contact_arrives(connection, paged, org):
    from tests.contacts.factories import ContactFactory

    other = ContactFactory(organization=org, email="other@example.com")
    paged.records["deals"] = [
        {"id": "d1", "updated_at": T0, "name": "Early deal", "contact_id": "1"},
        {"id": "d2", "updated_at": T0, "name": "Still waiting", "contact_id": "999"},
        {"id": "d3", "updated_at": T0, "name": "Already linked", "contact_id": "2"},
    ]
    run = pull_run(connection_id=connection.pk, object_type="deals")
    assert run.created == 3
    assert not RemoteRecord.objects.filter(object_type="deals", contact__isnull=False).exists()
    RemoteRecord.objects.filter(remote_id="d3").update(contact=other)  # linked some other way: kept
    paged.records["contacts"] = [person(1, at=T0), person(2, at=T0)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    early = RemoteRecord.objects.get(object_type="deals", remote_id="d1")
    assert early.contact_id == Contact.objects.get(email="person1@example.com").pk
    assert RemoteRecord.objects.get(remote_id="d2").contact_id is None
    assert RemoteRecord.objects.get(remote_id="d3").contact_id == other.pk
    # a later pull of the deals keeps the link; d3 then follows what the CRM says (contact 2)
    again = pull_run(connection_id=connection.pk, object_type="deals", backfill=True)
    assert (again.unchanged, again.updated) == (2, 1)
    assert RemoteRecord.objects.get(remote_id="d1").contact_id == early.contact_id
    assert (
        RemoteRecord.objects.get(remote_id="d3").contact_id
        == Contact.objects.get(email="person2@example.com").pk
    )
