"""Apply one page of pulled records locally: contacts through the 3-way merge, the rest to RemoteRecord.

Everything here runs inside the transaction that also saves the page's cursor (pull.py), so
a page is applied entirely or not at all. Set-based: a page of 200 records costs about a
dozen queries whatever it holds, never a query per record.

Bad data from the CRM (no id, an invalid or duplicate email, an oversized or invalid value,
an unreadable modified time) is recorded as a PullIssue on the run and never stops the page:
the offending value is left out, the rest of the record is applied.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from accounts.actors import Actor
from accounts.services import audit_record_many
from contacts.models import Contact
from contacts.services.common import jsonable
from contacts.signals import contacts_changed
from contacts.validation import email_normalize
from core import jsontext
from core.bulk import bulk_create_rows, bulk_update_rows
from core.rows import instance_new
from crm_sync.models import (
    ContactSyncState,
    ProcessingStatus,
    RemoteRecord,
    SyncStatus,
    record_search_text,
)
from crm_sync.outcome_signals import conflicts_opened, send_on_commit
from crm_sync.services.conflicts import conflict_record
from crm_sync.services.events import sync_events_record
from crm_sync.services.merge import merge_remote_fields, values_equal
from crm_sync.services.payloads import contact_properties, payload_hash
from crm_sync.services.records import RECORD_ENTITIES, records_merge_pending
from integrations.connectors.base import RemoteRecord as PulledRecord
from properties.validation import custom_property_value_errors

# Contact fields a CRM may set; custom properties are the mapped names that are not these.
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "company", "job_title", "subtype", "status")
# Where a record's display name comes from, by the first present field.
DISPLAY_NAME_FIELDS = ("name", "dealname", "title", "subject", "property_address", "full_name", "username")
MAX_ISSUES_PER_RUN = 200


@dataclass
class PullIssue:
    remote_id: str
    code: str
    message: str
    field: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v != ""}


@dataclass
class PageTally:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    conflicts: int = 0
    issues: list[PullIssue] = field(default_factory=list)
    newest: datetime | None = None

    def note(self, remote_id: str, code: str, message: str, field_name: str = "") -> None:
        self.issues.append(PullIssue(remote_id=remote_id, code=code, message=message, field=field_name))


@dataclass
class PullContext:
    """What every page of one run shares (loaded once per run)."""

    connection: Any
    object_type: str
    field_mapping: dict[str, str]
    definitions: dict[str, dict]
    now: datetime
    actor: Actor
    changed_contact_ids: list = field(default_factory=list)
    created_contact_ids: list = field(default_factory=list)
    # Other object types this connection pulls (deals...): their records may name a contact
    # pulled only later, and link to it when it arrives (contacts only).
    linked_types: tuple[str, ...] = ()
    # Set by the page that ends a backfill pass read cleanly: that pass's start (pull_unseen.py).
    complete_backfill_started_at: datetime | None = None

    @property
    def mapped_names(self) -> set[str]:
        return set(CONTACT_FIELDS) | set(self.field_mapping) | set(self.definitions)


def raw_capped(raw: dict) -> tuple[dict, bool]:
    """A JSON-native copy of the raw record, or a truncated stand-in when its JSON is over
    SYNC_PULL_RAW_MAX_BYTES (values JSON has no type for are stored as text)."""
    text, copy = jsontext.dumps_and_copy(raw, default=str)
    limit = settings.SYNC_PULL_RAW_MAX_BYTES
    if len(text) > limit:
        return {"_truncated": True, "_bytes": len(text), "_text": text[:limit]}, True
    return copy, False


def _display_name(record: PulledRecord) -> str:
    props = record.properties
    first, last = props.get("first_name") or "", props.get("last_name") or ""
    if first or last:
        return f"{first} {last}".strip()[:255]
    for name in DISPLAY_NAME_FIELDS:
        if props.get(name):
            return str(props[name])[:255]
    return (record.email or "")[:255]


def _dedupe(records: list[PulledRecord], tally: PageTally) -> list[PulledRecord]:
    """One record per remote id (the last one wins); records without an id are noted and dropped."""
    by_id: dict[str, PulledRecord] = {}
    for record in records:
        if not record.remote_id or record.remote_id == "None":
            tally.note("", "missing_id", "The CRM sent a record without an id; it was skipped.")
            continue
        by_id[record.remote_id] = record
    return list(by_id.values())


def _track_newest(record: PulledRecord, tally: PageTally) -> None:
    if record.updated_at is None:
        if not record.archived:
            tally.note(
                record.remote_id, "invalid_date", "The record's modified time is missing or malformed."
            )
        return
    if tally.newest is None or record.updated_at > tally.newest:
        tally.newest = record.updated_at


# -- the record store ---------------------------------------------------------------------


def _record_values(record: PulledRecord, tally: PageTally, ctx: PullContext) -> dict[str, Any]:
    raw, truncated = raw_capped(record.raw or {})
    if truncated:
        tally.note(
            record.remote_id,
            "oversized_record",
            f"The record is over {settings.SYNC_PULL_RAW_MAX_BYTES} bytes; its stored copy is truncated.",
        )
    fields_json, _ = raw_capped(record.properties)
    return {
        "fields": fields_json,
        "raw": raw,
        "email": (record.email or "")[:254],
        "display_name": _display_name(record),
        "remote_updated_at": record.updated_at,
        "archived": record.archived,
        "archived_at": record.archived_at or (ctx.now if record.archived else None),
        "contact_remote_id": str(record.links.get("contacts", ""))[:255],
        "search_text": record_search_text(ctx.object_type, record.properties, record.email or ""),
    }


def records_store(
    *,
    records: list[PulledRecord],
    ctx: PullContext,
    tally: PageTally,
    contact_ids: dict[str, Any] | None = None,
) -> dict[str, RemoteRecord]:
    """Upsert `records` into RemoteRecord by (connection, object type, remote id); return them by id.

    A record the CRM merged into another points at the survivor and is marked archived, even
    when this store never saw it. Counting is left to the caller for contacts (contact_ids
    given: the link to the local contact), done here for other objects.
    """
    connection = ctx.connection
    existing = {
        row.remote_id: row
        for row in RemoteRecord.objects.filter(
            connection=connection, object_type=ctx.object_type, remote_id__in=[r.remote_id for r in records]
        )
    }
    links = {r.links["contacts"] for r in records if r.links.get("contacts")}
    linked = dict(
        ContactSyncState.objects.filter(connection=connection, remote_id__in=links).values_list(
            "remote_id", "contact_id"
        )
    )
    new, changed, seen = [], [], []
    compared = (
        "fields",
        "raw",
        "email",
        "display_name",
        "remote_updated_at",
        "archived",
        "contact_remote_id",
        "search_text",
    )
    for record in records:
        values = _record_values(record, tally, ctx)
        contact_id = (contact_ids or {}).get(record.remote_id) or linked.get(values["contact_remote_id"])
        row = existing.get(record.remote_id)
        if row is None:
            row = instance_new(
                RemoteRecord,
                {
                    "organization_id": connection.organization_id,
                    "connection_id": connection.pk,
                    "object_type": ctx.object_type,
                    "remote_id": record.remote_id[:255],
                    "fetched_at": ctx.now,
                    "contact_id": contact_id,
                    **values,
                },
            )
            new.append(row)
            existing[record.remote_id] = row
            if contact_ids is None:
                tally.created += 1
            continue
        same = all(getattr(row, name) == values[name] for name in compared) and (
            contact_id is None or row.contact_id == contact_id
        )
        if not values["archived"] and row.archived:
            values["archived_at"] = None
        elif values["archived"] and row.archived:
            values["archived_at"] = row.archived_at
        row.fetched_at = ctx.now
        row.updated_at = ctx.now
        if same and row.archived_at == values["archived_at"] and ctx.object_type not in RECORD_ENTITIES:
            # Nothing but when it was seen: write only that, not the record's JSON again.
            seen.append(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            if contact_id is not None:
                row.contact_id = contact_id
            changed.append(row)
        if contact_ids is None:
            if same:
                tally.unchanged += 1
            else:
                tally.updated += 1
    if contact_ids is None:
        tally.archived += sum(1 for r in records if r.archived)
    if ctx.object_type in RECORD_ENTITIES:
        # Local changes not yet in the CRM are merged, not overwritten (services/records.py).
        records_merge_pending(
            rows=changed, pulled={r.remote_id: r.updated_at for r in records}, connection=connection
        )
    bulk_create_rows(RemoteRecord, new)
    bulk_update_rows(
        RemoteRecord,
        changed,
        [
            "fields",
            "raw",
            "email",
            "display_name",
            "remote_updated_at",
            "archived",
            "archived_at",
            "contact_remote_id",
            "search_text",
            "contact",
            "fetched_at",
            "updated_at",
        ],
    )
    bulk_update_rows(RemoteRecord, seen, ["fetched_at", "updated_at"])
    _mark_merged(records=records, ctx=ctx)
    return existing


def _mark_merged(*, records: list[PulledRecord], ctx: PullContext) -> None:
    """Point records the CRM merged away at their survivor (creating a marker row when unseen)."""
    survivors = {merged: r.remote_id for r in records for merged in r.merged_ids if merged != r.remote_id}
    if not survivors:
        return
    rows = {
        row.remote_id: row
        for row in RemoteRecord.objects.filter(
            connection=ctx.connection, object_type=ctx.object_type, remote_id__in=list(survivors)
        )
    }
    new, changed = [], []
    for merged, survivor in survivors.items():
        row = rows.get(merged)
        if row is None:
            new.append(
                RemoteRecord(
                    organization_id=ctx.connection.organization_id,
                    connection=ctx.connection,
                    object_type=ctx.object_type,
                    remote_id=merged[:255],
                    fetched_at=ctx.now,
                    archived=True,
                    archived_at=ctx.now,
                    merged_into_remote_id=survivor,
                )
            )
        elif row.merged_into_remote_id != survivor or not row.archived:
            row.merged_into_remote_id = survivor
            row.archived = True
            row.archived_at = row.archived_at or ctx.now
            row.updated_at = ctx.now
            changed.append(row)
    bulk_create_rows(RemoteRecord, new)
    bulk_update_rows(
        RemoteRecord, changed, ["merged_into_remote_id", "archived", "archived_at", "updated_at"]
    )


def page_apply_records(*, records: list[PulledRecord], ctx: PullContext) -> PageTally:
    """A page of deals, transactions, projects...: into the record store, linked to contacts."""
    tally = PageTally(fetched=len(records))
    records = _dedupe(records, tally)
    for record in records:
        _track_newest(record, tally)
    records_store(records=records, ctx=ctx, tally=tally)
    return tally


# -- contacts -----------------------------------------------------------------------------


def _remote_values(record: PulledRecord, ctx: PullContext, tally: PageTally) -> dict[str, Any]:
    """The record's mapped local values, each checked; a bad value is noted and left out."""
    values: dict[str, Any] = {}
    mapped = ctx.mapped_names
    for name, value in record.properties.items():
        if name not in mapped or name in ("tags", "notes", "source"):
            continue
        if name in CONTACT_FIELDS:
            checked = _contact_field_value(name, value, record, tally)
            if checked is not _INVALID:
                values[name] = checked
            continue
        definition = ctx.definitions.get(name)
        if definition is not None:
            problems = custom_property_value_errors(value, definition)
            if problems:
                tally.note(record.remote_id, "invalid_value", "; ".join(problems), name)
                continue
        elif ctx.definitions and name not in ctx.field_mapping:
            continue
        if isinstance(value, str) and len(value) > settings.SYNC_PULL_VALUE_MAX_CHARS:
            tally.note(
                record.remote_id,
                "oversized_value",
                f"The value is over {settings.SYNC_PULL_VALUE_MAX_CHARS} characters; it was not applied.",
                name,
            )
            continue
        values[name] = value
    if "email" not in values and record.email:
        checked = _contact_field_value("email", record.email, record, tally)
        if checked is not _INVALID:
            values["email"] = checked
    return values


