"""Writes of CRM connections: create, update, delete, cursors, circuit. Every write is audited.

Audit entries never hold credential values: only which credential fields changed.
"""

import copy
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import Conflict, InvalidInput
from integrations import outbound
from integrations.models import CrmConnection
from integrations.registry import get_connector_class
from integrations.selectors import connection_target_hosts, settings_urls

EDITABLE_FIELDS = (
    "name",
    "enabled",
    "base_url",
    "batch_size",
    "push_interval_seconds",
    "pull_interval_seconds",
    "retry_base_seconds",
    "retry_cap_seconds",
    "max_retries",
    "conflict_strategy",
    "auto_sync",
    "sync_direction",
    "contact_rule",
    "contact_rule_tag",
    "contact_rule_subtype",
    "contact_rule_events",
    "field_mapping",
    "settings",
)
# A many-to-many field: set after the row is saved, never with setattr.
RULE_EVENTS = "contact_rule_events"
# What a before_save check judges a connection by: where its CRM is and as whom it is read,
# and the mapping it checks there. An update saves these only as the check saw them.
CHECKED_FIELDS = ("kind", "base_url", "settings", "credentials", "field_mapping")


def field_mapping_validate(value: Any) -> dict[str, str]:
    """A flat {local: remote} object of non-empty strings (null/"" removes a default mapping)."""
    if not isinstance(value, dict):
        raise InvalidInput(
            "field_mapping must be an object of local field → remote property.",
            code="invalid_field_mapping",
            details={"field_mapping": ["Must be an object."]},
        )
    errors = {}
    for local, remote in value.items():
        if not isinstance(local, str) or not local.strip() or len(local) > 200:
            errors[str(local)] = "Field names must be non-empty strings of at most 200 characters."
        elif remote is not None and (not isinstance(remote, str) or len(remote) > 200):
            errors[local] = "Remote property names must be strings of at most 200 characters, or null."
    if errors:
        raise InvalidInput(
            "field_mapping has invalid entries.",
            code="invalid_field_mapping",
            details={"field_mapping": errors},
        )
    return value


def credentials_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(
            "credentials must be an object of field → value.",
            code="invalid_credentials",
            details={"credentials": ["Must be an object."]},
        )
    bad = [
        k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str | int | float | bool)
    ]
    if bad:
        raise InvalidInput(
            "Credential values must be strings or numbers.",
            code="invalid_credentials",
            details={"credentials": {k: "Must be a string or number." for k in map(str, bad)}},
        )
    # Credentials travel in HTTP headers and forms: a character HTTP cannot carry (beyond
    # Latin-1, or a control character such as a line break) is refused here, not met as a crash.
    unsendable = [k for k, v in value.items() if isinstance(v, str) and not _header_safe(v)]
    if unsendable:
        raise InvalidInput(
            "Credential values may hold only printable Latin-1 characters.",
            code="invalid_credentials",
            details={"credentials": {k: "Holds a character HTTP headers cannot carry." for k in unsendable}},
        )
    return value


def _header_safe(text: str) -> bool:
    return all(" " <= ch <= "~" or "\xa0" <= ch <= "\xff" for ch in text)


def contact_rule_events_resolve(*, organization, events: Any) -> list:
    """The organization's events named by `events` (ids or Event objects); any other id is a 400."""
    from contacts.models import Event

    if not isinstance(events, list | tuple):
        raise InvalidInput(
            "contact_rule_events must be a list of event ids.",
            code="invalid_contact_rule",
            details={RULE_EVENTS: ["Must be a list of event ids."]},
        )
    ids = []
    for item in events:
        key = item.pk if isinstance(item, Event) else item
        try:
            ids.append(uuid.UUID(str(key)))
        except (TypeError, ValueError, AttributeError):
            raise InvalidInput(
                f"{key!r} is not an event id.",
                code="invalid_contact_rule",
                details={RULE_EVENTS: [f"{key!r} is not an event id."]},
            ) from None
    found = {e.pk: e for e in Event.objects.filter(organization=organization, pk__in=ids)}
    missing = [str(i) for i in dict.fromkeys(ids) if i not in found]
    if missing:
        raise InvalidInput(
            "contact_rule_events names events this organization does not have.",
            code="invalid_contact_rule",
            details={RULE_EVENTS: [f"No such event: {i}." for i in missing]},
        )
    return [found[i] for i in dict.fromkeys(ids)]


