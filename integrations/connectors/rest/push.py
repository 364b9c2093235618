"""Writing contacts to a REST API one request each, with a result per contact.

Order of attempts for one contact, so that a retried push never creates a duplicate:
1. it has a remote id → update it (PATCH/PUT <path>/<id>); a 404 means it was deleted
   remotely, so carry on as if it had none;
2. the API can filter by email (`lookup_param`) → look it up and update the match;
3. create it (POST <path>); a 409 "already exists" becomes a lookup and an update.
"""

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from core.logging import redact_data
from integrations.connectors.base import ContactPayload, PushResult, RecordWrite
from integrations.connectors.rest.mapping import MISSING, contact_body, path_get, path_set
from integrations.connectors.rest.paging import Pager
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmNotFound,
    CrmRateLimited,
    CrmValidationError,
)
from integrations.http import CrmHttpClient

TRACE_LIMIT = 4000  # characters of a request or response body kept on a result
# Errors that hold for the whole connection: the rest of the batch is not attempted.
HALTING = (CrmAuthError, CrmRateLimited)


def capped(value: Any) -> Any:
    """A JSON-like value small enough to store on a result (a preview when too big)."""
    text = json.dumps(value, default=str)
    if len(text) <= TRACE_LIMIT:
        return value
    return {"truncated": True, "preview": text[:TRACE_LIMIT]}


