from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact, IdempotencyKey, Registration
from contacts.services.idempotency import idempotency_keys_purge

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"
FROM_EVENT = "/api/v1/contacts/from-event/"


def test_same_key_same_body_replays_and_writes_nothing(api_client):
    first = api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    second = api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Contact.objects.count() == 1


def test_same_key_other_body_is_422(api_client):
    api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    response = api_client.post(URL, {"email": "b@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Contact.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(api_client):
    api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    response = api_client.post(
        FROM_EVENT,
        {"contact": {"email": "a@example.com"}, "event": {"name": "E"}},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 422
    assert Registration.objects.count() == 0


def test_expired_key_is_ignored(api_client, org):
    api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = api_client.post(URL, {"email": "b@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert Contact.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


def test_keys_are_per_organization(api_client, make_api_client, other_org):
    other_client = make_api_client(other_org)
    assert api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    response = other_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert Contact.objects.count() == 2


def test_failed_request_is_not_stored(api_client):
    bad = api_client.post(URL, {"email": "nope"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert bad.status_code == 400
    assert IdempotencyKey.objects.count() == 0
    good = api_client.post(URL, {"email": "ok@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert good.status_code == 201


def test_from_event_replay_keeps_status_and_body(api_client):
    payload = {"contact": {"email": "a@example.com"}, "event": {"name": "E"}}
    first = api_client.post(FROM_EVENT, payload, HTTP_IDEMPOTENCY_KEY="rsvp-1")
    second = api_client.post(FROM_EVENT, payload, HTTP_IDEMPOTENCY_KEY="rsvp-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Registration.objects.count() == 1


def test_key_too_long_is_400(api_client):
    response = api_client.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Contact.objects.count() == 0


def test_purge_deletes_only_expired_keys(org):
    now = timezone.now()
    IdempotencyKey.objects.create(
        organization=org, key="old", endpoint="e", request_hash="h", created_at=now - timedelta(hours=30)
    )
    IdempotencyKey.objects.create(organization=org, key="new", endpoint="e", request_hash="h", created_at=now)
    assert idempotency_keys_purge(now=now) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_the_hourly_purge_is_scheduled_and_its_task_purges(org):
    from django_celery_beat.models import PeriodicTask

    from contacts.tasks import purge_idempotency_keys

    scheduled = PeriodicTask.objects.get(task="contacts.purge_idempotency_keys")
    assert scheduled.enabled and scheduled.crontab.minute == "23" and scheduled.queue == "maintenance"
    IdempotencyKey.objects.create(
        organization=org,
        key="old",
        endpoint="e",
        request_hash="h",
        created_at=timezone.now() - timedelta(hours=30),
    )
    assert purge_idempotency_keys.run() == 1
    assert not IdempotencyKey.objects.exists()
