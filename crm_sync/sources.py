"""The CRM data API's *sources*: `local` (the organization's contacts) or one of its connections.

A connection is named by its kind when the organization has one connection of that kind
(`hubspot`), else by `<kind>-<id>`; its id alone (`7`) always names it. Only connections whose
connector pulls are sources: the others never hold pulled records. Another organization's
connection, or a kind this organization has not connected, is a 404 (never a 403 that
confirms it exists); text that cannot name any source is a 400.
"""

import re
from collections import Counter
from dataclasses import dataclass

from core.errors import InvalidInput, NotFound
from crm_sync.services.pull import connection_pull_types
from integrations import registry
from integrations.models import CrmConnection

LOCAL = "local"
_KEYED = re.compile(r"^(?P<kind>[a-z0-9_]+)-(?P<id>\d+)$")


@dataclass(frozen=True)
class Source:
    key: str
    connection: CrmConnection | None = None
    object_types: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.connection is None

    @property
    def deal_types(self) -> tuple[str, ...]:
        """Every object type but contacts: deals, TopProducer's transactions, a REST CRM's entities."""
        return tuple(t for t in self.object_types if t != "contacts")


def sources_list(*, organization) -> list[Source]:
    """`local` first, then the organization's pulling connections by id (one query)."""
    connections = [
        (connection, connection_pull_types(connection=connection))
        for connection in CrmConnection.objects.filter(organization=organization)
        .select_related("organization")
        .order_by("pk")
        if connection.kind in registry.connectors()
    ]
    connections = [(c, types) for c, types in connections if types]
    per_kind = Counter(c.kind for c, _ in connections)
    return [Source(key=LOCAL)] + [
        Source(key=c.kind if per_kind[c.kind] == 1 else f"{c.kind}-{c.pk}", connection=c, object_types=types)
        for c, types in connections
    ]


def sources_select(*, organization, source: str | None) -> list[Source]:
    """Every source when `source` is empty, else the one it names (400 unreadable, 404 not ours)."""
    sources = sources_list(organization=organization)
    if source is None or source.strip() == "":
        return sources
    text = source.strip().lower()
    for candidate in sources:
        if text == candidate.key or (
            candidate.connection is not None and text == str(candidate.connection.pk)
        ):
            return [candidate]
    same_kind = [s.key for s in sources if s.connection is not None and s.connection.kind == text]
    if same_kind:
        raise InvalidInput(
            f"This organization has several {text} connections; name one of them.",
            code="ambiguous_source",
            details={"source": source, "valid": same_kind},
        )
    keyed = _KEYED.match(text)
    if text.isdigit() or text in registry.connectors() or (keyed and keyed["kind"] in registry.connectors()):
        raise NotFound("No such source in this organization.", code="source_not_found")
    raise InvalidInput(
        f"Unknown source {source[:100]!r}; valid: {', '.join(s.key for s in sources)}.",
        code="invalid_source",
        details={"source": source[:100], "valid": [s.key for s in sources]},
    )


def source_get(*, organization, source: str) -> Source:
    if source is None or source.strip() == "":
        raise InvalidInput("Name a source.", code="invalid_source", details={"source": source})
    return sources_select(organization=organization, source=source)[0]
