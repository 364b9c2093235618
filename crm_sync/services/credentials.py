"""Test a CRM's credentials (the seed's 4.1) and describe every CRM's configuration (4.2)."""

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.actors import Actor
from core.errors import Conflict, InvalidInput
from crm_sync import connections
from crm_sync.selectors import connection_pause
from crm_sync.services.payloads import PUSHED_FIELDS
from integrations import registry
from integrations.connectors.base import Capability
from integrations.errors import MESSAGE_MAX_CHARS, CrmError, CrmRateLimited
from integrations.models import CrmConnection
from integrations.selectors import connection_credentials, connection_field_mapping, connection_target_hosts
from integrations.services import credentials_validate

logger = logging.getLogger(__name__)

# Bounds on what a credential test repeats of the CRM's answer (the CRM may be anyone's server).
ACCOUNT_TEXT_MAX_CHARS = 200
ACCOUNT_LIST_MAX_ITEMS = 20


@dataclass
class CredentialTestResult:
    crm: str
    status: str  # valid | invalid | unreachable | rate_limited
    message: str
    error: str = ""
    account: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        body = {"crm": self.crm, "status": self.status, "message": self.message}
        if self.error:
            body["error"] = self.error
        if self.account:
            body["account"] = self.account
        return body


def _trial_connection(*, organization, crm: str, credentials: dict | None) -> CrmConnection:
    """The connection to test: the stored one, or an unsaved copy carrying the trial credentials.

    The copy has no primary key, so nothing it does (a token refresh, a pooled session)
    can be saved onto or shared with the real connection.
    """
    stored = (
        CrmConnection.objects.filter(organization=organization, kind=crm)
        .select_related("organization")
        .order_by("-enabled", "pk")
        .first()
    )
    if credentials is None:
        if stored is None:
            raise Conflict(
                f"The CRM {crm!r} is not configured for this organization; pass credentials to try.",
                code="crm_not_configured",
                details={"crm": crm},
            )
        return stored
    trial = (
        copy.copy(stored)
        if stored is not None
        else CrmConnection(organization=organization, kind=crm, name="trial")
    )
    trial.pk = None
    trial.id = None
    trial.credentials = dict(credentials)
    trial.credentials_hosts = connection_target_hosts(connection=trial)
    trial.token_state = {}
    # Other credentials may reach another account: the stored one's quota hold is not theirs.
    trial.quota_exhausted_until = None
    trial.quota_exhausted_reason = ""
    trial.account_time_zone = ""
    return trial


def _account_value(value: Any, *, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:ACCOUNT_TEXT_MAX_CHARS]
    if depth == 0 and isinstance(value, list | tuple):
        return [_account_value(item, depth=1) for item in value[:ACCOUNT_LIST_MAX_ITEMS]]
    if depth == 0 and isinstance(value, dict):
        return {
            str(key)[:ACCOUNT_TEXT_MAX_CHARS]: _account_value(item, depth=1)
            for key, item in list(value.items())[:ACCOUNT_LIST_MAX_ITEMS]
        }
    return str(value)[:ACCOUNT_TEXT_MAX_CHARS]


def account_public(*, connector_class, account: dict[str, Any]) -> dict[str, Any]:
    """Only the account fields the connector declares, each value short and flat.

    The connector picks the fields from the CRM's answer, but their values are still the
    answering server's: a base URL pointed somewhere unexpected must not turn this into a way
    of reading that server's responses.
    """
    return {
        name: _account_value(account[name])
        for name in connector_class.account_fields
        if isinstance(account, dict) and name in account
    }


def credentials_from_input(*, crm: str, api_key: str | None, credentials: dict | None) -> dict | None:
    """The seed's `api_key` shorthand fills the connector's first credential field."""
    if credentials is not None and api_key is not None:
        raise InvalidInput("Pass either api_key or credentials, not both.", code="invalid_credentials_input")
    if api_key is None:
        return None if credentials is None else credentials_validate(credentials)
    fields = registry.get_connector_class(crm).credential_fields
    if not fields:
        raise InvalidInput(f"{crm} takes no api_key.", code="invalid_credentials_input")
    return credentials_validate({fields[0]: api_key})


