"""A pull writes the contact timeline: one event per contact it touched."""

import pytest

from crm_sync.models import ContactSyncEvent
from crm_sync.services.pull import pull_run
from tests.crm_sync.pull.test_pull_service import person

pytestmark = pytest.mark.django_db


def test_a_pull_records_one_event_per_contact_it_touched(connection, paged):
    paged.records["contacts"] = [person(n) for n in range(1, 4)]
    pull_run(connection_id=connection.pk, object_type="contacts")
    events = ContactSyncEvent.objects.filter(connection=connection, direction="pull")
    assert events.count() == 3
    assert set(events.values_list("contact__email", flat=True)) == {
        f"person{n}@example.com" for n in (1, 2, 3)
    }
