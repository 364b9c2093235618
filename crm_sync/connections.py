"""What the sync engine needs from a CrmConnection, in one place.

Resolving the API's `crm` parameter (a kind) to the organization's connection, the
push-capable kinds, the retry policy, the circuit breaker. Everything kind-specific is
asked of the connector registry, never decided here by kind.
"""

import logging

from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict
from core.rows import load_by_pk
from integrations import registry
from integrations.connectors.base import Capability
from integrations.errors import CrmError
from integrations.models import CrmConnection
from integrations.selectors import connection_secret_values

logger = logging.getLogger(__name__)


def push_kinds() -> list[str]:
    """Kinds whose connector can push contacts: the valid values of `crm`."""
    return sorted(
        kind for kind, cls in registry.connectors().items() if Capability.PUSH_CONTACTS in cls.capabilities
    )


def crm_validate(crm) -> str:
    """Return `crm` if it names a push-capable CRM, else raise 400 naming the valid ones."""
    valid = push_kinds()
    if not isinstance(crm, str) or crm not in valid:
        raise registry.UnknownCrm(
            f"Unknown CRM {crm!r}; valid: {', '.join(valid)}.", details={"crm": crm, "valid": valid}
        )
    return crm


def organization_connection(
    *, organization, crm: str, require_enabled: bool = True, for_push: bool = True
) -> CrmConnection:
    """The organization's connection of kind `crm` (enabled first, then one that can push, then the oldest).

    409 when the organization has none enabled: the CRM exists, this organization just
    has not switched it on. With `for_push` (queueing, retrying), 409 `crm_pull_only` when
    the connection only pulls: nothing may ever be queued for it.
    """
    crm_validate(crm)
    candidates = list(
        CrmConnection.objects.filter(organization=organization, kind=crm)
        .select_related("organization")
        .order_by("-enabled", "pk")
    )
    if for_push:
        candidates.sort(key=lambda c: (not c.enabled, not c.can_push))
    connection = candidates[0] if candidates else None
    if connection is None or (require_enabled and not connection.enabled):
        raise Conflict(
            f"The CRM {crm!r} is not enabled for this organization.",
            code="crm_not_enabled",
            details={"crm": crm},
        )
    if for_push and not connection.can_push:
        raise Conflict(
            f"The {crm!r} connection only pulls from the CRM; nothing is pushed to it.",
            code="crm_pull_only",
            details={"crm": crm, "sync_direction": connection.sync_direction},
        )
    return connection


def pushable_connection(*, connection_id: int) -> CrmConnection | None:
    """The connection if it exists, is enabled, can push, its circuit is closed and no daily-quota
    hold stands (its queued contacts wait, untouched, for the CRM's daily reset)."""
    if db_connection.vendor == "postgresql":
        connection = load_by_pk(CrmConnection, connection_id, connection=db_connection)  # before every batch
    else:
        connection = CrmConnection.objects.filter(pk=connection_id).first()
    if connection is None or not connection.enabled or connection.is_circuit_open or not connection.can_push:
        return None
    if connection.quota_held_until(timezone.now()) is not None:
        return None
    if connection.kind not in push_kinds():
        return None
    return connection


def pushable_connections():
    """Enabled, push-capable connections with a closed circuit (changed contacts are queued
    for them even while a daily-quota hold stands: the hold only delays the push)."""
    return (
        CrmConnection.objects.filter(
            enabled=True, kind__in=push_kinds(), circuit_state=CrmConnection.CircuitState.CLOSED
        )
        .exclude(sync_direction=CrmConnection.SyncDirection.PULL)
        .order_by("pk")
    )


def unheld(queryset, *, now):
    """Leave out connections held for a spent daily quota at `now`."""
    return queryset.filter(Q(quota_exhausted_until__isnull=True) | Q(quota_exhausted_until__lte=now))


def connector_for(connection):
    return registry.connector_for(connection)


def batch_size(connection) -> int:
    cap = registry.get_connector_class(connection.kind).batch_size_max
    return max(1, min(connection.batch_size or cap, cap))


def retry_policy(connection) -> dict:
    return {
        "max_retries": connection.max_retries,
        "retry_base": float(connection.retry_base_seconds),
        "retry_cap": float(connection.retry_cap_seconds),
    }


def secret_values(connection) -> tuple[str, ...]:
    return connection_secret_values(connection=connection)


def circuit_open(*, connection: CrmConnection, error: CrmError) -> None:
    """Pause a connection after an auth failure, instead of burning every queued contact."""
    from integrations.services import connection_circuit_open

    if connection_circuit_open(connection=connection, reason=f"Authentication failed: {error.message}"):
        logger.error("Paused CRM connection %s (%s): %s", connection.pk, connection.kind, error.message)


def circuit_close(*, connection: CrmConnection, actor=None) -> bool:
    from integrations.services import connection_circuit_close

    return connection_circuit_close(connection=connection, actor=actor)


def quota_hold(connection, *, now=None) -> dict | None:
    """The daily-quota hold of a connection still in force: {policy, until, reason}, else None."""
    until = connection.quota_held_until(now or timezone.now())
    if until is None:
        return None
    return {"policy": "DAILY", "until": until, "reason": connection.quota_exhausted_reason}


def organization_connections(*, organization):
    """The organization's connections, enabled first (the first of a kind represents it)."""
    return CrmConnection.objects.filter(organization=organization).order_by("-enabled", "pk")
