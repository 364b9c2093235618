"""MauticConnector: batch push, incremental pull, custom fields and credential test (CRM-APIS.md §3).

Push is `POST /api/contacts/batch/new` with at most 200 contacts (Mautic's default
`api_batch_max_limit`; an over-limit call fails as a whole with a 500). Mautic merges a
new contact into an existing one whose unique identifier (email by default) matches, so
the batch create is an upsert: statusCodes[i] is 201 (created) or 200 (merged), or the
item's error code, with `errors[i]` holding its message.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from integrations.connectors.base import (
    Capability,
    Connector,
    ContactPayload,
    CredentialCheck,
    Page,
    PushResult,
    RemoteProperty,
)
from integrations.connectors.base import snippet as body_snippet
from integrations.errors import (
    CapabilityNotSupported,
    CrmAuthError,
    CrmError,
    CrmLocked,
    CrmNotFound,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.http import error_class_for

from . import mapping
from .client import MauticClient

PAGE_SIZE_MAX = 200  # Mautic's default api_batch_max_limit also caps list pages in practice
BATCH_STOPPING = ("auth", "rate_limited", "unavailable", "timeout")


class MauticConnector(Connector):
    kind = "mautic"
    display_name = "Mautic"
    capabilities = frozenset(
        {
            Capability.PUSH_CONTACTS,
            Capability.PULL_CONTACTS,
            Capability.SYNC_PROPERTIES,
            Capability.TEST_CREDENTIALS,
        }
    )
    default_base_url = ""  # self-hosted: every connection names its instance
    account_fields = ("contacts_total", "mautic_version")
    batch_size_max = 200
    default_field_mapping: ClassVar[dict[str, str]] = mapping.DEFAULT_FIELD_MAPPING
    default_rate_limit = None
    credential_fields = ("username", "password", "client_id", "client_secret", "refresh_token")

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._client: MauticClient | None = None

    @property
    def client(self) -> MauticClient:
        if self._client is None:
            from integrations.selectors import connection_base_url

            self._client = MauticClient(
                self.connection,
                credentials=self.credentials,
                base_url=connection_base_url(connection=self.connection),
            )
        return self._client

    @property
    def options(self) -> dict[str, Any]:
        return self.connection.settings or {}

    def _mapping(self) -> dict[str, str]:
        return mapping.effective_mapping(default=self.field_mapping, override=None)

    def _secrets(self) -> tuple[str, ...]:
        return self.client.http.secrets()

    # -- credential test ------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        """GET /api/contacts?limit=1&minimal=1: proves the URL, the API switch and the credentials.

        A refusal (401/403: bad credentials or the API disabled; 404: no Mautic API at this
        URL) gives ok=False with Mautic's message; transient failures raise.
        """
        try:
            response = self.client.list_contacts(params={"limit": 1, "minimal": 1})
        except (CrmAuthError, CrmNotFound) as error:
            hint = (
                " (is this the Mautic root URL, with the API enabled?)"
                if error.category == "not_found"
                else ""
            )
            return CredentialCheck(ok=False, message=error.message + hint)
        data = response.data if isinstance(response.data, dict) else {}
        account = {
            "contacts_total": _int(data.get("total")),
            "mautic_version": response.headers.get("Mautic-Version"),
        }
        return CredentialCheck(ok=True, account=account, message="Mautic accepted the credentials.")

    # -- push -----------------------------------------------------------------------------
    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        """One PushResult per input, in input order; chunks of at most batch_size (≤ 200)."""
        records = list(records)
        results: list[PushResult | None] = [None] * len(records)
        contact_mapping = self._mapping()
        bodies: dict[int, dict] = {}
        for index, record in enumerate(records):
            try:
                bodies[index] = mapping.contact_body(payload=record, mapping=contact_mapping)
            except mapping.ContactMappingError as error:
                results[index] = PushResult(
                    contact_id=record.contact_id,
                    ok=False,
                    error=CrmValidationError(str(error), crm=self.kind),
                )
        indexes = list(bodies)
        stop: CrmError | None = None
        for start in range(0, len(indexes), self.batch_size):
            chunk = indexes[start : start + self.batch_size]
            if stop is not None:
                for index in chunk:
                    error = type(stop)(
                        f"not sent after an earlier failure in this batch: {stop.message}",
                        status=stop.status,
                        retry_after=stop.retry_after,
                        crm=self.kind,
                    )
                    results[index] = self._result(records[index], bodies[index], error=error)
                continue
            stop = self._push_chunk(records, bodies, chunk, results)
        return [result for result in results if result is not None]

    def _result(self, record, body, *, error=None, **fields) -> PushResult:
        return PushResult(
            contact_id=record.contact_id,
            ok=error is None,
            error=error,
            request=body_snippet(body, secrets=self._secrets()),
            **fields,
        )

    def _push_chunk(self, records, bodies, chunk: list[int], results: list) -> CrmError | None:
        """Send one chunk and fill its results; return the error that should stop the batch."""
        items = [bodies[index] for index in chunk]
        try:
            response = self.client.batch_new(items)
        except CrmError as error:
            response_snippet = body_snippet(
                {"status": error.status, "body": error.body}, secrets=self._secrets()
            )
            for index in chunk:
                results[index] = self._result(
                    records[index], bodies[index], error=error, response=response_snippet
                )
            return error if error.category in BATCH_STOPPING else None
        data = response.data if isinstance(response.data, dict) else {}
        contacts = mapping.by_index(data.get("contacts"))
        status_codes = mapping.by_index(data.get("statusCodes"))
        errors = mapping.by_index(data.get("errors"))
        by_email = {}
        for contact in contacts.values():
            if isinstance(contact, dict):
                email = str(mapping.contact_fields(contact).get("email") or "").lower()
                if email:
                    by_email[email] = contact
        for position, index in enumerate(chunk):
            record, body = records[index], bodies[index]
            status = _int(status_codes.get(position))
            item_error = errors.get(position)
            contact = contacts.get(position)
            email = str(body.get("email") or "").lower()
            if isinstance(contact, dict) and email:
                found = str(mapping.contact_fields(contact).get("email") or "").lower()
                if found and found != email:
                    contact = by_email.get(email)  # positions shifted: match on the merge key
            snippet = body_snippet(
                {"status": status, "contact": _summary(contact), "error": item_error}, secrets=self._secrets()
            )
            if item_error is not None or (status is not None and status >= 400):
                error = self._item_error(item_error, status)
                results[index] = self._result(record, body, error=error, response=snippet)
            elif isinstance(contact, dict) and contact.get("id") is not None:
                results[index] = self._result(
                    record,
                    body,
                    remote_id=str(contact["id"]),
                    created=(status == 201) if status is not None else None,
                    response=snippet,
                )
            else:
                error = CrmUnavailable("Mautic's batch answer had no result for this contact", crm=self.kind)
                results[index] = self._result(record, body, error=error, response=snippet)
        return None

    def _item_error(self, item_error: Any, status: int | None) -> CrmError:
        message, code, details = mapping.error_messages({"errors": [item_error]} if item_error else None)
        code = code or status or 400
        if code == 409 and isinstance(details, dict) and "checkedOut" in details:
            return CrmLocked(message or "contact is checked out by another user", status=409, crm=self.kind)
        return error_class_for(code)(
            message or f"Mautic refused this contact (code {code})", status=code, crm=self.kind
        )

    # -- pull -----------------------------------------------------------------------------
    def pull_contacts(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        """GET /api/contacts filtered on dateModified ≥ since, oldest first, keyset-paged.

        Offsets alone would skip a contact when another one is modified mid-walk (it moves
        to the end and everything after it shifts left), so each page re-anchors the filter
        at the newest dateModified it saw and skips the contacts already read at that
        second. The cursor is `{"since": "Y-m-d H:i:s", "offset": n}` in the instance's
        zone (settings.timezone, default UTC); None after the last page.
        """
        zone = mapping.instance_zone(self.options.get("timezone"))
        state = json.loads(cursor) if cursor else {}
        anchor = state.get("since") or (mapping.where_value(since, zone=zone) if since else None)
        offset = int(state.get("offset") or 0)
        limit = max(1, min(int(self.options.get("page_size") or PAGE_SIZE_MAX), PAGE_SIZE_MAX))
        contact_mapping = self._mapping()
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {
                "start": offset,
                "limit": limit,
                "orderBy": "date_modified",
                "orderByDir": "asc",
            }
            if anchor:
                params.update(
                    {"where[0][col]": "dateModified", "where[0][expr]": "gte", "where[0][val]": anchor}
                )
            response = self.client.list_contacts(params=params)
            data = response.data if isinstance(response.data, dict) else {}
            raw = data.get("contacts") or {}
            items = [c for c in (raw.values() if isinstance(raw, dict) else raw) if isinstance(c, dict)]
            records = []
            stamps = []
            for item in items:
                record = mapping.remote_record(contact=item, mapping=contact_mapping, zone=zone)
                stamps.append(
                    mapping.where_value(record.updated_at, zone=zone) if record.updated_at else None
                )
                if record.remote_id not in seen:
                    seen.add(record.remote_id)
                    records.append(record)
            more = len(items) >= limit
            if more:
                newest = max((s for s in stamps if s), default=None)
                if newest and (anchor is None or newest > anchor):
                    anchor, offset = newest, sum(1 for s in stamps if s == newest)
                else:
                    offset += len(items)
            next_cursor = json.dumps({"since": anchor, "offset": offset}) if more else None
            yield Page(records=records, next_cursor=next_cursor, raw_count=len(items))
            if not more:
                return

    # -- fields ---------------------------------------------------------------------------
    def _only_contacts(self, object_type: str) -> None:
        if object_type not in ("contacts", "contact"):
            raise CapabilityNotSupported(
                f"this connector syncs Mautic contact fields only, not {object_type}", crm=self.kind
            )

    def _fields(self) -> list[dict]:
        fields: list[dict] = []
        start = 0
        while True:
            data = self.client.list_fields(start=start, limit=PAGE_SIZE_MAX)
            batch = data.get("fields") or []
            batch = list(batch.values()) if isinstance(batch, dict) else batch
            fields.extend(f for f in batch if isinstance(f, dict))
            start += len(batch)
            total = _int(data.get("total"))
            if not batch or len(batch) < PAGE_SIZE_MAX or (total is not None and start >= total):
                return fields

    @classmethod
    def remote_property_name(cls, name: str) -> str:
        return mapping.field_alias(name)

    def property_projection(self, prop: RemoteProperty) -> RemoteProperty:
        """What Mautic would list for this definition (its field types, groups and option lists).

        Property sync diffs this, not the definition itself, so a second run with nothing
        changed finds nothing to update.
        """
        return mapping.remote_property(mapping.field_body(prop))

    def list_properties(self, *, object_type: str) -> list[RemoteProperty]:
        self._only_contacts(object_type)
        return [mapping.remote_property(field) for field in self._fields()]

    def create_properties(
        self, *, object_type: str, properties: Sequence[RemoteProperty]
    ) -> list[PushResult]:
        """Create each missing field (POST /api/fields/contact/new); an existing alias is ok."""
        self._only_contacts(object_type)
        existing = {field.get("alias"): field for field in self._fields()}
        results = []
        for prop in properties:
            body = mapping.field_body(prop)
            if body["alias"] in existing:
                field = existing[body["alias"]]
                results.append(
                    PushResult(contact_id=prop.name, ok=True, remote_id=str(field.get("id")), created=False)
                )
                continue
            try:
                data = self.client.create_field(body)
            except CrmError as error:
                results.append(PushResult(contact_id=prop.name, ok=False, error=error, request=body))
                continue
            field = data.get("field") or {}
            results.append(
                PushResult(
                    contact_id=prop.name,
                    ok=True,
                    remote_id=str(field.get("id")) if field.get("id") is not None else None,
                    created=True,
                    request=body,
                    response=body_snippet(data, secrets=self._secrets()),
                )
            )
        return results

    def update_property(self, *, object_type: str, prop: RemoteProperty) -> RemoteProperty:
        """PATCH /api/fields/contact/{id}/edit with the label, description and options.

        The alias and type are left alone: Mautic keys contact data by alias and does
        not convert stored values when a type changes.
        """
        self._only_contacts(object_type)
        field_id = prop.remote_id
        if not field_id:
            alias = mapping.field_alias(prop.name)
            match = next((f for f in self._fields() if f.get("alias") == alias), None)
            if match is None:
                raise CrmNotFound(f"Mautic has no contact field {alias}", status=404, crm=self.kind)
            field_id = str(match["id"])
        full = mapping.field_body(prop)
        body = {key: full[key] for key in ("label", "description", "properties") if key in full}
        data = self.client.edit_field(field_id, body)
        return mapping.remote_property(data.get("field") or {**full, "id": field_id})


def _summary(contact: Any) -> Any:
    """The part of a returned contact worth showing an operator (id, email, dates)."""
    if not isinstance(contact, dict):
        return contact
    fields = mapping.contact_fields(contact)
    return {
        "id": contact.get("id"),
        "email": fields.get("email"),
        "dateModified": contact.get("dateModified"),
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
