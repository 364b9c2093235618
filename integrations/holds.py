"""A connection held after its CRM's daily quota is spent: every call refused here until the reset.

The hold lives on the CrmConnection row (`quota_exhausted_until`), so every worker, the
dispatcher and the API see it. A client checks the connection instance it was built with
(loaded afresh for each push batch, property sync and credential test) and the instance
is updated the moment the CRM answers a daily 429, so no later call of the same job
leaves this service either. Nothing has to lift the hold: it ends at its own time.
"""

import logging
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from integrations.errors import CrmRateLimited
from integrations.ratelimit import next_daily_reset

DAILY_POLICY = "DAILY"

logger = logging.getLogger(__name__)


class QuotaHold:
    """The daily-quota hold of one connection, as its HTTP client sees it."""

    def __init__(self, connection, *, crm: str) -> None:
        self.connection = connection
        self.crm = crm

    def reset_time(self, *, now: datetime | None = None) -> datetime:
        """When the CRM's day ends: midnight in the account's time zone, UTC when not known."""
        time_zone = self.connection.account_time_zone or None
        return next_daily_reset(now=now or timezone.now(), time_zone=time_zone)

    def check(self) -> None:
        """Raise CrmRateLimited naming the reset while the hold is in force."""
        now = timezone.now()
        until = self.connection.quota_held_until(now)
        if until is None:
            return
        reason = self.connection.quota_exhausted_reason
        raise CrmRateLimited(
            f"The daily API limit is spent until {until.isoformat()} (the CRM's daily reset); "
            "no call is made before then." + (f" The CRM said: {reason}" if reason else ""),
            retry_after=max(1.0, round((until - now).total_seconds())),
            policy=DAILY_POLICY,
            resets_at=until,
            crm=self.crm,
        )

    def hold(self, *, until: datetime, reason: str) -> None:
        """Hold the connection until `until`: stored for a saved connection, in memory for a trial one."""
        if getattr(self.connection, "pk", None):
            from integrations.services import connection_quota_exhausted_mark

            try:
                connection_quota_exhausted_mark(connection=self.connection, until=until, reason=reason)
                return
            except DatabaseError:
                # The CRM's 429 must still reach the caller; this job at least stops calling.
                logger.exception("Could not store the daily-quota hold of connection %s", self.connection.pk)
        self.connection.quota_exhausted_until = until
        self.connection.quota_exhausted_reason = reason[:2000]