class ContactWriter:
    def __init__(
        self,
        *,
        client: CrmHttpClient,
        path: str,
        field_map: dict[str, str],
        options: dict[str, Any],
        pager: Pager,
        id_path: str,
        crm: str,
    ) -> None:
        self.client = client
        self.path = path
        self.field_map = field_map
        self.options = options
        self.pager = pager
        self.id_path = id_path
        self.crm = crm
        self._request: Any = None
        self._response: Any = None

    def push(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        """One result per input, in input order.

        An auth failure or a 429 stops the batch: every remaining contact gets that same
        error without a call (each would fail the same way, and a 429 asks us to stop).
        """
        results: list[PushResult] = []
        halted: CrmError | None = None
        for payload in records:
            if halted is not None:
                results.append(PushResult(contact_id=payload.contact_id, ok=False, error=halted))
                continue
            result = self.push_one(payload)
            results.append(result)
            if isinstance(result.error, HALTING):
                halted = result.error
        return results

    def push_one(self, payload: ContactPayload) -> PushResult:
        self._request = self._response = None
        body = contact_body(payload=payload, field_map=self.field_map)
        if not body:
            error = CrmValidationError(
                "No mapped field is present in this contact; nothing to send.", crm=self.crm
            )
            return PushResult(contact_id=payload.contact_id, ok=False, error=error)
        try:
            return self._write(payload, body)
        except CrmError as exc:
            response = self._response if self._response is not None else exc.body
            return PushResult(
                contact_id=payload.contact_id,
                ok=False,
                error=exc,
                request=self._request,
                response=capped(response) if response is not None else None,
            )

    def _write(self, payload: ContactPayload, body: dict) -> PushResult:
        if payload.remote_id:
            try:
                return self._update(payload, payload.remote_id, body)
            except CrmNotFound:
                pass  # deleted in the CRM: find it by email or create it again
        existing = self._lookup(payload)
        if existing is not None:
            return self._update(payload, existing, body)
        try:
            return self._create(payload, body)
        except CrmConflict:
            existing = self._lookup(payload)
            if existing is None:
                raise
            return self._update(payload, existing, body)

    # -- calls ----------------------------------------------------------------------------
    def _wrapped(self, body: dict) -> dict:
        key = self.options.get("body_key")
        return {key: body} if key else body

    def _call(
        self, method: str, path: str, *, json_body: Any = None, params: dict | None = None, headers=None
    ):
        self._request = {"method": method, "path": path}
        if params:
            self._request["params"] = params
        if json_body is not None:
            self._request["body"] = capped(redact_data(json_body, secrets=self.client.secrets()))
        self._response = None
        try:
            response = self.client.request(method, path, json=json_body, params=params, headers=headers)
        except CrmError as exc:
            self._response = exc.body
            raise
        self._response = redact_data(response.data, secrets=self.client.secrets())
        return response

    def _record_id(self, data: Any) -> str | None:
        record = path_get(data, self.options.get("response_path", ""), None)
        remote_id = path_get(record, self.id_path, None) if isinstance(record, dict) else None
        return str(remote_id) if remote_id not in (None, "") else None

    def _result(self, payload: ContactPayload, *, remote_id: str, created: bool) -> PushResult:
        return PushResult(
            contact_id=payload.contact_id,
            ok=True,
            remote_id=remote_id,
            created=created,
            request=self._request,
            response=capped(self._response) if self._response is not None else None,
        )

    def _update(self, payload: ContactPayload, remote_id: str, body: dict) -> PushResult:
        path = f"{self.path.rstrip('/')}/{quote(str(remote_id), safe='')}"
        response = self._call(self.options.get("update_method", "PATCH"), path, json_body=self._wrapped(body))
        # A 204 (or a body without an id) still updated the record we addressed.
        return self._result(
            payload, remote_id=self._record_id(response.data) or str(remote_id), created=False
        )

    def _create(self, payload: ContactPayload, body: dict) -> PushResult:
        headers = {}
        if self.options.get("idempotency_header") and payload.idempotency_key:
            headers[self.options["idempotency_header"]] = payload.idempotency_key
        response = self._call("POST", self.path, json_body=self._wrapped(body), headers=headers or None)
        remote_id = self._record_id(response.data)
        if remote_id is None:
            # Without an id the next push could not address it; say so rather than succeed blind.
            where = ".".join(p for p in (self.options.get("response_path"), self.id_path) if p)
            raise CrmValidationError(
                f"The API created the contact but its answer has no id at '{where}'; "
                "check settings.contacts.response_path and settings.id_path.",
                status=response.status,
                crm=self.crm,
            )
        return self._result(payload, remote_id=remote_id, created=True)

    def _lookup(self, payload: ContactPayload) -> str | None:
        """The id of the remote contact with this email, when the API can filter by it.

        The match is checked on the email field itself: an API that ignores an unknown
        filter returns its whole list, and its first item must not be overwritten.
        """
        param = self.options.get("lookup_param")
        email = payload.properties.get("email") or payload.email
        if not param or not isinstance(email, str) or not email.strip():
            return None
        wanted = email.strip().lower()
        response = self._call("GET", self.path, params={param: email.strip()})
        email_path = self.field_map.get("email", "email")
        for item in self.pager.items(response.data):
            value = path_get(item, email_path)
            if value is not MISSING and isinstance(value, str) and value.strip().lower() == wanted:
                remote_id = path_get(item, self.id_path, None)
                if remote_id not in (None, ""):
                    return str(remote_id)
        return None


# Seed 002's task actions: PATCH /tasks/{id}/assign {"assignee_id": …}, PATCH /tasks/{id}/status
# {"status": …}. Each sets one field of the task; the value is the action's body under that name.
RECORD_ACTIONS: dict[str, dict[str, str]] = {"tasks": {"assign": "assignee_id", "status": "status"}}
# Fields an update never sends: the API owns them.
SERVER_FIELDS = ("id", "created_at", "updated_at", "createdAt", "updatedAt")


class RecordWriter:
    """Writes of one pulled record: a field update (PATCH, or PUT of the whole record) or an action."""

    def __init__(self, *, client: CrmHttpClient, path: str, field_map: dict[str, str], method: str) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.field_map = field_map
        self.method = method

    def update(self, *, remote_id: str, values: dict, current: dict) -> RecordWrite:
        """PATCH sends the changed fields only; PUT replaces the record, so it sends the record
        as last pulled with the changes applied (never the fields the API owns)."""
        body: dict[str, Any] = {}
        if self.method == "PUT":
            body = {k: v for k, v in (current or {}).items() if k not in SERVER_FIELDS}
        for local, value in values.items():
            path_set(body, self.field_map.get(local, local), value)
        return self._call(self.method, f"{self.path}/{quote(str(remote_id), safe='')}", body)

    def action(self, *, remote_id: str, action: str, body: dict) -> RecordWrite:
        path = f"{self.path}/{quote(str(remote_id), safe='')}/{quote(action, safe='')}"
        return self._call("PATCH", path, body)

    def _call(self, method: str, path: str, body: dict) -> RecordWrite:
        secrets = self.client.secrets()
        request = {"method": method, "path": path, "body": capped(redact_data(body, secrets=secrets))}
        try:
            response = self.client.request(method, path, json=body)
        except CrmError as exc:
            # The service keeps the exchange of a failed write too.
            exc.exchange = RecordWrite(request=request, response=capped(exc.body) if exc.body else None)
            raise
        return RecordWrite(request=request, response=capped(redact_data(response.data, secrets=secrets)))
