"""Which writes emit which events, once per write (never once per row of a bulk write), after commit."""

import pytest

from contacts.models import Contact
from contacts.signals import contacts_changed_on_commit
from crm_sync.models import ProcessingStatus, SyncConflict
from crm_sync.services.pull_apply import PullContext, page_apply_contacts
from crm_sync.services.push import push_batch_process
from integrations.connectors.base import PushResult
from integrations.connectors.base import RemoteRecord as PulledRecord
from integrations.errors import CrmValidationError
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_a_contact_created_through_the_api_emits_contact_created(
    api_client, subscribe, django_capture_on_commit_callbacks
):
    subscribe(events=["contact.created", "contact.updated"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/contacts/", {"email": "ada@example.com"}, format="json")
    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "contact.created"
    assert delivery.payload["data"]["contact_ids"] == [response.json()["id"]]
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/api/v1/contacts/{response.json()['id']}/", {"first_name": "Ada"}, format="json")
    updated = WebhookDelivery.objects.get(event="contact.updated")
    assert "first_name" in updated.payload["data"]["fields"]


def test_a_rolled_back_write_emits_nothing(org, subscribe, django_capture_on_commit_callbacks):
    from django.db import transaction

    subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                contact = ContactFactory(organization=org)
                contacts_changed_on_commit(
                    organization=org, contact_ids=[contact.pk], fields=["email"], action="created"
                )
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
    assert not WebhookDelivery.objects.exists()


def test_a_bulk_write_emits_one_event_for_the_batch(org, subscribe, django_capture_on_commit_callbacks):
    subscribe(events=["contact.updated"])
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(2500)]
    with django_capture_on_commit_callbacks(execute=True):
        contacts_changed_on_commit(organization=org, contact_ids=ids, fields=["company"], action="updated")
    delivery = WebhookDelivery.objects.get()
    data = delivery.payload["data"]
    assert data["count"] == 2500 and len(data["contact_ids"]) == 1000 and data["truncated"] is True


def test_an_organization_without_subscriptions_pays_one_query(org, django_assert_num_queries):
    from webhooks.events import event_emit

    with django_assert_num_queries(1):
        assert event_emit(organization_id=org.pk, event="contact.created", data={}) == 0


def test_a_push_batch_emits_one_synced_and_one_failed_event(
    connection, scripted, subscribe, django_capture_on_commit_callbacks
):
    subscribe(events=["contact.synced", "contact.failed"], organization=connection.organization)
    states = [ContactSyncStateFactory(connection=connection, queued=True) for _ in range(4)]
    rejected = str(states[0].contact_id)

    def answer(records):
        return [
            PushResult(contact_id=r.contact_id, ok=False, error=CrmValidationError("bad phone"))
            if r.contact_id == rejected
            else PushResult(contact_id=r.contact_id, ok=True, remote_id=f"r-{r.contact_id[:6]}")
            for r in records
        ]

    scripted.script = [answer]
    with django_capture_on_commit_callbacks(execute=True):
        push_batch_process(connection_id=connection.pk)
    synced = WebhookDelivery.objects.get(event="contact.synced").payload["data"]
    failed = WebhookDelivery.objects.get(event="contact.failed").payload["data"]
    assert synced["count"] == 3 and rejected not in synced["contact_ids"]
    assert failed["contact_ids"] == [rejected] and failed["connection_id"] == connection.pk
    assert states[0].__class__.objects.get(pk=states[0].pk).processing_status == ProcessingStatus.ERROR


def test_a_retry_to_come_is_not_a_failed_event(
    connection, scripted, subscribe, django_capture_on_commit_callbacks
):
    from integrations.errors import CrmUnavailable

    subscribe(events=["contact.failed"], organization=connection.organization)
    ContactSyncStateFactory(connection=connection, queued=True)
    scripted.script = [CrmUnavailable("down")]
    with django_capture_on_commit_callbacks(execute=True):
        push_batch_process(connection_id=connection.pk)
    assert not WebhookDelivery.objects.exists()


def test_a_pull_page_that_opens_conflicts_emits_one_event(
    connection, subscribe, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from accounts.actors import Actor

    connection.conflict_strategy = "manual_review"
    connection.save()
    subscribe(events=["conflict.created"], organization=connection.organization)
    contacts = [ContactFactory(organization=connection.organization, company=f"Local {n}") for n in range(2)]
    for n, contact in enumerate(contacts):
        ContactSyncStateFactory(
            connection=connection, contact=contact, remote_id=f"r{n}", base_values={"company": "Base"}
        )
    records = [
        PulledRecord(
            remote_id=f"r{n}",
            object_type="contacts",
            properties={"email": contact.email, "company": f"Remote {n}"},
            updated_at=timezone.now(),
            email=contact.email,
        )
        for n, contact in enumerate(contacts)
    ]
    ctx = PullContext(
        connection=connection,
        object_type="contacts",
        field_mapping={},
        definitions={},
        now=timezone.now(),
        actor=Actor.system("pull"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        page_apply_contacts(records=records, ctx=ctx)
    assert SyncConflict.objects.count() == 2
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "conflict.created" and delivery.payload["data"]["count"] == 2
    assert Contact.objects.filter(company__startswith="Local").count() == 2


def test_an_organization_without_subscriptions_emits_with_no_query(org, django_assert_num_queries):
    """The "has subscriptions" flag is cached; a new subscription forgets it at once."""
    from webhooks.events import event_emit, organization_has_subscriptions

    assert organization_has_subscriptions(organization_id=org.pk) is False
    with django_assert_num_queries(0):
        assert event_emit(organization_id=org.pk, event="contact.created", data={"contact_ids": []}) == 0
    WebhookSubscription.objects.create(
        organization=org, url="https://hooks.example.com/in", events=["contact.created"], signing={}
    )
    assert event_emit(organization_id=org.pk, event="contact.created", data={"contact_ids": []}) == 1
