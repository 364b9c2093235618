"""core.bulk: many rows' different values in one statement, with an optional compare-and-set."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from core.bulk import bulk_update_rows, bulk_update_where
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from tests.crm_sync.factories import ContactSyncStateFactory

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)


def _rows(n, **kwargs):
    states = [ContactSyncStateFactory(**kwargs) for _ in range(n)]
    return sorted(states, key=lambda s: s.pk)


def test_bulk_update_rows_writes_each_row_its_own_values_of_every_type():
    states = _rows(3)
    for i, state in enumerate(states):
        state.sync_status = [SyncStatus.COMPLETE, SyncStatus.ERROR, SyncStatus.QUEUED][i]
        state.retry_count = i * 2
        state.error = f"error «{i}» with 'quotes' and \\ backslash" if i else ""
        state.last_synced_at = WHEN + timedelta(days=i) if i != 1 else None
        state.requeue_requested = bool(i % 2)
        state.last_response = {"id": i, "nested": [1, None, "é"]} if i != 2 else None
    assert (
        bulk_update_rows(
            ContactSyncState,
            states,
            ["sync_status", "retry_count", "error", "last_synced_at", "requeue_requested", "last_response"],
        )
        == 3
    )
    for i, state in enumerate(states):
        fresh = ContactSyncState.objects.get(pk=state.pk)
        assert fresh.sync_status == state.sync_status
        assert fresh.retry_count == i * 2
        assert fresh.error == state.error
        assert fresh.last_synced_at == state.last_synced_at
        assert fresh.requeue_requested is bool(i % 2)
        assert fresh.last_response == state.last_response


def test_bulk_update_where_writes_only_rows_that_still_match_and_returns_what_it_found():
    mine = _rows(3, queued=True)
    ContactSyncState.objects.filter(pk__in=[s.pk for s in mine]).update(
        claim_token="me", processing_status=ProcessingStatus.PROCESSING
    )
    # one row was taken from us meanwhile, one was flagged
    ContactSyncState.objects.filter(pk=mine[0].pk).update(claim_token="someone-else")
    ContactSyncState.objects.filter(pk=mine[1].pk).update(requeue_requested=True)
    for state in mine:
        state.sync_status = SyncStatus.COMPLETE
        state.processing_status = ProcessingStatus.COMPLETE
        state.claim_token = None
        state.last_synced_at = WHEN
    with CaptureQueriesContext(db_connection) as queries:
        found = bulk_update_where(
            ContactSyncState,
            mine,
            ["sync_status", "processing_status", "claim_token", "last_synced_at"],
            where={"claim_token": "me", "processing_status": ProcessingStatus.PROCESSING},
            returning=["requeue_requested"],
        )
    assert found == {mine[1].pk: (True,), mine[2].pk: (False,)}
    taken = ContactSyncState.objects.get(pk=mine[0].pk)
    assert taken.claim_token == "someone-else" and taken.sync_status == SyncStatus.QUEUED
    for state in mine[1:]:
        fresh = ContactSyncState.objects.get(pk=state.pk)
        assert fresh.sync_status == SyncStatus.COMPLETE and fresh.claim_token is None
        assert fresh.last_synced_at == WHEN
    if db_connection.vendor == "postgresql":
        assert len(queries) == 1  # one compare-and-set statement, whatever the row count


def test_bulk_update_where_refuses_to_return_a_column_it_writes():
    state = _rows(1)[0]
    with pytest.raises(ValueError):
        bulk_update_where(ContactSyncState, [state], ["error"], where={}, returning=["error"])


def test_empty_input_touches_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk_update_rows(ContactSyncState, [], ["error"]) == 0
        assert bulk_update_where(ContactSyncState, [], ["error"], where={"claim_token": "x"}) == {}


def test_bulk_create_rows_inserts_in_order_and_sets_generated_keys():
    from core.bulk import bulk_create_rows
    from sandbox.models import SandboxRecord

    records = [
        SandboxRecord(kind="hubspot", object_type="contact", key=f"k{i}", data={"i": i, "name": "Zoë 'q'"})
        for i in range(5)
    ] + [SandboxRecord(kind="hubspot", object_type="contact", key=None, write_count=7, created_at=WHEN)]
    with CaptureQueriesContext(db_connection) as captured:
        assert bulk_create_rows(SandboxRecord, records) is records
    if db_connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    assert all(record.pk and not record._state.adding for record in records)
    assert [r.pk for r in records] == sorted(r.pk for r in records)  # generated in input order
    for record in records:
        stored = SandboxRecord.objects.get(pk=record.pk)
        assert (stored.key, stored.data, stored.write_count, stored.created_at) == (
            record.key,
            record.data,
            record.write_count,
            record.created_at,
        )
    assert SandboxRecord.objects.get(pk=records[-1].pk).created_at == WHEN


def test_bulk_create_rows_with_nothing_to_insert_runs_no_statement(django_assert_num_queries):
    from core.bulk import bulk_create_rows
    from sandbox.models import SandboxRecord

    with django_assert_num_queries(0):
        assert bulk_create_rows(SandboxRecord, []) == []


def test_bulk_create_rows_with_some_keys_given_inserts_every_row():
    from core.bulk import bulk_create_rows
    from sandbox.models import SandboxRecord

    given = SandboxRecord(id=424242, kind="hubspot", object_type="contact", key="given")
    generated = SandboxRecord(kind="hubspot", object_type="contact", key="generated")
    bulk_create_rows(SandboxRecord, [given, generated])
    assert set(SandboxRecord.objects.values_list("key", flat=True)) == {"given", "generated"}
    assert SandboxRecord.objects.get(key="given").pk == 424242


def test_bulk_create_rows_still_stamps_auto_now_fields_and_keeps_given_values():
    """Only fields whose pre_save can change a value are run through it; the rest are written as given."""
    from contacts.models import Contact
    from core.bulk import bulk_create_rows
    from tests.factories import OrganizationFactory

    organization = OrganizationFactory()
    contact = Contact(
        organization=organization, email="stamped@example.com", first_name="Zoë", created_at=None
    )
    before = datetime.now(tz=UTC)
    bulk_create_rows(Contact, [contact])
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.created_at >= before and stored.updated_at >= before  # auto_now_add / auto_now
    assert (stored.email, stored.first_name) == ("stamped@example.com", "Zoë")


def test_the_pre_save_filter_keeps_every_field_that_overrides_pre_save():
    from django.db import models

    from core.bulk import _pre_save_sets

    class Stamping(models.CharField):
        def pre_save(self, model_instance, add):
            return "stamped"

    assert _pre_save_sets(models.DateTimeField(auto_now=True))
    assert _pre_save_sets(models.DateField(auto_now_add=True))
    assert not _pre_save_sets(models.DateTimeField(null=True))
    assert not _pre_save_sets(models.CharField(max_length=5))
    assert not _pre_save_sets(models.JSONField(default=dict))
    assert _pre_save_sets(Stamping(max_length=5))