def contact_rule_check(*, connection: CrmConnection, events: list) -> None:
    """The rule names what it needs (a tag, a subtype, at least one event); other rules' values are cleared.

    Clearing keeps what crm-config shows true: a connection never lists a tag its rule ignores.
    """
    from contacts.models import Contact

    rule = connection.contact_rule
    Rule = CrmConnection.ContactRule
    if rule not in Rule.values:
        raise InvalidInput(
            f"Unknown contact_rule {rule!r}; valid: {', '.join(Rule.values)}.",
            code="invalid_contact_rule",
            details={"contact_rule": [f"Valid: {', '.join(Rule.values)}."]},
        )
    connection.contact_rule_tag = (connection.contact_rule_tag or "").strip()
    if rule == Rule.TAG and not connection.contact_rule_tag:
        raise InvalidInput(
            "contact_rule 'tag' needs contact_rule_tag.",
            code="invalid_contact_rule",
            details={"contact_rule_tag": ["Required when contact_rule is 'tag'."]},
        )
    if rule == Rule.SUBTYPE and connection.contact_rule_subtype not in Contact.Subtype.values:
        raise InvalidInput(
            "contact_rule 'subtype' needs contact_rule_subtype.",
            code="invalid_contact_rule",
            details={"contact_rule_subtype": [f"One of {', '.join(Contact.Subtype.values)}."]},
        )
    if rule == Rule.EVENT_REGISTRANTS and not events:
        raise InvalidInput(
            "contact_rule 'event_registrants' needs at least one event.",
            code="invalid_contact_rule",
            details={RULE_EVENTS: ["At least one event when contact_rule is 'event_registrants'."]},
        )
    if rule != Rule.TAG:
        connection.contact_rule_tag = ""
    if rule != Rule.SUBTYPE:
        connection.contact_rule_subtype = ""
    if rule != Rule.EVENT_REGISTRANTS:
        events.clear()


def connection_check(connection: CrmConnection) -> None:
    """Raise InvalidInput when a connection's values break a rule (the admin form reuses this)."""
    connector_class = get_connector_class(connection.kind)
    if connection.batch_size < 1 or connection.batch_size > connector_class.batch_size_max:
        raise InvalidInput(
            f"batch_size must be between 1 and {connector_class.batch_size_max} "
            f"for {connector_class.display_name}.",
            code="invalid_batch_size",
            details={
                "batch_size": [f"At most {connector_class.batch_size_max}."],
                "max": connector_class.batch_size_max,
            },
        )
    if connection.retry_cap_seconds < connection.retry_base_seconds:
        raise InvalidInput(
            "retry_cap_seconds must be at least retry_base_seconds.",
            code="invalid_retry_policy",
            details={"retry_cap_seconds": ["Must be ≥ retry_base_seconds."]},
        )
    if not isinstance(connection.settings, dict):
        raise InvalidInput(
            "settings must be an object.", code="invalid_settings", details={"settings": ["Object."]}
        )
    config_serializer = getattr(connector_class, "config_serializer", None)
    if config_serializer is not None:
        # Refuse settings the connector cannot use now, not at its first sync.
        serializer = config_serializer(data=connection.settings)
        if not serializer.is_valid():
            raise InvalidInput(
                f"settings are invalid for {connector_class.display_name}.",
                code="invalid_settings",
                details={"settings": serializer.errors},
            )
    field_mapping_validate(connection.field_mapping)
    connection.full_clean(
        exclude=["organization", "credentials", "token_state", "credentials_hosts"], validate_unique=False
    )
    outbound_check(connection)


def outbound_check(connection: CrmConnection) -> None:
    """Refuse a base_url, or a URL in settings, that the outbound rules would never call."""
    if connection.base_url:
        outbound.base_url_check(connection.base_url, kind=connection.kind)
    for url in settings_urls(connection.settings):
        problem = outbound.url_problem(url, kind=connection.kind)
        if problem:
            raise InvalidInput(
                f"settings name a URL that is not allowed: {problem}.",
                code="invalid_settings",
                details={"settings": [f"{url[:200]}: {problem}"]},
            )


