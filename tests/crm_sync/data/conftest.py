"""A fixed data set for the CRM data API: local contacts and two sources' pulled records."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from crm_sync.models import RemoteRecord
from tests.integrations.factories import CrmConnectionFactory

T0 = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)


def remote(connection, object_type, remote_id, fields, *, email="", minutes=0, **extra) -> RemoteRecord:
    name = (
        " ".join(filter(None, [fields.get("first_name"), fields.get("last_name")]))
        or fields.get("name")
        or fields.get("dealname", "")
    )
    return RemoteRecord.objects.create(
        organization=connection.organization,
        connection=connection,
        object_type=object_type,
        remote_id=remote_id,
        fields=fields,
        email=email,
        display_name=name,
        remote_updated_at=T0 + timedelta(minutes=minutes),
        fetched_at=timezone.now(),
        **extra,
    )


@pytest.fixture
def brivity(org):
    return CrmConnectionFactory(organization=org, kind="brivity", base_url="https://api.brivity.com/v2")


@pytest.fixture
def hubspot(org):
    return CrmConnectionFactory(organization=org, kind="hubspot")


@pytest.fixture
def dataset(org, other_org, brivity, hubspot):
    """The same rows on every database; the search tests assert exact, ordered results over them."""
    for first, last, email, phone, company in [
        ("José", "Álvarez", "jose.alvarez@gmail.com", "+1 555 0101", "Acme Realty"),
        ("John", "Smith", "john.smith@example.com", "555-0102", "Smith & Sons"),
        ("Anna", "Smithers", "anna@smithers.io", "", "Globex"),
        ("Zoë", "O'Brien", "zoe@obrien.ie", "(555) 0104", ""),
    ]:
        Contact.objects.create(
            organization=org, first_name=first, last_name=last, email=email, phone=phone, company=company
        )
    Contact.objects.create(
        organization=other_org, first_name="John", last_name="Other", email="john@other.org"
    )
    remote(brivity, "contacts", "b1", {"first_name": "Johnny", "last_name": "Cash", "phone": "555 0199"},
           email="johnny@cash.com", minutes=1)  # fmt: skip
    remote(brivity, "contacts", "b2", {"first_name": "Smith", "last_name": "Jones", "company": "Jonesco"},
           email="sj@gmail.com", minutes=2)  # fmt: skip
    remote(brivity, "contacts", "b3", {"first_name": "Renée", "last_name": "Durand"},
           email="renee@durand.fr", minutes=3)  # fmt: skip
    maple = {"name": "Maple Street sale", "stage": "closed won", "address": "12 Maple St"}
    remote(brivity, "deals", "d1", maple, minutes=4)
    remote(brivity, "deals", "d2", {"name": "Oak listing", "stage": "appointment", "address": "9 Smith Ave"},
           minutes=5)  # fmt: skip
    remote(hubspot, "contacts", "h1", {"first_name": "John", "last_name": "Appleseed"},
           email="jappleseed@gmail.com", minutes=6)  # fmt: skip
    remote(hubspot, "deals", "h9", {"dealname": "Smith renewal", "dealstage": "contractsent"}, minutes=7)
    other = CrmConnectionFactory(
        organization=other_org, kind="brivity", base_url="https://api.brivity.com/v2"
    )
    remote(other, "contacts", "x1", {"first_name": "John", "last_name": "Hidden"}, email="john@hidden.org")
    return {"other_connection": other}


@pytest.fixture
def paged(org):
    """The paged test CRM (tests/crm_sync/pull/paged.py), registered for the test, and a connection to it."""
    from integrations import registry
    from tests.crm_sync.pull.paged import PagedConnector

    PagedConnector.reset()
    with registry.register_temporarily(PagedConnector):
        yield CrmConnectionFactory(
            organization=org, kind="paged", base_url="https://paged.invalid", credentials={"api_key": "pk-x"}
        )
    PagedConnector.reset()


@pytest.fixture
def queued(monkeypatch):
    """The pull tasks the API queues, as (connection id, object type, run id), instead of sending them."""
    sent = []

    def apply_async(kwargs=None, **options):
        sent.append((kwargs["connection_id"], kwargs["object_type"], kwargs["run_id"]))

    from crm_sync.tasks import pull_object_type

    monkeypatch.setattr(pull_object_type, "apply_async", apply_async)
    return sent
