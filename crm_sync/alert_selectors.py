"""What an alert rule measures: one reading per condition, each a short aggregate query.

`alert_conditions` returns, per condition the rule switches on, a sentence for a person when its
threshold is crossed and None when it is not. Conditions switched off are absent, so turning
one off in the admin clears it like a recovery would.
"""

import logging
from datetime import datetime, timedelta

from django.db.models import F, Min, Q, Sum

from crm_sync.models import AlertRule, ContactSyncState, ProcessingStatus, SyncRun
from integrations import registry
from integrations.errors import CrmError

logger = logging.getLogger(__name__)

Condition = AlertRule.Condition


def push_error_rate(*, connection, since: datetime) -> tuple[int, int]:
    """(failed attempts, all attempts) of the connection's pushes finished since `since`.

    A retried failure counts as a failure: the CRM refused that attempt. Rate-limited and
    released rows were never attempted and count in neither.
    """
    totals = SyncRun.objects.filter(
        connection=connection, direction=SyncRun.Direction.PUSH, finished_at__gte=since
    ).aggregate(ok=Sum("succeeded"), failed=Sum(F("failed") + F("retried")))
    failed = totals["failed"] or 0
    return failed, failed + (totals["ok"] or 0)


def oldest_due_queued_at(*, connection, now: datetime) -> datetime | None:
    """When the longest-waiting contact that is due for pushing was queued (None: none waits).

    A row backing off until a later retry is not waiting on anyone, so only due rows count.
    """
    return (
        ContactSyncState.objects.filter(connection=connection, processing_status=ProcessingStatus.QUEUED)
        .filter(Q(due_at__lte=now) | Q(due_at__isnull=True))
        .aggregate(oldest=Min("queued_at"))["oldest"]
    )


def quota_used_share(*, connection, now: datetime) -> tuple[float, str] | None:
    """(share of today's daily API limit used, 0..1, a phrase) or None when the CRM has none."""
    held_until = connection.quota_held_until(now)
    if held_until:
        return 1.0, f"the daily API limit is spent until {held_until.isoformat()}"
    from integrations.ratelimit import daily_quota_status

    try:
        status = daily_quota_status(connection)
    except CrmError as exc:  # the shared limiter's store is down: no reading this time
        logger.warning("alerts: no daily quota reading for connection %s: %s", connection.pk, exc)
        return None
    if not status or not status["limit"]:
        return None
    share = status["used"] / status["limit"]
    return share, f"{status['used']} of {status['limit']} daily API calls used ({share:.0%})"


def alert_conditions(*, rule: AlertRule, connection, now: datetime) -> dict[str, str | None]:
    name = registry.get_connector_class(connection.kind).display_name
    readings: dict[str, str | None] = {}
    if rule.error_rate_percent:
        window = timedelta(minutes=rule.error_rate_window_minutes or 1)
        failed, attempts = push_error_rate(connection=connection, since=now - window)
        crossed = attempts >= max(rule.error_rate_min_attempts, 1) and (
            failed * 100 >= rule.error_rate_percent * attempts
        )
        readings[Condition.ERROR_RATE] = (
            f"{failed} of {attempts} pushes to {name} failed in the last "
            f"{rule.error_rate_window_minutes} min ({failed / attempts:.0%}; threshold "
            f"{rule.error_rate_percent}%)"
            if crossed
            else None
        )
    if rule.queue_age_minutes:
        oldest = oldest_due_queued_at(connection=connection, now=now)
        waited = (now - oldest) if oldest else timedelta(0)
        readings[Condition.QUEUE_AGE] = (
            f"a contact queued for {name} has waited {int(waited.total_seconds() // 60)} min "
            f"(threshold {rule.queue_age_minutes} min)"
            if waited > timedelta(minutes=rule.queue_age_minutes)
            else None
        )
    if rule.alert_when_paused:
        readings[Condition.PAUSED] = (
            f"{name} is paused: {connection.circuit_reason or 'its circuit is open'}. Fix the "
            "credentials, then Resume (docs/troubleshooting.md)"
            if connection.is_circuit_open
            else None
        )
    if rule.quota_used_percent:
        quota = quota_used_share(connection=connection, now=now)
        readings[Condition.QUOTA] = (
            f"{name}: {quota[1]} (threshold {rule.quota_used_percent}%)"
            if quota and quota[0] * 100 >= rule.quota_used_percent
            else None
        )
    return readings