def crm_credentials_test(
    *, organization, crm: str, api_key: str | None = None, credentials: dict | None = None, actor: Actor
) -> CredentialTestResult:
    """Ask the CRM whether the credentials work, creating nothing there.

    A success with the stored credentials closes the connection's circuit (the pause an
    auth failure opened), since the CRM has just accepted them.
    """
    connector_class = registry.get_connector_class(crm)
    if Capability.TEST_CREDENTIALS not in connector_class.capabilities:
        raise InvalidInput(f"{crm} cannot test credentials.", code="not_supported", details={"crm": crm})
    trial_credentials = credentials_from_input(crm=crm, api_key=api_key, credentials=credentials)
    connection = _trial_connection(organization=organization, crm=crm, credentials=trial_credentials)
    if trial_credentials is None:
        return connection_credentials_test(connection=connection, actor=actor)
    return connection_credentials_try(connection=connection)


def connection_credentials_test(*, connection: CrmConnection, actor: Actor) -> CredentialTestResult:
    """Test one stored connection's credentials; a success closes its circuit (the pause an auth
    failure opened), since the CRM has just accepted them."""
    result = connection_credentials_try(connection=connection)
    if result.status == "valid" and connection.is_circuit_open:
        connections.circuit_close(connection=connection, actor=actor)
    return result


def connection_credentials_try(*, connection: CrmConnection) -> CredentialTestResult:
    """Ask the CRM whether `connection`'s credentials work (stored, or an unsaved draft's), creating
    nothing there. The one credential test behind the API, the admin action and the setup form."""
    crm = connection.kind
    connector_class = registry.get_connector_class(crm)
    if Capability.TEST_CREDENTIALS not in connector_class.capabilities:
        raise InvalidInput(f"{crm} cannot test credentials.", code="not_supported", details={"crm": crm})
    name = connector_class.display_name
    try:
        check = connector_class(connection).test_credentials()
    except CrmError as exc:
        error = str(exc)[:MESSAGE_MAX_CHARS]
        if exc.category == "auth":
            return CredentialTestResult(crm, "invalid", f"Invalid {name} credentials", error=error)
        if isinstance(exc, CrmRateLimited) and exc.daily:
            return CredentialTestResult(
                crm,
                "rate_limited",
                f"{name}'s daily API limit is spent until {exc.resets_at.isoformat()}",
                error=error,
            )
        return CredentialTestResult(crm, "unreachable", f"Could not reach {name}", error=error)
    if not check.ok:
        return CredentialTestResult(
            crm,
            "invalid",
            f"Invalid {name} credentials",
            error=(check.message or "Refused")[:MESSAGE_MAX_CHARS],
        )
    return CredentialTestResult(
        crm,
        "valid",
        (check.message or f"Successfully authenticated with {name} API")[:MESSAGE_MAX_CHARS],
        account=account_public(connector_class=connector_class, account=check.account),
    )


def _daily_quota(connection) -> dict | None:
    """Today's CRM quota ({limit, used, remaining, resets_at}) where the CRM has one."""
    from integrations.ratelimit import daily_quota_status

    if not hasattr(registry.get_connector_class(connection.kind), "daily_quota_default"):
        return None
    try:
        return daily_quota_status(connection)
    except CrmError:  # an unreachable shared limiter must not break the config page
        logger.warning("Daily quota status unavailable for connection %s", connection.pk, exc_info=True)
        return None


