"""HubSpot property history: what `propertiesWithHistory` answers.

Each object's history is one SandboxRecord beside it (object type `<record_type>:history`,
key = the object's id), so an object's `data` stays its property map and a batch write
costs one more select and two more bulk statements whatever its size. An entry is stored
as [value, ISO timestamp]; a value is recorded when a write changes it (HubSpot's rule for
an unchanged value is not documented: the sandbox records none). Objects seeded through
the control API without history answer their current values at their last update.
"""

from datetime import datetime

from sandbox.models import Kind, SandboxRecord
from sandbox.store import iso_ms

KIND = Kind.HUBSPOT
KEEP_PER_PROPERTY = 50  # a guess: HubSpot does not document how much history it returns
SOURCE_TYPE = "API"  # a guess: the documented values include API, CRM_UI, IMPORT, INTEGRATION...


def history_type(record_type: str) -> str:
    return f"{record_type}:history"


def histories_load(record_type: str, pks) -> dict[int, SandboxRecord]:
    keys = [str(pk) for pk in pks]
    if not keys:
        return {}
    rows = SandboxRecord.objects.filter(kind=KIND, object_type=history_type(record_type), key__in=keys)
    return {int(row.key): row for row in rows}


def _appended(entries: dict, values: dict, stamp: str) -> dict:
    for name, value in values.items():
        kept = entries.get(name) or []
        if kept and kept[0][0] == value:
            continue
        entries[name] = [[value, stamp], *kept][:KEEP_PER_PROPERTY]
    return entries


def history_rows(
    record_type: str,
    *,
    created: list[SandboxRecord],
    updated: list[tuple[SandboxRecord, dict, dict, datetime]],
    now: datetime,
) -> tuple[list[SandboxRecord], list[SandboxRecord]]:
    """(new rows, changed rows) recording `created` records' values and `updated` ones' changes.

    `updated` holds (record, its data before the write, the values written, its previous
    updated_at): an object without a history row first gets its earlier values.
    """
    stamp = iso_ms(now)
    existing = histories_load(record_type, [record.pk for record, *_ in updated])
    new, changed = [], []
    for record in created:
        new.append(_row(record_type, record.pk, _appended({}, record.data, stamp), now))
    for record, before, values, before_at in updated:
        row = existing.get(record.pk)
        if row is None:
            entries = _appended({}, before, iso_ms(before_at))
            new.append(_row(record_type, record.pk, _appended(entries, values, stamp), now))
        else:
            row.data = _appended(dict(row.data), values, stamp)
            row.updated_at = now
            changed.append(row)
    return new, changed


def _row(record_type: str, pk: int, entries: dict, now: datetime) -> SandboxRecord:
    return SandboxRecord(
        kind=KIND,
        object_type=history_type(record_type),
        key=str(pk),
        data=entries,
        created_at=now,
        updated_at=now,
    )


def history_merged(*rows: SandboxRecord | None) -> dict:
    """The entries of several objects' histories together, newest first per property."""
    merged: dict[str, list] = {}
    for row in rows:
        for name, entries in (row.data if row else {}).items():
            merged.setdefault(name, []).extend(entries)
    return {
        name: sorted(entries, key=lambda entry: entry[1], reverse=True)[:KEEP_PER_PROPERTY]
        for name, entries in merged.items()
    }


def history_render(record: SandboxRecord, row: SandboxRecord | None, names: list[str], current: dict) -> dict:
    """ValueWithTimestamp lists for `names`, newest first."""
    entries = row.data if row else {}
    rendered = {}
    for name in names:
        kept = entries.get(name)
        if kept is None and current.get(name) not in (None, ""):
            kept = [[current[name], iso_ms(record.updated_at)]]
        rendered[name] = [
            {"value": value, "timestamp": stamp, "sourceType": SOURCE_TYPE} for value, stamp in kept or []
        ]
    return rendered
