"""Sending deliveries to a real receiver on loopback: signature, retries with backoff, one in flight,
pause after repeated failures, outbound refusal at send time, no redirects, the reaper."""

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from webhooks.delivery import deliveries_send_due, subscription_claim, subscriptions_reap
from webhooks.events import event_emit
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.signing import SIGNATURE_HEADER, signature_verify

pytestmark = pytest.mark.django_db


def emit(org, event="contact.created", n=1):
    for i in range(n):
        event_emit(organization_id=org.pk, event=event, data={"contact_ids": [str(i)], "count": 1})


def test_a_delivery_is_signed_over_its_body_with_a_timestamp(org, subscribe, receiver):
    subscription, secret = subscribe()
    emit(org)
    assert deliveries_send_due()["delivered"] == 1
    [request] = receiver.requests
    headers = request["headers"]
    assert headers["X-Webhook-Event"] == "contact.created"
    assert signature_verify(
        secret=secret, header=headers[SIGNATURE_HEADER], body=request["body"], now=int(time.time())
    )
    # a changed body, another secret or an old timestamp do not verify
    assert not signature_verify(
        secret=secret, header=headers[SIGNATURE_HEADER], body=request["body"] + b" ", now=int(time.time())
    )
    assert not signature_verify(
        secret="whsec_other", header=headers[SIGNATURE_HEADER], body=request["body"], now=int(time.time())
    )
    assert not signature_verify(
        secret=secret, header=headers[SIGNATURE_HEADER], body=request["body"], now=int(time.time()) + 3600
    )
    body = json.loads(request["body"])
    assert body["type"] == "contact.created" and body["data"]["contact_ids"] == ["0"]
    assert headers["X-Webhook-Id"] == body["id"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.last_status_code == 200 and delivery.attempts == 1
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None and subscription.sending_token is None


def test_only_subscribed_events_of_the_organization_are_queued(org, other_org, subscribe):
    subscribe(events=["contact.failed"])
    subscribe(events=["contact.created"], organization=other_org)
    emit(org, event="contact.created")
    assert not WebhookDelivery.objects.exists()
    emit(org, event="contact.failed")
    assert WebhookDelivery.objects.count() == 1


def test_a_failure_is_retried_with_backoff_and_logged(org, subscribe, receiver, settings):
    subscription, secret = subscribe()
    receiver.script = [(500, f"boom, your secret is {secret}", {})]
    emit(org)
    assert deliveries_send_due()["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code == 500 and "answered 500" in delivery.last_error
    assert secret not in delivery.last_response_body and "boom" in delivery.last_response_body
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert settings.WEBHOOK_RETRY_BASE_SECONDS * 0.5 <= wait <= settings.WEBHOOK_RETRY_BASE_SECONDS
    # not due yet: nothing is sent
    assert deliveries_send_due() == {"delivered": 0, "failed": 0, "reaped": 0}
    assert len(receiver.requests) == 1
    # due again: the second attempt succeeds and resets the subscription's failures
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries_send_due()["delivered"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_the_backoff_doubles_and_honours_retry_after(org, subscribe, receiver, settings):
    subscribe()
    receiver.script = [(503, "", {}), (429, "", {"Retry-After": "7200"})]
    emit(org)
    deliveries_send_due()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliveries_send_due()
    delivery = WebhookDelivery.objects.get()
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert wait >= 7200  # the receiver's Retry-After is a floor, even past the cap


def test_a_delivery_fails_for_good_after_max_attempts(org, subscribe, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    subscribe()
    receiver.script = [(500, "", {}), (500, "", {})]
    emit(org)
    deliveries_send_due()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliveries_send_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 2
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliveries_send_due()
    assert len(receiver.requests) == 2


def test_a_subscription_that_keeps_failing_is_paused_then_resumed(
    org, subscribe, receiver, settings, api_client
):
    settings.WEBHOOK_PAUSE_AFTER_FAILURES = 3
    subscription, _ = subscribe()
    receiver.script = [(500, "", {})] * 3
    emit(org, n=4)
    assert deliveries_send_due()["failed"] == 3
    subscription.refresh_from_db()
    assert subscription.status == "paused" and "3 failed attempts" in subscription.paused_reason
    # paused: its deliveries wait, new events still queue for it
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    emit(org)
    assert deliveries_send_due()["delivered"] == 0 and len(receiver.requests) == 3
    response = api_client.post(f"/api/v1/webhooks/{subscription.pk}/resume/")
    assert response.status_code == 200
    assert deliveries_send_due()["delivered"] == 5
    assert WebhookDelivery.objects.filter(status="delivered").count() == 5


def test_redirects_are_not_followed(org, subscribe, receiver):
    subscribe()
    receiver.script = [(302, "", {"Location": "http://127.0.0.1:1/elsewhere"})]
    emit(org)
    assert deliveries_send_due()["failed"] == 1
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 302 and "redirects are not followed" in delivery.last_error


def test_a_target_refused_at_send_time_pauses_without_a_request(org, subscribe, receiver, settings):
    subscription, _ = subscribe()
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []  # the loopback receiver is no longer allowed
    emit(org)
    assert deliveries_send_due()["failed"] == 1
    assert receiver.requests == []
    subscription.refresh_from_db()
    assert subscription.status == "paused" and "not allowed" in subscription.paused_reason


def test_a_name_that_resolves_to_a_private_address_is_refused(org, subscribe, monkeypatch, settings):
    """DNS moved after the save: the check at connect time refuses it (no rebinding window)."""
    subscription, _ = subscribe(url="https://hooks.example.com/crm")
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []

    def private(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private)
    emit(org)
    assert deliveries_send_due()["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code is None and "Refused to connect" in delivery.last_error
    subscription.refresh_from_db()
    assert subscription.status == "paused"


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_never_more_than_one_in_flight_per_subscription(org, subscribe, receiver):
    """Three senders at once (PostgreSQL: real concurrency, SKIP LOCKED) never overlap on one receiver."""
    subscription, _ = subscribe()
    receiver.delay = 0.05  # long enough for overlapping senders to show
    emit(org, n=6)

    def sender():
        try:
            deliveries_send_due()
        finally:
            db_connection.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert WebhookDelivery.objects.filter(status="delivered").count() == 6
    assert receiver.max_in_flight == 1


def test_a_held_subscription_is_not_claimed_again(org, subscribe):
    subscription, _ = subscribe()
    emit(org, n=2)
    now = timezone.now()
    assert subscription_claim(token="a", now=now) == subscription.pk
    assert subscription_claim(token="b", now=now) is None


def test_the_reaper_frees_what_a_dead_sender_held(org, subscribe, receiver):
    subscription, _ = subscribe()
    emit(org)
    long_ago = timezone.now() - timedelta(hours=1)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        sending_token="dead", sending_since=long_ago
    )
    WebhookDelivery.objects.update(status="sending", attempts=1, last_attempt_at=long_ago)
    assert subscriptions_reap(now=timezone.now()) == 2
    assert deliveries_send_due()["delivered"] == 1
    assert WebhookDelivery.objects.get().attempts == 2


def test_a_subscription_deleted_during_a_delivery_does_not_break_the_sender(org, subscribe, receiver):
    from webhooks.delivery import delivery_send

    subscription, _ = subscribe()
    emit(org)
    delivery = WebhookDelivery.objects.get()
    WebhookSubscription.objects.filter(pk=subscription.pk).delete()
    assert delivery_send(delivery=delivery, subscription=subscription) is True
    assert not WebhookDelivery.objects.exists()
