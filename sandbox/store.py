"""Small helpers over SandboxRecord and SandboxToken shared by the emulators."""

import functools
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.db import connection as db_connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.bulk import bulk_create_rows, bulk_update_rows
from sandbox.models import SandboxRecord, SandboxToken

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_valid(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 254 and bool(EMAIL_RE.match(value))


@functools.lru_cache(maxsize=4096)
def iso_ms(value: datetime) -> str:
    """2024-01-02T03:04:05.678Z, the form HubSpot and Brevo print.

    Cached: a batch answer prints each record's created and updated time twice, and the
    records written together share one."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def parse_instant(value: object) -> datetime | None:
    """Epoch milliseconds (int or digits) or an ISO 8601 date/date-time (naive = UTC); None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = parse_datetime(text.replace(" ", "T", 1) if "T" not in text and " " in text else text)
    except ValueError:
        return None
    if parsed is None:
        try:
            day = parse_date(text)
        except ValueError:
            return None
        if day is None:
            return None
        parsed = datetime(day.year, day.month, day.day)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def records_write(*, new: list[SandboxRecord], changed: list[SandboxRecord], fields: list[str]) -> None:
    """Insert `new` and rewrite `fields` of `changed` in two statements, whatever the counts.

    On PostgreSQL both go through core.bulk (rows as one JSON parameter). Elsewhere
    bulk_update() would build a CASE per field and row, hundreds of milliseconds for 100
    rows, so the rows are rewritten with INSERT ... ON CONFLICT (id) DO UPDATE instead (they
    exist, so only the update path runs). Call inside a transaction.
    """
    if db_connection.vendor == "postgresql":
        bulk_update_rows(SandboxRecord, changed, fields)
        bulk_create_rows(SandboxRecord, new)
        return
    if changed:
        SandboxRecord.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["id"], update_fields=fields
        )
    if new:
        SandboxRecord.objects.bulk_create(new)


def json_array_has_any(*, key: str, values: list[int]) -> Q:
    """Records whose `data[key]` (a JSON array of numbers) holds any of `values`.

    JSONField's `contains` lookup exists on PostgreSQL only; SQLite reads the array with
    json_each, so both answer exactly (no text matching that would take 1 for 12). `key`
    is a name chosen by the emulator, never caller input.
    """
    if not values:
        return Q(pk__in=[])
    if db_connection.vendor == "postgresql":
        found = Q()
        for value in values:
            found |= Q(**{f"data__{key}__contains": [value]})
        return found
    # The table name comes from the model and every value is a parameter: no caller text in the SQL.
    table = SandboxRecord._meta.db_table
    marks = ", ".join(["%s"] * len(values))
    sql = f'EXISTS (SELECT 1 FROM json_each("{table}"."data", %s) WHERE json_each.value IN ({marks}))'  # noqa: S608  # nosec B608
    return Q(RawSQL(sql, [f"$.{key}", *values], output_field=BooleanField()))  # noqa: S611  # nosec B611


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_issue(*, kind: str, token_type: str, subject: str, ttl_seconds: int | None) -> str:
    """Issue a token and keep only its hash; returns the raw value (shown once, to the caller)."""
    raw = f"sbx-{kind}-{token_type}-{secrets.token_urlsafe(24)}"
    expires = timezone.now() + timedelta(seconds=ttl_seconds) if ttl_seconds else None
    SandboxToken.objects.create(
        kind=kind, token_type=token_type, token_hash=_hash(raw), subject=subject[:200], expires_at=expires
    )
    return raw


def token_find(*, kind: str, token_type: str, raw: str) -> SandboxToken | None:
    if not raw:
        return None
    return SandboxToken.objects.filter(kind=kind, token_type=token_type, token_hash=_hash(raw)).first()


def token_expired_seconds(token: SandboxToken) -> int:
    """Seconds since the token expired (0 or less while it is valid)."""
    if token.expires_at is None:
        return 0
    return int((timezone.now() - token.expires_at).total_seconds())


def constant_in(value: str, accepted: list) -> bool:
    """Constant-time membership test of a credential in the accepted list."""
    found = False
    for candidate in accepted or []:
        if isinstance(candidate, str) and secrets.compare_digest(value.encode(), candidate.encode()):
            found = True
    return found
