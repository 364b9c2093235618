"""Sending deliveries: claim a subscription, send its oldest due delivery, record the answer.

One in flight per subscription: a sender first takes the subscription (`sending_token`,
a conditional UPDATE that is exclusive on every backend; SKIP LOCKED on PostgreSQL so
senders never wait on each other), then sends one delivery, then lets go. The target is
checked again at send time (integrations/outbound.py: the address it resolves to now, no
redirects followed), so a URL whose DNS moved to a private address is refused.

Outcomes: a 2xx delivers. Anything else (3xx included: redirects are not followed, a 4xx,
a 5xx, a timeout, a refused target) is a failed attempt: retried with exponential backoff
and jitter (a 429's or 503's Retry-After is a floor) until WEBHOOK_MAX_ATTEMPTS, then failed.
Each failed attempt counts against the subscription; WEBHOOK_PAUSE_AFTER_FAILURES in a row
pause it (a refused target pauses it at once: it cannot succeed until someone looks).
"""

import json
import logging
import time
import uuid
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from core.logging import redact
from crm_sync.services.retry import next_retry_time
from integrations import outbound
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import URL_KIND, subscription_pause
from webhooks.signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy: the outbound check needs the real peer address
    adapter = outbound.OutboundAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": "crm-sync-hub-webhooks/1.0", "Content-Type": "application/json"})
    return session


def subscription_claim(*, token: str, now: datetime) -> int | None:
    """Take one active subscription with a due delivery and no sender; return its id."""
    due = WebhookDelivery.objects.filter(
        subscription_id=OuterRef("pk"), status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    )
    with transaction.atomic():
        candidates = (
            WebhookSubscription.objects.filter(
                status=WebhookSubscription.Status.ACTIVE, sending_token__isnull=True
            )
            .filter(Exists(due))
            # The least recently served first, so one busy receiver does not starve the others.
            .order_by(F("last_delivery_at").asc(nulls_first=True), "pk")
        )
        if db_connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        for pk in list(candidates.values_list("pk", flat=True)[:5]):
            taken = WebhookSubscription.objects.filter(
                pk=pk, status=WebhookSubscription.Status.ACTIVE, sending_token__isnull=True
            ).update(sending_token=token, sending_since=now)
            if taken:
                return pk
    return None


def _release(subscription_id: int, token: str) -> None:
    WebhookSubscription.objects.filter(pk=subscription_id, sending_token=token).update(
        sending_token=None, sending_since=None
    )


def _take_delivery(subscription_id: int, now: datetime) -> WebhookDelivery | None:
    delivery = (
        WebhookDelivery.objects.filter(
            subscription_id=subscription_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .first()
    )
    if delivery is None:
        return None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
    )
    delivery.refresh_from_db()
    return delivery


def _read_capped(response: requests.Response, limit: int) -> str:
    try:
        raw = response.raw.read(limit * 4 + 4, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - a broken body still leaves the status code
        return ""
    finally:
        response.close()
    return raw.decode("utf-8", errors="replace")[:limit]


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def delivery_send(*, delivery: WebhookDelivery, subscription: WebhookSubscription, session=None) -> bool:
    """POST one delivery, signed; record the outcome. Return True when delivered."""
    secret = subscription.signing.get("secret", "")
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Id": str(delivery.event_id),
        "X-Webhook-Delivery": str(delivery.pk),
        "X-Webhook-Timestamp": str(timestamp),
        SIGNATURE_HEADER: signature_header(secret=secret, timestamp=timestamp, body=body),
    }
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    status_code, response_body, error, refused, response = None, "", "", False, None
    problem = outbound.url_problem(subscription.url, kind=URL_KIND)
    if problem:
        error, refused = f"The target is not allowed: {problem}.", True
    else:
        try:
            response = (session or _session()).post(
                subscription.url, data=body, headers=headers, timeout=(timeout, timeout),
                allow_redirects=False, stream=True,
            )  # fmt: skip
            status_code = response.status_code
            response_body = _read_capped(response, settings.WEBHOOK_RESPONSE_MAX_CHARS)
            if 300 <= status_code < 400:
                error = "The receiver answered with a redirect; redirects are not followed."
            elif not 200 <= status_code < 300:
                error = f"The receiver answered {status_code}."
        except outbound.OutboundRefused as exc:
            error, refused = f"Refused to connect: {exc.reason}.", True
        except requests.Timeout:
            error = f"No answer within {timeout:g} s."
        except requests.RequestException as exc:
            error = f"Could not reach the receiver: {type(exc).__name__}."
    return _outcome(
        delivery=delivery,
        subscription=subscription,
        status_code=status_code,
        response_body=redact(response_body, secrets=(secret,)) if response_body else "",
        error=error,
        refused=refused,
        retry_after=_retry_after(response),
    )


