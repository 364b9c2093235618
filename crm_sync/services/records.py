"""Two-way records: local changes to pulled REST records (projects, tasks...) and their actions.

A PATCH or an action writes the local values into the record at once (what the API shows)
and leaves them pending on its RecordSyncState, which queues it; record_push.py sends them.
What may be written is what the entity's field map allows: the mapped names when the
connection maps the entity, else the record's own top-level fields; never the fields the
CRM owns (id, created/updated times). A value must keep the JSON type of the value it
replaces (null clears any field; a field that was null or absent takes any scalar).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record
from core.errors import InvalidInput
from crm_sync import connections
from crm_sync.models import ProcessingStatus, RecordSyncState, RemoteRecord
from crm_sync.services.merge import merge_remote_fields, values_equal
from integrations.connectors.base import Capability
from integrations.errors import CrmError

# The entities of seed 002 that are two-way (contacts have their own sync; deals are read-only).
RECORD_ENTITIES = ("projects", "tasks", "users", "clients", "comments")
SERVER_OWNED = frozenset({"id", "created_at", "updated_at", "createdAt", "updatedAt"})
MAX_TEXT = 10_000
# States a pull must merge with: a local change the CRM has not accepted yet.
OUTSTANDING = (ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING, ProcessingStatus.ERROR)


def _connector(record: RemoteRecord):
    if not record.connection.can_push:
        raise InvalidInput(
            "This connection only pulls; its records cannot be changed from here.",
            code="connection_pull_only",
            details={"connection_id": record.connection_id},
        )
    connector = connections.connector_for(record.connection)
    if record.object_type not in RECORD_ENTITIES or not connector.supports(Capability.WRITE_RECORDS):
        raise InvalidInput(
            f"{record.object_type} records of this connection are read-only.",
            code="record_read_only",
            details={"object_type": record.object_type, "crm": record.connection.kind},
        )
    return connector


def record_writable_fields(*, record: RemoteRecord, connector=None) -> list[str]:
    """The local field names a PATCH may change on this record."""
    connector = connector or _connector(record)
    try:
        field_map = connector.entity_field_map(record.object_type)
    except CrmError as exc:
        raise InvalidInput(exc.message, code="connection_misconfigured") from None
    names = set(field_map) if field_map else set((record.fields or {}).keys())
    owned = set(SERVER_OWNED)
    try:
        config = connector.config
    except CrmError as exc:
        raise InvalidInput(exc.message, code="connection_misconfigured") from None
    owned |= {config.id_path.split(".")[0], config.updated_at_path.split(".")[0]}
    return sorted(name for name in names if name not in owned and not name.startswith("_"))


def _type_error(current: Any, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"Must be at most {MAX_TEXT} characters."
    if current is None:
        if isinstance(value, str | int | float | bool):
            return None
        return "Must be a string, a number, a boolean or null."
    if isinstance(current, bool):
        return None if isinstance(value, bool) else "Must be a boolean."
    if isinstance(current, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(current, str):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(current, list):
        return None if isinstance(value, list) else "Must be a list."
    if isinstance(current, dict):
        return None if isinstance(value, dict) else "Must be an object."
    return None


def record_changes_validate(*, record: RemoteRecord, changes: Any, connector=None) -> dict[str, Any]:
    """The changes, checked against the entity's field map and the record's current values."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput(
            "Give the fields to change as a JSON object.",
            code="validation_error",
            details={"fields": ["Give at least one field."]},
        )
    allowed = set(record_writable_fields(record=record, connector=connector))
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name not in allowed:
            errors[name] = [f"Unknown or read-only field; writable: {sorted(allowed)}."]
            continue
        problem = _type_error((record.fields or {}).get(name), value)
        if problem:
            errors[name] = [problem]
    if errors:
        raise InvalidInput("Invalid record fields.", code="validation_error", details=errors)
    return dict(changes)


def _state_for(record: RemoteRecord) -> RecordSyncState:
    state = RecordSyncState.objects.select_for_update().filter(record=record).first()
    if state is None:
        state = RecordSyncState.objects.create(record=record, connection_id=record.connection_id)
    return state


def _queue(state: RecordSyncState, *, now: datetime) -> None:
    """Queue the state for a push; a state a worker holds keeps its claim (its write-back sees
    the new pending values and queues it again), so one record is never pushed twice at once."""
    state.local_modified_at = now
    state.conflict_fields = {}
    if state.processing_status == ProcessingStatus.PROCESSING:
        return
    state.processing_status = ProcessingStatus.QUEUED
    state.due_at = now
    state.retry_count = 0
    state.next_retry_at = None
    state.error = ""
    state.error_category = ""


def _nudge(connection_id: int) -> None:
    from crm_sync.tasks import push_records

    # robust: the record rows are the queue; the push dispatcher's beat finds them due anyway.
    transaction.on_commit(
        lambda: push_records.apply_async(kwargs={"connection_id": connection_id}), robust=True
    )


@transaction.atomic
def record_update(*, record: RemoteRecord, changes: Any, actor: Actor) -> RemoteRecord:
    """Apply `changes` to the record locally and queue them for its CRM; audited."""
    if record.archived:
        raise InvalidInput("The CRM archived or deleted this record.", code="record_archived")
    # Locked first, so the types are checked against the values the change replaces.
    record = RemoteRecord.objects.select_for_update().select_related("connection").get(pk=record.pk)
    values = record_changes_validate(record=record, changes=changes)
    state = _state_for(record)
    now = timezone.now()
    fields = dict(record.fields or {})
    for name, value in values.items():
        # The base is the value both sides agreed on: the pulled one, unless a change is pending.
        if name not in state.pending_values and name not in state.base_values:
            state.base_values[name] = fields.get(name)
        fields[name] = value
        state.pending_values[name] = value
    record.fields = fields
    record.save(update_fields=["fields", "updated_at"])
    _queue(state, now=now)
    state.save()
    audit_record(
        actor=actor,
        action="record.update",
        object_type="remote_record",
        object_id=record.pk,
        organization=record.organization,
        changes={"fields": sorted(values)},
    )
    _nudge(record.connection_id)
    return record