_INVALID = object()
_MAX_LENGTH = {f.name: f.max_length for f in Contact._meta.fields if getattr(f, "max_length", None)}
_CHOICES = {
    "subtype": {value for value, _ in Contact.Subtype.choices},
    "status": {value for value, _ in Contact.Status.choices},
}


def _contact_field_value(name: str, value: Any, record: PulledRecord, tally: PageTally) -> Any:
    if value is None:
        return "" if name not in _CHOICES else _INVALID
    if not isinstance(value, str | int | float):
        tally.note(record.remote_id, "invalid_value", "The value is not text.", name)
        return _INVALID
    text = str(value).strip()
    if name == "email":
        text = email_normalize(text)
        if text:
            try:
                validate_email(text)
            except ValidationError:
                tally.note(record.remote_id, "invalid_email", f"{text[:100]!r} is not a valid email.", name)
                return _INVALID
    if name in _CHOICES:
        text = text.lower()
        if text not in _CHOICES[name]:
            tally.note(record.remote_id, "invalid_value", f"{text[:50]!r} is not a valid {name}.", name)
            return _INVALID
    limit = _MAX_LENGTH.get(name)
    if limit and len(text) > limit:
        tally.note(record.remote_id, "oversized_value", f"The value is over {limit} characters.", name)
        return _INVALID
    return text