@transaction.atomic
def _outcome(*, delivery, subscription, status_code, response_body, error, refused, retry_after) -> bool:
    now = timezone.now()
    delivery.last_status_code = status_code
    delivery.last_response_body = response_body
    delivery.last_error = error[:500]
    sub_updates: dict = {"last_delivery_at": now}
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        sub_updates.update(consecutive_failures=0, last_success_at=now)
    else:
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
        else:
            delivery.status = WebhookDelivery.Status.PENDING
            delivery.next_attempt_at = next_retry_time(
                now=now,
                retry_count=delivery.attempts - 1,
                base=settings.WEBHOOK_RETRY_BASE_SECONDS,
                cap=settings.WEBHOOK_RETRY_CAP_SECONDS,
                retry_after=retry_after,
            )
        sub_updates["consecutive_failures"] = F("consecutive_failures") + 1
    # An update, not a save: a subscription deleted during the call took its deliveries with it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=delivery.status,
        delivered_at=delivery.delivered_at,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_response_body=delivery.last_response_body,
        last_error=delivery.last_error,
    )
    WebhookSubscription.objects.filter(pk=subscription.pk).update(**sub_updates)
    if error:
        failures = (
            WebhookSubscription.objects.filter(pk=subscription.pk)
            .values_list("consecutive_failures", flat=True)
            .first()
        ) or 0
        if refused:
            subscription_pause(subscription_id=subscription.pk, reason=error, now=now)
        elif failures >= settings.WEBHOOK_PAUSE_AFTER_FAILURES:
            subscription_pause(
                subscription_id=subscription.pk,
                reason=f"{failures} failed attempts in a row; last: {error}",
                now=now,
            )
    return not error


def subscriptions_reap(*, now: datetime) -> int:
    """Free what a dead sender held: its subscription, and its delivery (due again; the attempt
    counted, so a delivery that kills its sender every time still ends)."""
    cutoff = now - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.SENDING, last_attempt_at__lt=cutoff
        ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now)
        subscriptions = WebhookSubscription.objects.filter(
            sending_token__isnull=False, sending_since__lt=cutoff
        ).update(sending_token=None, sending_since=None)
    if deliveries or subscriptions:
        logger.warning(
            "Freed %d webhook subscriptions and %d deliveries held by a dead sender",
            subscriptions,
            deliveries,
        )
    return subscriptions + deliveries


def deliveries_send_due(
    *, max_deliveries: int = 200, max_seconds: float = 50.0, session=None
) -> dict[str, int]:
    """Send due deliveries, one subscription at a time, until none is due or the budget is spent."""
    counts = {"delivered": 0, "failed": 0, "reaped": subscriptions_reap(now=timezone.now())}
    deadline = time.monotonic() + max_seconds
    session = session or _session()
    for _ in range(max_deliveries):
        if time.monotonic() > deadline:
            break
        token = uuid.uuid4().hex
        now = timezone.now()
        subscription_id = subscription_claim(token=token, now=now)
        if subscription_id is None:
            break
        try:
            delivery = _take_delivery(subscription_id, now)
            if delivery is None:
                continue
            subscription = WebhookSubscription.objects.get(pk=subscription_id)
            ok = delivery_send(delivery=delivery, subscription=subscription, session=session)
            counts["delivered" if ok else "failed"] += 1
        finally:
            _release(subscription_id, token)
    return counts