def credentials_rebind_check(
    *, stored: CrmConnection, changed: CrmConnection, credentials: dict[str, Any] | None
) -> bool:
    """Whether `changed` points its stored credentials somewhere new (a different kind, base_url,
    or set of hosts in its settings); raise InvalidInput when it does without new credentials.

    Credentials are write-only, so re-pointing a connection must not carry them along: a caller
    who can edit a connection but does not hold its secrets could otherwise read them at a host
    of their own. The new credentials then replace the stored ones (nothing is merged).
    """
    if not stored.credentials:
        return False
    moved = (
        stored.kind != changed.kind
        or (stored.base_url or "") != (changed.base_url or "")
        or connection_target_hosts(connection=stored) != connection_target_hosts(connection=changed)
    )
    if moved and not credentials:
        raise InvalidInput(
            "Changing base_url (or a URL in settings) of a connection with credentials requires "
            "the credentials again in the same request; the stored ones are never sent elsewhere.",
            code="credentials_required",
            details={"credentials": ["Required when base_url or a URL in settings changes."]},
        )
    return moved


def _save(connection: CrmConnection) -> None:
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        raise Conflict(
            f"This organization already has a {connection.kind} connection named {connection.name!r}.",
            code="duplicate_connection",
            details={"name": [f"{connection.name!r} is taken for {connection.kind}."]},
        )


def _public_changes(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in EDITABLE_FIELDS}


def _event_ids(events: list) -> list[str]:
    return sorted(str(event.pk) for event in events)


def connection_create(
    *,
    organization,
    kind: str,
    actor: Actor,
    credentials: dict[str, Any] | None = None,
    before_save: Callable[[CrmConnection], None] | None = None,
    **fields: Any,
) -> CrmConnection:
    """Create a connection; batch_size defaults to the CRM's maximum.

    `before_save` sees the connection once every rule passed, before it is written, and may
    refuse it by raising (the API checks the mapping's targets against the CRM there). It runs
    before the write transaction opens, as it may wait on the CRM; nothing it judges is stored
    yet, so nothing can change under it before the save.
    """
    connector_class = get_connector_class(kind)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", code="unknown_fields")
    fields.setdefault("batch_size", connector_class.batch_size_max)
    requested_events = fields.pop(RULE_EVENTS, None) or []
    events = contact_rule_events_resolve(organization=organization, events=requested_events)
    connection = CrmConnection(
        organization=organization, kind=kind, credentials=credentials_validate(credentials or {}), **fields
    )
    contact_rule_check(connection=connection, events=events)
    if connection.credentials:
        connection.credentials_changed_at = timezone.now()
    connection_check(connection)
    connection.credentials_hosts = connection_target_hosts(connection=connection)
    if before_save is not None:
        before_save(connection)
    with transaction.atomic():
        _save(connection)
        if events:
            connection.contact_rule_events.set(events)
            fields[RULE_EVENTS] = _event_ids(events)
        audit_record(
            organization=organization,
            actor=actor,
            action="crm_connection.created",
            object_type="crm_connection",
            object_id=connection.pk,
            changes={
                "kind": kind,
                **_public_changes(fields),
                "credentials_fields": sorted(connection.credentials),
            },
        )
    return connection