def record_action_body(*, record: RemoteRecord, action: str, body: Any, connector=None) -> tuple[str, Any]:
    """The field an action sets and its validated value."""
    connector = connector or _connector(record)
    field = connector.record_actions.get(record.object_type, {}).get(action)
    if field is None:
        raise InvalidInput(
            f"{record.object_type} records have no action {action!r}.",
            code="unknown_action",
            details={"actions": sorted(connector.record_actions.get(record.object_type, {}))},
        )
    value = body.get(field) if isinstance(body, dict) else None
    if field == "assignee_id":
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(
                "assignee_id must be a user's id.",
                code="validation_error",
                details={field: ["Give a positive integer."]},
            )
    elif not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InvalidInput(
            f"{field} must be a non-empty string of at most 64 characters.",
            code="validation_error",
            details={field: ["Give a non-empty string of at most 64 characters."]},
        )
    return field, value


@transaction.atomic
def record_action_run(*, record: RemoteRecord, action: str, body: Any, actor: Actor) -> RemoteRecord:
    """Queue one of the CRM's actions on the record (seed 002: assign a task, change its status).

    The action's field shows the new value at once; the push calls the action's endpoint,
    not the generic update, because the CRM may run its own rules there (notify the assignee).
    """
    if record.archived:
        raise InvalidInput("The CRM archived or deleted this record.", code="record_archived")
    field, value = record_action_body(record=record, action=action, body=body)
    record = RemoteRecord.objects.select_for_update().select_related("connection").get(pk=record.pk)
    state = _state_for(record)
    now = timezone.now()
    fields = dict(record.fields or {})
    if field not in state.pending_values and field not in state.base_values:
        state.base_values[field] = fields.get(field)
    fields[field] = value
    # An earlier pending update of the same field is superseded by the action.
    state.pending_values.pop(field, None)
    state.pending_actions[action] = {field: value}
    record.fields = fields
    record.save(update_fields=["fields", "updated_at"])
    _queue(state, now=now)
    state.save()
    audit_record(
        actor=actor,
        action=f"record.action.{action}",
        object_type="remote_record",
        object_id=record.pk,
        organization=record.organization,
        changes={field: value},
    )
    _nudge(record.connection_id)
    return record


def _pending_names(state: RecordSyncState) -> dict[str, Any]:
    pending = dict(state.pending_values)
    for body in state.pending_actions.values():
        pending.update(body)
    return pending


def records_merge_pending(*, rows: list[RemoteRecord], pulled: dict[str, Any], connection) -> list:
    """A pull met records with local changes the CRM has not accepted: 3-way merge per field.

    `rows` hold the pulled values in `fields` already; for each field with a pending change,
    the connection's strategy decides between the pending value and the pulled one against
    the base. A remote win drops the pending change; a local win keeps it (the base moves to
    the value just seen); a field left for review keeps the local value, stops the push and
    shows in `conflict_fields` until a new PATCH decides it. One query loads the states; the
    caller writes the rows; the states are written here in one bulk update.
    """
    if not rows:
        return []
    states = {
        state.record_id: state
        for state in RecordSyncState.objects.filter(
            record_id__in=[row.pk for row in rows if row.pk], processing_status__in=OUTSTANDING
        )
    }
    changed = []
    for row in rows:
        state = states.get(row.pk)
        if state is None:
            continue
        pending = _pending_names(state)
        if not pending:
            continue
        remote = {name: row.fields.get(name) for name in pending if name in (row.fields or {})}
        result = merge_remote_fields(
            strategy=connection.conflict_strategy,
            base={name: state.base_values[name] for name in pending if name in state.base_values},
            local=pending,
            remote=remote,
            local_modified_at=state.local_modified_at,
            remote_modified_at=pulled.get(row.remote_id),
        )
        fields = dict(row.fields)
        for name, value in pending.items():
            if name in result.local_updates or (name in remote and values_equal(remote[name], value)):
                # The CRM's value stands (it won, or already equals the change): nothing to push.
                state.pending_values.pop(name, None)
                for action, body in list(state.pending_actions.items()):
                    if name in body:
                        del state.pending_actions[action]
                state.base_values.pop(name, None)
                continue
            fields[name] = value
        for name in pending:
            if name in result.new_base and name in state.base_values:
                state.base_values[name] = result.new_base[name]
        row.fields = fields
        if result.conflicts:
            state.conflict_fields = {
                name: {"base": c.base, "local": c.local, "remote": c.remote}
                for name, c in result.conflicts.items()
            }
            if state.processing_status != ProcessingStatus.PROCESSING:
                state.processing_status = ProcessingStatus.ERROR
                state.error_category = "conflict"
                state.error = (
                    "Changed in the CRM and locally since they last agreed: "
                    f"{', '.join(sorted(result.conflicts))}. PATCH the record to decide."
                )
                state.due_at = None
                state.next_retry_at = None
        elif not _pending_names(state) and state.processing_status != ProcessingStatus.PROCESSING:
            state.processing_status = ProcessingStatus.COMPLETE
            state.due_at = None
            state.error = ""
            state.error_category = ""
        changed.append(state)
    if changed:
        RecordSyncState.objects.bulk_update(
            changed,
            [
                "pending_values",
                "pending_actions",
                "base_values",
                "conflict_fields",
                "processing_status",
                "error",
                "error_category",
                "due_at",
                "next_retry_at",
            ],
        )
    return changed
