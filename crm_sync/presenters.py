"""Response bodies of the sync API, in the seed's (WO-018) field names."""

from crm_sync import connections
from crm_sync.models import ContactSyncState, Priority, ProcessingStatus, SyncStatus
from crm_sync.selectors import connection_pause, contact_states, processing_estimate, state_can_retry
from crm_sync.services.queueing import _contact_get

ACTIVE = (ProcessingStatus.QUEUED, ProcessingStatus.PROCESSING)


def queued_state(state: ContactSyncState, *, crm: str) -> dict:
    estimate = processing_estimate(state=state, connection=state.connection)
    return {
        "contact_id": str(state.contact_id),
        "crm": crm,
        "sync_status": state.sync_status,
        "processing_status": state.processing_status,
        "priority": Priority(state.priority).label,
        "estimated_processing_time": estimate["text"],
        "estimated_processing_at": estimate["at"],
        "paused": estimate["paused"],
    }


def _state_body(state: ContactSyncState | None, *, connection, debug: bool) -> dict:
    body = {"sync_status": None, "processing_status": None, "contact_id": None}
    if connection is not None:
        body["enabled"] = connection.enabled
        if pause := connection_pause(connection=connection):
            body["paused"] = pause
    if state is None:
        return body
    body.update(
        sync_status=state.sync_status,
        processing_status=state.processing_status,
        contact_id=state.remote_id or None,
        synced_at=state.last_synced_at,
        retry_count=state.retry_count,
        next_retry_at=state.next_retry_at,
        last_retry_at=state.last_retry_at,
    )
    if state.sync_status == SyncStatus.ERROR:
        body.update(error=state.error, error_category=state.error_category, can_retry=state_can_retry(state))
    if state.sync_status == SyncStatus.SKIPPED:
        body["skip_reason"] = state.skip_reason
    if state.processing_status in ACTIVE and connection is not None and connection.enabled:
        body["estimated_processing"] = processing_estimate(state=state, connection=connection)["text"]
    if debug:
        body["last_request"] = state.last_request
        body["last_response"] = state.last_response
    return body


def contact_sync_status(*, organization, contact_id, debug: bool = False) -> dict:
    """The seed's 2.1: the contact's state in every push-capable CRM (null where never synced)."""
    contact = _contact_get(organization=organization, contact_id=contact_id)
    by_kind = {}
    for state in contact_states(contact=contact):
        current = by_kind.get(state.connection.kind)
        if current is None or (state.connection.enabled and not current.connection.enabled):
            by_kind[state.connection.kind] = state
    org_connections = {}
    for connection in connections.organization_connections(organization=organization):
        org_connections.setdefault(connection.kind, connection)
    body = {"contact_id": str(contact.pk), "email": contact.email or None}
    for kind in connections.push_kinds():
        state = by_kind.get(kind)
        connection = state.connection if state is not None else org_connections.get(kind)
        body[kind] = _state_body(state, connection=connection, debug=debug)
    return body


def failure(state: ContactSyncState) -> dict:
    return {
        "contact_id": str(state.contact_id),
        "email": state.contact.email,
        "error": state.error,
        "error_category": state.error_category,
        "retry_count": state.retry_count,
        "last_retry_at": state.last_retry_at,
        "next_retry_at": state.next_retry_at,
        "can_retry": state_can_retry(state),
    }


def credential_test(result) -> dict:
    body = result.as_dict()
    if result.status != "valid":
        # Also the project's error-body keys, so clients that read `code` work here too.
        body.setdefault("error", result.message)
        body["code"] = {"invalid": "invalid_credentials", "rate_limited": "rate_limited"}.get(
            result.status, "crm_unreachable"
        )
        body["details"] = {"crm": result.crm}
    return body


def credential_test_status(result) -> int:
    return {"valid": 200, "invalid": 400, "unreachable": 502, "rate_limited": 429}[result.status]
