"""Factories of the sync engine: states in every status, runs."""

from datetime import timedelta

import factory
from django.utils import timezone

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from tests.contacts.factories import ContactFactory
from tests.integrations.factories import CrmConnectionFactory


class ContactSyncStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactSyncState

    connection = factory.SubFactory(CrmConnectionFactory)
    contact = factory.SubFactory(
        ContactFactory, organization=factory.SelfAttribute("..connection.organization")
    )
    sync_status = SyncStatus.SELECTED
    processing_status = None

    class Params:
        queued = factory.Trait(
            sync_status=SyncStatus.QUEUED,
            processing_status=ProcessingStatus.QUEUED,
            queued_at=factory.LazyFunction(timezone.now),
            due_at=factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1)),
        )
        complete = factory.Trait(
            sync_status=SyncStatus.COMPLETE,
            processing_status=ProcessingStatus.COMPLETE,
            remote_id=factory.Sequence(lambda n: str(1000 + n)),
            last_synced_at=factory.LazyFunction(timezone.now),
            pushed_hash="0" * 64,
        )
        errored = factory.Trait(
            sync_status=SyncStatus.ERROR,
            processing_status=ProcessingStatus.ERROR,
            error="HubSpot API authentication failed (HTTP 401)",
            error_category="validation",
            retry_count=3,
            last_retry_at=factory.LazyFunction(timezone.now),
        )
        stuck = factory.Trait(
            sync_status=SyncStatus.PROCESSING,
            processing_status=ProcessingStatus.PROCESSING,
            claim_token="dead-worker",
            claimed_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2)),
        )


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    connection = factory.SubFactory(CrmConnectionFactory)
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=10))
    finished_at = factory.LazyFunction(timezone.now)
