"""Field maps between local contact fields and a REST API's JSON, and timestamp handling.

A field map is `{local name: remote path}`; a remote path is dotted for nested JSON
("address.city", "emails.0.address"). Only mapped fields cross the wire: a generic API
usually rejects fields it does not know, and a map is the one place that says what it knows.
"""

from datetime import UTC, datetime
from typing import Any

from integrations.connectors.base import ContactPayload, RemoteRecord

MISSING = object()


def path_get(data: Any, path: str, default: Any = MISSING) -> Any:
    """Read a dotted path; digits index lists. An empty path is the data itself."""
    if not path:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def path_set(data: dict, path: str, value: Any) -> None:
    """Write a dotted path into nested dicts (lists are not created: address them by key)."""
    parts = path.split(".")
    current = data
    for part in parts[:-1]:
        nested = current.get(part)
        if not isinstance(nested, dict):
            nested = {}
            current[part] = nested
        current = nested
    current[parts[-1]] = value


def contact_body(*, payload: ContactPayload, field_map: dict[str, str]) -> dict[str, Any]:
    """The remote JSON for one contact: every mapped local field present in the payload.

    A local field absent from the payload is left out rather than sent as null, so a
    partial payload never blanks a remote value. Email comes from the payload's own
    field when the properties do not carry it.
    """
    body: dict[str, Any] = {}
    for local, remote in field_map.items():
        if local in payload.properties:
            value = payload.properties[local]
        elif local == "email" and payload.email:
            value = payload.email
        else:
            continue
        path_set(body, remote, value)
    return body


def parse_timestamp(value: Any) -> datetime | None:
    """A remote timestamp as an aware datetime: ISO 8601 (with Z or an offset) or epoch s/ms.

    Naive ISO values are taken as UTC (what most APIs mean). Anything unparseable gives
    None rather than an error: a record with a strange date is still a record.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 100_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_timestamp(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def format_timestamp(value: datetime, *, style: str) -> str:
    """Render an updated-since filter value as the API expects it (iso, epoch or epoch_ms)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if style == "epoch":
        return str(int(aware.timestamp()))
    if style == "epoch_ms":
        return str(int(aware.timestamp() * 1000))
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record_from_item(
    *,
    item: dict[str, Any],
    object_type: str,
    field_map: dict[str, str],
    id_path: str,
    updated_at_path: str,
) -> RemoteRecord | None:
    """One API item as a RemoteRecord, mapped fields under local names.

    Unmapped top-level fields keep their remote names, as the other connectors do (a
    mapped value wins a name collision, and a field a map reads from is not repeated).
    An item without an id cannot be tracked and gives None.
    """
    remote_id = path_get(item, id_path, None)
    if remote_id is None or remote_id == "":
        return None
    properties: dict[str, Any] = {}
    for local, remote in field_map.items():
        value = path_get(item, remote)
        if value is not MISSING:
            properties[local] = value
    consumed = {remote.split(".")[0] for remote in field_map.values()} | {id_path.split(".")[0]}
    for name, value in item.items():
        if name not in consumed and name not in properties:
            properties[name] = value
    email = properties.get("email")
    contact_id = properties.get("contact_id") if object_type != "contacts" else None
    return RemoteRecord(
        remote_id=str(remote_id),
        object_type=object_type,
        properties=properties,
        updated_at=parse_timestamp(path_get(item, updated_at_path, None)),
        email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
        raw=item,
        archived=bool(item.get("archived") or item.get("deleted")),
        links={"contacts": str(contact_id)} if contact_id not in (None, "") else {},
    )