def _local_values(contact: Contact, names) -> dict[str, Any]:
    custom = contact.custom_properties or {}
    return {name: getattr(contact, name) if name in CONTACT_FIELDS else custom.get(name) for name in names}


def _contact_hash(contact: Contact, connection) -> str:
    return payload_hash(
        email=contact.email, properties=contact_properties(contact), field_mapping=connection.field_mapping
    )


def _set_value(contact: Contact, name: str, value: Any) -> None:
    if name in CONTACT_FIELDS:
        setattr(contact, name, "" if value is None else value)
    else:
        custom = dict(contact.custom_properties or {})
        custom[name] = value
        contact.custom_properties = custom


# The push side's columns a pull never reads (the kept request and response bodies may be
# kilobytes a row): not loaded with the page's states.
STATE_COLUMNS_UNREAD = (
    "last_request",
    "last_response",
    "next_retry_at",
    "last_retry_at",
    "queued_at",
    "due_at",
    "claim_token",
    "claimed_at",
)


def _match(records: list[PulledRecord], ctx: PullContext, tally: PageTally):
    """States and contacts for the page: by remote id, then by an id merged into a record, then email."""
    connection = ctx.connection
    ids = [r.remote_id for r in records]
    merged_ids = {m: r.remote_id for r in records for m in r.merged_ids}
    # Locked: a push worker's write-back of these rows waits for this page, then wins.
    states = {
        s.remote_id: s
        for s in ContactSyncState.objects.select_for_update()
        .defer(*STATE_COLUMNS_UNREAD)
        .filter(connection=connection, remote_id__in=ids + list(merged_ids))
    }
    emails = {r.email for r in records if r.email}
    contacts = {
        c.pk: c
        for c in Contact.objects.select_for_update().filter(
            Q(pk__in=[s.contact_id for s in states.values()])
            | Q(organization_id=connection.organization_id, email__in=emails)
        )
    }
    by_email = {
        c.email: c for c in contacts.values() if c.email and c.organization_id == connection.organization_id
    }
    email_states = {
        s.contact_id: s
        for s in ContactSyncState.objects.select_for_update()
        .defer(*STATE_COLUMNS_UNREAD)
        .filter(connection=connection, contact_id__in=[c.pk for c in by_email.values()])
    }
    matched: dict[str, tuple[Contact | None, ContactSyncState | None]] = {}
    claimed: set = set()
    for record in records:
        state = states.get(record.remote_id)
        if state is None:
            for merged in record.merged_ids:
                candidate = states.get(merged)
                if candidate is not None and candidate.contact_id not in claimed:
                    state = candidate
                    break
        contact = contacts.get(state.contact_id) if state is not None else None
        if contact is None and record.email and record.email in by_email:
            contact = by_email[record.email]
            state = email_states.get(contact.pk)
            if state is not None and state.remote_id and state.remote_id != record.remote_id:
                tally.note(
                    record.remote_id,
                    "relinked",
                    f"The contact with this email followed record {state.remote_id}; now it follows this.",
                )
        if contact is not None and contact.pk in claimed:
            tally.note(
                record.remote_id, "duplicate_email", "Another record of this page matched the same contact."
            )
            contact, state = None, None
            record.email = None
            record.properties.pop("email", None)
        if contact is not None:
            claimed.add(contact.pk)
        matched[record.remote_id] = (contact, state)
    return matched, states, merged_ids, set(by_email)