def connection_update(
    *,
    connection: CrmConnection,
    actor: Actor,
    credentials: dict[str, Any] | None = None,
    replace_credentials: bool = False,
    before_save: Callable[[CrmConnection], None] | None = None,
    **fields: Any,
) -> CrmConnection:
    """Change editable fields; `credentials` are merged into the stored ones (or replace them).

    A credential field set to "" or null is removed. New credentials drop any cached token.
    Re-pointing a connection that has credentials needs new credentials, which then replace the
    stored ones (credentials_rebind_check); credentials are bound to the hosts they were given for.

    `before_save` sees the changed connection before it is written and may refuse it by raising.
    It may wait on the CRM (the API reads its property list), so it runs before the row is locked:
    workers update the row (circuit, quota hold) and would stall behind that lock. The change is
    then applied again to the row as locked, and refused (409 connection_changed) if what
    before_save judged it by (CHECKED_FIELDS) came out different: a connection edited meanwhile
    is never saved with a combination nobody checked. Not re-checked under the lock, as that
    would hold the lock for the CRM again.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", code="unknown_fields")
    checked = None
    if before_save is not None:
        draft, changes, _ = _connection_changed(
            CrmConnection.objects.get(pk=connection.pk),
            credentials=credentials,
            replace_credentials=replace_credentials,
            fields=fields,
        )
        if changes:
            before_save(draft)
            checked = draft
    with transaction.atomic():
        locked = CrmConnection.objects.select_for_update().get(pk=connection.pk)
        connection, changes, events = _connection_changed(
            locked, credentials=credentials, replace_credentials=replace_credentials, fields=fields
        )
        if not changes:
            return connection
        if before_save is not None:
            _as_checked(connection, checked)
        _save(connection)
        if RULE_EVENTS in changes:
            connection.contact_rule_events.set(events)
        audit_record(
            organization=connection.organization,
            actor=actor,
            action="crm_connection.updated",
            object_type="crm_connection",
            object_id=connection.pk,
            changes=changes,
        )
    return connection


def _connection_changed(
    stored: CrmConnection, *, credentials: dict[str, Any] | None, replace_credentials: bool, fields: dict
) -> tuple[CrmConnection, dict[str, Any], list]:
    """`stored` with the update applied and every rule checked, unsaved: (connection, the changes
    to audit, the rule's events). Raises InvalidInput for a refused value; writes nothing."""
    connection = copy.copy(stored)
    fields = dict(fields)
    old_events = list(stored.contact_rule_events.all())
    if RULE_EVENTS in fields:
        requested_events = fields.pop(RULE_EVENTS)
        events = contact_rule_events_resolve(organization=stored.organization, events=requested_events)
    else:
        events = list(old_events)
    before = {name: getattr(connection, name) for name in EDITABLE_FIELDS if name != RULE_EVENTS}
    for name, value in fields.items():
        setattr(connection, name, value)
    contact_rule_check(connection=connection, events=events)
    changes: dict[str, Any] = {
        name: getattr(connection, name) for name, old in before.items() if getattr(connection, name) != old
    }
    if _event_ids(events) != _event_ids(old_events):
        changes[RULE_EVENTS] = _event_ids(events)
    outbound_check(connection)  # a refused target says so, before asking for credentials
    if credentials_rebind_check(stored=stored, changed=connection, credentials=credentials):
        replace_credentials = True
    if credentials is not None:
        credentials_validate(credentials)
        merged = {} if replace_credentials else dict(connection.credentials)
        for key, value in credentials.items():
            if value in ("", None):
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != connection.credentials:
            changes["credentials_fields"] = sorted(merged)
            connection.credentials = merged
            connection.credentials_changed_at = timezone.now()
            connection.token_state = {}
    connection_check(connection)
    if credentials is not None:
        # Saved with the change the credentials make (audited as credentials_fields).
        connection.credentials_hosts = connection_target_hosts(connection=connection)
    return connection, changes, events


def _as_checked(connection: CrmConnection, checked: CrmConnection | None) -> None:
    """Raise Conflict (409 connection_changed) unless `connection` holds, in CHECKED_FIELDS, what
    before_save accepted in `checked` (None: it accepted nothing, the update was empty then)."""
    if checked is None:
        unchecked = list(CHECKED_FIELDS)
    else:
        unchecked = [name for name in CHECKED_FIELDS if getattr(connection, name) != getattr(checked, name)]
    if unchecked:
        raise Conflict(
            "The connection was changed while the new values were being checked; nothing was "
            "saved. Read it again and retry.",
            code="connection_changed",
            details={"connection_id": connection.pk, "unchecked": unchecked},
        )


@transaction.atomic
def connection_delete(*, connection: CrmConnection, actor: Actor) -> None:
    audit_record(
        organization=connection.organization,
        actor=actor,
        action="crm_connection.deleted",
        object_type="crm_connection",
        object_id=connection.pk,
        changes={"kind": connection.kind, "name": connection.name},
    )
    connection.delete()


def connection_cursor_set(*, connection: CrmConnection, object_type: str, cursor: Any) -> None:
    """Store the pull cursor of one object type (a JSON value; None clears it).

    Read-modify-write under a row lock, so pulls of two object types never lose each other's cursor.
    """
    with transaction.atomic():
        row = CrmConnection.objects.select_for_update().only("pull_cursors").get(pk=connection.pk)
        cursors = dict(row.pull_cursors or {})
        if cursor is None:
            cursors.pop(object_type, None)
        else:
            cursors[object_type] = cursor
        CrmConnection.objects.filter(pk=connection.pk).update(pull_cursors=cursors)
    connection.pull_cursors = cursors


@transaction.atomic
def connection_circuit_open(*, connection: CrmConnection, reason: str, actor: Actor | None = None) -> bool:
    """Pause a connection (auth failure, repeated outages). Returns False if it was already open."""
    now = timezone.now()
    updated = CrmConnection.objects.filter(
        pk=connection.pk, circuit_state=CrmConnection.CircuitState.CLOSED
    ).update(
        circuit_state=CrmConnection.CircuitState.OPEN, circuit_reason=reason[:2000], circuit_opened_at=now
    )
    if updated:
        connection.circuit_state = CrmConnection.CircuitState.OPEN
        connection.circuit_reason = reason[:2000]
        connection.circuit_opened_at = now
        audit_record(
            organization=connection.organization,
            actor=actor or Actor.system(),
            action="crm_connection.circuit_opened",
            object_type="crm_connection",
            object_id=connection.pk,
            changes={"reason": reason[:500]},
        )
    return bool(updated)


@transaction.atomic
def connection_circuit_close(*, connection: CrmConnection, actor: Actor | None = None) -> bool:
    updated = CrmConnection.objects.filter(
        pk=connection.pk, circuit_state=CrmConnection.CircuitState.OPEN
    ).update(circuit_state=CrmConnection.CircuitState.CLOSED, circuit_reason="", circuit_opened_at=None)
    if updated:
        connection.circuit_state = CrmConnection.CircuitState.CLOSED
        connection.circuit_reason = ""
        connection.circuit_opened_at = None
        audit_record(
            organization=connection.organization,
            actor=actor or Actor.system(),
            action="crm_connection.circuit_closed",
            object_type="crm_connection",
            object_id=connection.pk,
        )
    return bool(updated)


@transaction.atomic
def connection_quota_exhausted_mark(
    *, connection: CrmConnection, until: datetime, reason: str, actor: Actor | None = None
) -> bool:
    """Hold every call of a connection until `until`, its CRM's daily reset (a daily 429).

    Only a later `until` replaces a stored one, so workers hitting the limit together write
    (and audit) it once. Returns whether this call started or extended the hold.
    """
    updated = (
        CrmConnection.objects.filter(pk=connection.pk)
        .filter(Q(quota_exhausted_until__isnull=True) | Q(quota_exhausted_until__lt=until))
        .update(quota_exhausted_until=until, quota_exhausted_reason=reason[:2000])
    )
    if updated:
        connection.quota_exhausted_until = until
        connection.quota_exhausted_reason = reason[:2000]
        audit_record(
            organization=connection.organization,
            actor=actor or Actor.system(),
            action="crm_connection.quota_exhausted",
            object_type="crm_connection",
            object_id=connection.pk,
            changes={"until": until.isoformat(), "reason": reason[:500]},
        )
    else:
        stored = CrmConnection.objects.filter(pk=connection.pk).values_list(
            "quota_exhausted_until", "quota_exhausted_reason"
        )
        for stored_until, stored_reason in stored:
            connection.quota_exhausted_until = stored_until
            connection.quota_exhausted_reason = stored_reason
    return bool(updated)


def connection_account_time_zone_set(*, connection: CrmConnection, time_zone: str) -> None:
    """Remember the CRM account's time zone (its daily quota resets at midnight there)."""
    time_zone = (time_zone or "")[:64]
    if connection.pk and time_zone != connection.account_time_zone:
        CrmConnection.objects.filter(pk=connection.pk).update(account_time_zone=time_zone)
    connection.account_time_zone = time_zone