def _rate_limit(connection, *, now) -> dict:
    """Whether calls of the connection wait now, and until when: a daily-quota hold (stored on the
    connection) first, else any limiter paused after a 429 (as the shared limiter knows it)."""
    from integrations.ratelimit import limiter_blocked_until

    pause = connection_pause(connection=connection, now=now)
    if pause is not None and pause["reason"] == "daily_quota_exhausted":
        return {
            "state": "daily_quota_exhausted",
            "policy": pause["policy"],
            "until": pause["until"],
            "message": pause["message"],
            "crm_message": pause["crm_message"],
        }
    paused: dict[str, Any] = {}
    for name in registry.get_connector_class(connection.kind).rate_limiter_names:
        try:
            until = limiter_blocked_until(connection, name)
        except CrmError:  # an unreachable shared limiter must not break the config page
            logger.warning("Rate limiter state unavailable for connection %s", connection.pk, exc_info=True)
            until = None
        if until is not None:
            paused[name] = until
    if paused:
        until = max(paused.values())
        return {
            "state": "rate_limited",
            "policy": None,
            "until": until,
            "message": f"The CRM asked to slow down; calls wait until {until.isoformat()}.",
            "limiters": paused,
        }
    return {"state": "ok", "policy": None, "until": None, "message": ""}


def _contact_rule(connection) -> dict:
    """Which contacts auto-sync queues for the connection, with the value its rule names."""
    rule = {"kind": connection.contact_rule}
    if connection.contact_rule == CrmConnection.ContactRule.TAG:
        rule["tag"] = connection.contact_rule_tag
    elif connection.contact_rule == CrmConnection.ContactRule.SUBTYPE:
        rule["subtype"] = connection.contact_rule_subtype
    elif connection.contact_rule == CrmConnection.ContactRule.EVENT_REGISTRANTS:
        events = sorted(connection.contact_rule_events.all(), key=lambda e: e.name)
        rule["events"] = [{"id": str(event.pk), "name": event.name} for event in events]
    return rule


def crm_config(*, organization) -> dict:
    """Per CRM: enabled, credentials configured (never the secret), schedule, batch, retries,
    capabilities, the circuit, rate limiting (a spent daily quota and until when), and the custom
    properties the field mapping pushes."""
    now = timezone.now()
    stored = {}
    for connection in (
        CrmConnection.objects.filter(organization=organization)
        .select_related("organization")
        .prefetch_related("contact_rule_events")
        .order_by("-enabled", "pk")
    ):
        stored.setdefault(connection.kind, connection)
    config = {}
    for kind in sorted(set(connections.push_kinds()) | set(stored)):
        cls = registry.get_connector_class(kind)
        capabilities = sorted(c.value for c in cls.capabilities)
        connection = stored.get(kind)
        if connection is None:
            config[kind] = {"enabled": False, "api_key_configured": False, "capabilities": capabilities}
            continue
        mapping = connection_field_mapping(connection=connection)
        config[kind] = {
            "enabled": connection.enabled,
            "api_key_configured": bool(connection_credentials(connection=connection)),
            "scheduler_interval": round(connection.push_interval_seconds / 60, 2),
            "push_interval_seconds": connection.push_interval_seconds,
            "pull_interval_seconds": connection.pull_interval_seconds,
            "batch_size": connections.batch_size(connection),
            "auto_sync": connection.auto_sync,
            "sync_direction": connection.sync_direction,
            "conflict_strategy": connection.conflict_strategy,
            "contact_rule": _contact_rule(connection),
            "retry_policy": {
                "base_seconds": connection.retry_base_seconds,
                "cap_seconds": connection.retry_cap_seconds,
                "max_retries": connection.max_retries,
            },
            "capabilities": capabilities,
            "custom_properties": sorted(
                str(remote) for local, remote in mapping.items() if local not in PUSHED_FIELDS and remote
            ),
            "circuit": {
                "state": connection.circuit_state,
                "reason": connection.circuit_reason,
                "opened_at": connection.circuit_opened_at,
            },
            "daily_quota": _daily_quota(connection),
            "rate_limit": _rate_limit(connection, now=now),
        }
    return config
