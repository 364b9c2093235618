"""Alerts: one message when a connection crosses a threshold, one when it recovers.

The beat task calls `alerts_evaluate` every minute. Each rule is evaluated under a row lock, so
two overlapping ticks cannot both announce the same crossing; `AlertRule.firing` keeps what
was announced. A transition is recorded once at least one channel took the message (or when
the rule has no channel at all); when every channel failed it is left unrecorded, so the next
tick tries again rather than losing the alert.

Webhook targets obey the CRM client's outbound rules (integrations/outbound.py): checked when
the rule is saved and again at every call, through the same checked connections, no redirects.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.utils import timezone

from core.errors import InvalidInput
from core.logging import redact
from crm_sync.alert_selectors import alert_conditions
from crm_sync.models import AlertRule
from integrations import outbound, registry
from integrations.models import CrmConnection

logger = logging.getLogger(__name__)

# Outbound rules per kind: a webhook is no CRM, so no kind's API-host list applies.
WEBHOOK_KIND = "alert_webhook"


@dataclass(frozen=True)
class AlertMessage:
    event: str  # "alert" | "recovery"
    condition: str
    subject: str
    text: str
    payload: dict


def alert_webhook_check(url: str) -> None:
    """Raise InvalidInput (400 invalid_webhook_url) when alerts may not be POSTed to `url`."""
    if not url:
        return
    problem = outbound.url_problem(url, kind=WEBHOOK_KIND)
    if problem:
        raise InvalidInput(
            f"webhook_url is not allowed: {problem}.",
            code="invalid_webhook_url",
            details={"webhook_url": [problem]},
        )


def _message(
    *, event: str, condition: str, detail: str, since: str, connection, now: datetime
) -> AlertMessage:
    crm = registry.get_connector_class(connection.kind).display_name
    where = f"{crm} ({connection.name}, {connection.organization.slug})"
    label = AlertRule.Condition(condition).label
    if event == "alert":
        subject = f"[CRM Sync Hub] {label}: {where}"
        text = f"{detail}.\n\nSince {since}. One recovery message follows when it clears."
    else:
        subject = f"[CRM Sync Hub] Recovered: {label}: {where}"
        text = f"{label} is back within its threshold (alerted since {since}; was: {detail})."
    payload = {
        "event": event,
        "condition": condition,
        "message": subject.removeprefix("[CRM Sync Hub] "),
        "detail": detail,
        "since": since,
        "at": now.isoformat(),
        "connection": {"id": connection.pk, "kind": connection.kind, "name": connection.name},
        "organization": connection.organization.slug,
    }
    return AlertMessage(event, condition, subject, text, payload)


def _send_email(rule: AlertRule, message: AlertMessage) -> str | None:
    try:
        send_mail(message.subject, message.text, settings.DEFAULT_FROM_EMAIL, rule.recipients)
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported, never raised into the tick
        return f"email: {exc}"
    return None


def _post_webhook(rule: AlertRule, message: AlertMessage) -> str | None:
    from integrations.http import new_session

    problem = outbound.url_problem(rule.webhook_url, kind=WEBHOOK_KIND)
    if problem:
        return f"webhook: {problem}"
    timeout = settings.ALERT_WEBHOOK_TIMEOUT_SECONDS
    try:
        with new_session() as session:
            response = session.post(
                rule.webhook_url, json=message.payload, timeout=(timeout, timeout), allow_redirects=False
            )
    except Exception as exc:  # noqa: BLE001 - refused targets, timeouts, resets: all reported alike
        return f"webhook: {exc}"
    if not 200 <= response.status_code < 300:
        return f"webhook: HTTP {response.status_code}"
    return None


def _deliver(rule: AlertRule, message: AlertMessage) -> tuple[bool, list[str]]:
    """Send on every channel; (taken by at least one, or there is none; the errors)."""
    errors = []
    channels = 0
    for wanted, send in ((rule.recipients, _send_email), (rule.webhook_url, _post_webhook)):
        if not wanted:
            continue
        channels += 1
        error = send(rule, message)
        if error:
            errors.append(redact(error)[:500])
    return (not channels or len(errors) < channels), errors


@transaction.atomic
def alert_rule_evaluate(*, rule_id: int, now: datetime | None = None) -> list[AlertMessage]:
    """Evaluate one rule; send and record its transitions. Returns the messages sent."""
    now = now or timezone.now()
    rule = AlertRule.objects.select_for_update().filter(pk=rule_id, enabled=True).first()
    if rule is None:
        return []
    connection = CrmConnection.objects.select_related("organization").get(pk=rule.connection_id)
    readings = alert_conditions(rule=rule, connection=connection, now=now)
    firing = dict(rule.firing or {})
    sent, errors = [], []
    for condition in sorted(set(readings) | set(firing)):
        detail = readings.get(condition)
        if detail and condition not in firing:
            message = _message(
                event="alert",
                condition=condition,
                detail=detail,
                since=now.isoformat(),
                connection=connection,
                now=now,
            )
            record = {"since": now.isoformat(), "detail": detail}
        elif not detail and condition in firing:
            was = firing[condition]
            message = _message(
                event="recovery",
                condition=condition,
                detail=was["detail"],
                since=was["since"],
                connection=connection,
                now=now,
            )
            record = None
        else:
            continue
        delivered, failures = _deliver(rule, message)
        errors += failures
        if not delivered:
            logger.warning(
                "alert for connection %s not delivered, retried next tick: %s", connection.pk, failures
            )
            continue
        if record is None:
            firing.pop(condition)
        else:
            firing[condition] = record
        sent.append(message)
        logger.info("%s sent for connection %s: %s", message.event, connection.pk, message.subject)
    rule.firing = firing
    rule.last_evaluated_at = now
    rule.last_delivery_error = "; ".join(errors)
    rule.save(update_fields=["firing", "last_evaluated_at", "last_delivery_error", "updated_at"])
    return sent


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule of an enabled connection (each in its own transaction)."""
    rule_ids = AlertRule.objects.filter(enabled=True, connection__enabled=True).values_list("pk", flat=True)
    counts = {"rules": 0, "alerts": 0, "recoveries": 0}
    for rule_id in list(rule_ids):
        try:
            messages = alert_rule_evaluate(rule_id=rule_id, now=now)
        except DatabaseError:
            raise  # the task retries infrastructure errors
        except Exception:
            # One rule's fault (a connector gone from the registry, a reading that broke) must not
            # silence every other connection's alerts.
            logger.exception("alerts: evaluating rule %s failed", rule_id)
            continue
        counts["rules"] += 1
        counts["alerts"] += sum(m.event == "alert" for m in messages)
        counts["recoveries"] += sum(m.event == "recovery" for m in messages)
    return counts
