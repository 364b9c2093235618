"""Webhook subscriptions: create (the secret is returned once), change, delete, resume; audited."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import InvalidInput
from integrations.outbound import url_problem
from webhooks.models import Event, WebhookDelivery, WebhookSubscription
from webhooks.signing import secret_new

# The outbound rules of a connection's base URL; no kind has host restrictions for webhooks.
URL_KIND = "webhook"


def webhook_url_check(url: str) -> None:
    """Raise InvalidInput (400 invalid_url) when deliveries may not go to `url` (integrations/outbound.py)."""
    problem = url_problem(url, kind=URL_KIND)
    if problem:
        raise InvalidInput(f"url is not allowed: {problem}.", code="invalid_url", details={"url": [problem]})


def _events_check(events: Any) -> list[str]:
    if not isinstance(events, list) or not events:
        raise InvalidInput(
            "Give at least one event.",
            code="validation_error",
            details={"events": ["Give at least one event."]},
        )
    unknown = sorted({str(e) for e in events} - set(Event.values))
    if unknown:
        raise InvalidInput(
            "Unknown events.",
            code="validation_error",
            details={"events": [f"Unknown: {unknown}; use {list(Event.values)}."]},
        )
    return sorted(set(events))


def _audit(
    subscription: WebhookSubscription, *, actor: Actor, action: str, changes: dict | None = None
) -> None:
    audit_record(
        organization=subscription.organization,
        actor=actor,
        action=action,
        object_type="webhook_subscription",
        object_id=subscription.pk,
        changes=changes,
    )


@transaction.atomic
def subscription_create(
    *, organization, url: str, events: Any, description: str = "", actor: Actor
) -> tuple[WebhookSubscription, str]:
    """Create a subscription; return it and its signing secret (never shown again)."""
    webhook_url_check(url)
    secret = secret_new()
    subscription = WebhookSubscription.objects.create(
        organization=organization,
        url=url,
        events=_events_check(events),
        description=description,
        signing={"secret": secret},
    )
    _audit(
        subscription,
        actor=actor,
        action="webhook.create",
        changes={"url": url, "events": subscription.events},
    )
    return subscription, secret


@transaction.atomic
def subscription_update(
    *, subscription: WebhookSubscription, data: dict, actor: Actor
) -> WebhookSubscription:
    changed = {}
    if "url" in data:
        webhook_url_check(data["url"])
        subscription.url = changed["url"] = data["url"]
    if "events" in data:
        subscription.events = changed["events"] = _events_check(data["events"])
    if "description" in data:
        subscription.description = changed["description"] = data["description"]
    if changed:
        subscription.save()
        _audit(subscription, actor=actor, action="webhook.update", changes=changed)
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: WebhookSubscription, actor: Actor) -> None:
    _audit(subscription, actor=actor, action="webhook.delete", changes={"url": subscription.url})
    subscription.delete()


@transaction.atomic
def subscription_pause(*, subscription_id: int, reason: str, now=None) -> None:
    WebhookSubscription.objects.filter(pk=subscription_id, status=WebhookSubscription.Status.ACTIVE).update(
        status=WebhookSubscription.Status.PAUSED, paused_reason=reason[:500], paused_at=now or timezone.now()
    )


@transaction.atomic
def subscription_resume(*, subscription: WebhookSubscription, actor: Actor) -> WebhookSubscription:
    """Resume a paused subscription: its failure count restarts and its pending deliveries are due now."""
    now = timezone.now()
    subscription.status = WebhookSubscription.Status.ACTIVE
    subscription.paused_reason = ""
    subscription.paused_at = None
    subscription.consecutive_failures = 0
    subscription.save(
        update_fields=["status", "paused_reason", "paused_at", "consecutive_failures", "updated_at"]
    )
    WebhookDelivery.objects.filter(subscription=subscription, status=WebhookDelivery.Status.PENDING).update(
        next_attempt_at=now
    )
    _audit(subscription, actor=actor, action="webhook.resume")
    from webhooks.events import deliveries_nudge

    deliveries_nudge()
    return subscription
