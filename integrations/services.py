"""Writes of CRM connections: create, update, delete, cursors, circuit. Every write is audited.

Audit entries never hold credential values: only which credential fields changed.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import Conflict, InvalidInput
from integrations.models import CrmConnection
from integrations.registry import get_connector_class

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
    "field_mapping",
    "settings",
)


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
    return value


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
    connection.full_clean(exclude=["organization", "credentials", "token_state"], validate_unique=False)


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


@transaction.atomic
def connection_create(
    *,
    organization,
    kind: str,
    actor: Actor,
    credentials: dict[str, Any] | None = None,
    **fields: Any,
) -> CrmConnection:
    """Create a connection; batch_size defaults to the CRM's maximum."""
    connector_class = get_connector_class(kind)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", code="unknown_fields")
    fields.setdefault("batch_size", connector_class.batch_size_max)
    connection = CrmConnection(
        organization=organization, kind=kind, credentials=credentials_validate(credentials or {}), **fields
    )
    if connection.credentials:
        connection.credentials_changed_at = timezone.now()
    connection_check(connection)
    _save(connection)
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


@transaction.atomic
def connection_update(
    *,
    connection: CrmConnection,
    actor: Actor,
    credentials: dict[str, Any] | None = None,
    replace_credentials: bool = False,
    **fields: Any,
) -> CrmConnection:
    """Change editable fields; `credentials` are merged into the stored ones (or replace them).

    A credential field set to "" or null is removed. New credentials drop any cached token.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", code="unknown_fields")
    connection = CrmConnection.objects.select_for_update().get(pk=connection.pk)
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if getattr(connection, name) != value:
            changes[name] = value
            setattr(connection, name, value)
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
    if not changes:
        return connection
    _save(connection)
    audit_record(
        organization=connection.organization,
        actor=actor,
        action="crm_connection.updated",
        object_type="crm_connection",
        object_id=connection.pk,
        changes=changes,
    )
    return connection


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