def _link_waiting_records(*, contact_ids: dict[str, Any], ctx: PullContext) -> None:
    """Link records pulled before their contact (a deal whose contact came in a later page or
    run) to the contacts of this page; one read and at most one write a page."""
    by_remote = {remote_id: pk for remote_id, pk in contact_ids.items() if pk is not None}
    if not ctx.linked_types or not by_remote:
        return
    waiting = list(
        RemoteRecord.objects.filter(
            connection=ctx.connection,
            object_type__in=ctx.linked_types,
            contact_remote_id__in=list(by_remote),
            contact_id__isnull=True,
        ).only("pk", "contact_remote_id")
    )
    for row in waiting:
        row.contact_id = by_remote[row.contact_remote_id]
        row.updated_at = ctx.now
    bulk_update_rows(RemoteRecord, waiting, ["contact", "updated_at"])


def page_apply_contacts(*, records: list[PulledRecord], ctx: PullContext) -> PageTally:
    """A page of contacts: matched, merged, created or updated, linked; pushed-hash set against echo."""
    tally = PageTally(fetched=len(records))
    records = _dedupe(records, tally)
    connection = ctx.connection
    kind = connection.kind
    for record in records:
        _track_newest(record, tally)
    # taken_emails: the organization's contacts holding any email of the page (read by _match).
    matched, states_by_remote, merged_ids, taken_emails = _match(records, ctx, tally)

    new_contacts: list[Contact] = []
    changed_contacts: dict[Any, tuple[Contact, dict]] = {}
    new_states: list[ContactSyncState] = []
    changed_states: list[ContactSyncState] = []
    push_back_ids: list = []
    audit_events: list[dict] = []
    contact_ids: dict[str, Any] = {}
    conflicts_to_record = []

    for record in records:
        contact, state = matched[record.remote_id]
        if record.archived:
            tally.archived += 1
            if state is not None:
                state.remote_archived = True
                state.remote_archived_at = record.archived_at or ctx.now
                state.last_pulled_at = ctx.now
                changed_states.append(state)
                contact_ids[record.remote_id] = state.contact_id
            continue
        remote = _remote_values(record, ctx, tally)
        if not remote.get("email") and contact is None:
            tally.note(
                record.remote_id, "missing_email", "The record has no email; it was matched by id only."
            )
        if contact is None:
            email = remote.get("email", "")
            if email and email in taken_emails:
                tally.note(
                    record.remote_id,
                    "duplicate_email",
                    "Another contact has this email; it was left out.",
                    "email",
                )
                remote.pop("email")
            contact = instance_new(
                Contact,
                {
                    "organization_id": connection.organization_id,
                    "source": f"crm:{kind}"[:64],
                    "created_by_type": "system",
                    "created_by_label": f"crm:{kind}"[:200],
                },
            )
            for name, value in remote.items():
                _set_value(contact, name, value)
            if contact.email:
                taken_emails.add(contact.email)
            new_contacts.append(contact)
            tally.created += 1
            state = instance_new(
                ContactSyncState,
                {
                    "contact_id": contact.pk,
                    "connection_id": connection.pk,
                    "remote_id": record.remote_id[:255],
                    "sync_status": SyncStatus.COMPLETE,
                    "processing_status": ProcessingStatus.COMPLETE,
                    "base_values": jsonable(remote),
                    "last_pulled_at": ctx.now,
                    "last_synced_at": ctx.now,
                },
            )
            state.pushed_hash = _contact_hash(contact, connection)
            new_states.append(state)
            contact_ids[record.remote_id] = contact.pk
            audit_events.append(
                {"action": "contact.pulled", "object_type": "contact", "object_id": contact.pk,
                 "changes": jsonable({**remote, "connection": connection.pk, "remote_id": record.remote_id})}
            )  # fmt: skip
            continue

        contact_ids[record.remote_id] = contact.pk
        # In sync: everything local was pushed, and no push of it is in flight now.
        in_sync = (
            state is not None
            and state.processing_status != ProcessingStatus.PROCESSING
            and state.pushed_hash == _contact_hash(contact, connection)
        )
        base = dict(state.base_values or {}) if state is not None else {}
        result = merge_remote_fields(
            strategy=connection.conflict_strategy,
            base=base,
            local=_local_values(contact, remote),
            remote=remote,
            local_modified_at=contact.updated_at,
            remote_modified_at=record.updated_at,
        )
        updates = dict(result.local_updates)
        new_email = updates.get("email")
        if new_email and new_email != contact.email and new_email in taken_emails:
            tally.note(
                record.remote_id,
                "duplicate_email",
                "Another contact has this email; it was left out.",
                "email",
            )
            updates.pop("email")
        changes = {}
        for name, value in updates.items():
            before = _local_values(contact, [name])[name]
            if not values_equal(before, value):
                changes[name] = {"old": before, "new": value}
                _set_value(contact, name, value)
        if "email" in changes:
            taken_emails.discard(changes["email"]["old"])
            taken_emails.add(contact.email)
        if changes:
            contact.updated_at = ctx.now
            changed_contacts[contact.pk] = (contact, changes)
            tally.updated += 1
            audit_events.append(
                {"action": "contact.pulled", "object_type": "contact", "object_id": contact.pk,
                 "changes": jsonable({**changes, "connection": connection.pk, "remote_id": record.remote_id})}
            )  # fmt: skip
        else:
            tally.unchanged += 1
        if result.conflicts:
            tally.conflicts += 1
            conflicts_to_record.append((contact, dict(result.conflicts), record.updated_at))
        if state is None:
            # Matched by email: local values the CRM may lack were never pushed there, so no
            # pushed hash (the next local change pushes the whole contact).
            state = instance_new(
                ContactSyncState,
                {
                    "contact_id": contact.pk,
                    "connection_id": connection.pk,
                    "sync_status": SyncStatus.COMPLETE,
                    "processing_status": ProcessingStatus.COMPLETE,
                    "last_synced_at": ctx.now,
                },
            )
            new_states.append(state)
        else:
            changed_states.append(state)
        if state.remote_id != record.remote_id:
            if state.remote_id and state.remote_id in merged_ids:
                state.merged_into_remote_id = ""
            state.remote_id = record.remote_id[:255]
        state.remote_archived = False
        state.remote_archived_at = None
        state.base_values = jsonable(result.new_base)
        state.last_pulled_at = ctx.now
        if result.push_back:
            push_back_ids.append(contact.pk)
        elif in_sync:
            # No echo: what the CRM just sent is what it holds, so a push of it would be a no-op.
            state.pushed_hash = _contact_hash(contact, connection)
            state.last_synced_at = state.last_synced_at or ctx.now

    # Records merged away whose contact did not become the survivor's: mark them, keep the data.
    for merged, survivor in merged_ids.items():
        state = states_by_remote.get(merged)
        if state is not None and state.remote_id == merged:
            state.merged_into_remote_id = survivor
            state.remote_archived = True
            state.remote_archived_at = state.remote_archived_at or ctx.now
            if state not in changed_states:
                changed_states.append(state)

    for contact in new_contacts:
        contact.created_at = contact.updated_at = ctx.now
        contact.tags = contact.tags or []
        contact.search_text_refresh()
    bulk_create_rows(Contact, new_contacts)
    if changed_contacts:
        fields = sorted(
            {
                name if name in CONTACT_FIELDS else "custom_properties"
                for _, ch in changed_contacts.values()
                for name in ch
            }
        )
        for contact, _ in changed_contacts.values():
            contact.search_text_refresh()
        bulk_update_rows(
            Contact, [c for c, _ in changed_contacts.values()], [*fields, "search_text", "updated_at"]
        )
    for state in new_states:
        state.created_at = state.updated_at = ctx.now
    bulk_create_rows(ContactSyncState, new_states)
    for state in changed_states:
        state.updated_at = ctx.now
    bulk_update_rows(
        ContactSyncState,
        changed_states,
        [
            "remote_id",
            "base_values",
            "pushed_hash",
            "last_synced_at",
            "last_pulled_at",
            "remote_archived",
            "remote_archived_at",
            "merged_into_remote_id",
            "updated_at",
        ],
    )
    sync_events_record(
        states=[*new_states, *changed_states], connection=connection, direction="pull", now=ctx.now
    )
    records_store(records=records, ctx=ctx, tally=tally, contact_ids=contact_ids)
    _link_waiting_records(contact_ids=contact_ids, ctx=ctx)
    if audit_events:
        audit_record_many(organization=connection.organization, actor=ctx.actor, events=audit_events)
    opened = []
    for contact, conflicts, remote_updated_at in conflicts_to_record:
        conflict = conflict_record(
            contact=contact, connection=connection, conflicts=conflicts, remote_updated_at=remote_updated_at
        )
        if conflict is not None:
            opened.append({"id": conflict.pk, "contact_id": str(contact.pk), "fields": sorted(conflicts)})
    if opened:
        send_on_commit(conflicts_opened, connection=connection, conflicts=opened)
    if push_back_ids:
        from crm_sync.services.queueing import contact_queue_for_connection

        for contact_id in push_back_ids:
            contact_queue_for_connection(contact_id=contact_id, connection=connection, force=True)
    ctx.changed_contact_ids.extend(changed_contacts)
    ctx.created_contact_ids.extend(c.pk for c in new_contacts)
    return tally


def contacts_announce(*, ctx: PullContext) -> None:
    """Tell other apps which contacts a page changed, after it commits (other CRMs get them).

    `origin_connection_id` names the CRM the values came from, so it is not sent them back.
    """
    from django.db import transaction

    changed, created = list(ctx.changed_contact_ids), list(ctx.created_contact_ids)
    ctx.changed_contact_ids.clear()
    ctx.created_contact_ids.clear()
    organization = ctx.connection.organization
    origin = ctx.connection.pk

    def send() -> None:
        for ids, action in ((created, "created"), (changed, "updated")):
            if ids:
                contacts_changed.send(
                    sender=Contact,
                    organization=organization,
                    contact_ids=ids,
                    fields=[],
                    action=action,
                    origin_connection_id=origin,
                )

    if changed or created:
        transaction.on_commit(send)
