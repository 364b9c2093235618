"""Two syncs of one (organization, crm, object type) never run at once: the database decides."""

import threading

import pytest
from django.db import connection

from accounts.actors import Actor
from core.errors import Conflict
from properties.models import PropertySyncRun
from properties.sync_services import property_sync_claim
from tests.factories import OrganizationFactory


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_let_exactly_one_through():
    organization = OrganizationFactory(slug="race")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def claim():
        try:
            barrier.wait()
            property_sync_claim(
                organization=organization,
                crm="hubspot",
                object_types=["contacts", "leads"],
                actor=Actor.system(),
            )
            outcomes.append("claimed")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed", "conflict", "conflict", "conflict"]
    assert PropertySyncRun.objects.filter(status="in_progress").count() == 2


@pytest.mark.django_db
def test_the_constraint_itself_refuses_a_second_active_run():
    """Not only the service: a raw insert of a second active run fails."""
    from django.db import IntegrityError, transaction

    organization = OrganizationFactory(slug="raw")
    PropertySyncRun.objects.create(
        organization=organization, crm="hubspot", object_type="contacts", status="pending"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PropertySyncRun.objects.create(
            organization=organization, crm="hubspot", object_type="contacts", status="in_progress"
        )
    # finished runs do not count
    PropertySyncRun.objects.create(
        organization=organization, crm="hubspot", object_type="contacts", status="failed"
    )
