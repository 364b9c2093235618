"""Unified search: local contacts and every source's pulled records, indexed, ranked, paged per source.

A query's words (folded like the indexed text, core/searchtext.py) must each start a word of
the record: "jo smi" finds "John Smith", "gmail" finds "ann@gmail.com", "555" a phone number.
The index answers that on both databases (crm_sync/search_index.py). Ranking is the same on
both: first the records whose text starts with the query (the name comes first in the text,
so these are names starting with it), then the others; within each, by that text in byte
order (PostgreSQL's "C" collation, SQLite's default), then by id, so a page is stable.

Two queries whatever the number of sources: the local contacts, and the pulled records of
every source at once, numbered per source by a window function and cut at offset + limit + 1
(the extra one says whether another page exists).
"""

from dataclasses import dataclass, field

from django.db import connection as db_connection
from django.db.models import BooleanField, Case, F, Value, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, RowNumber

from contacts.models import Contact
from core.errors import InvalidInput
from core.searchtext import search_terms
from crm_sync.models import RemoteRecord
from crm_sync.sources import Source

MIN_QUERY_CHARS = 2
TYPES = ("contact", "deal")


@dataclass
class SearchPage:
    query: str
    type: str
    results: dict[str, list] = field(default_factory=dict)
    has_more: dict[str, bool] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(rows) for rows in self.results.values())


def search_validate(*, query: str | None, type_: str | None) -> tuple[str, str, list[str]]:
    query = (query or "").strip()
    if len(query) < MIN_QUERY_CHARS:
        raise InvalidInput(
            "Query must be at least 2 characters",
            code="query_too_short",
            details={"q": [f"At least {MIN_QUERY_CHARS} characters; got {len(query)}."]},
        )
    type_ = (type_ or "contact").strip().lower()
    if type_ not in TYPES:
        raise InvalidInput(
            f"type must be one of {', '.join(TYPES)}.",
            code="invalid_type",
            details={"type": [f"One of {list(TYPES)}; got {type_[:50]!r}."]},
        )
    terms = search_terms(query)
    if not terms:
        raise InvalidInput(
            "The query has no letters or digits to search for.",
            code="query_too_short",
            details={"q": ["Letters or digits are needed."]},
        )
    return query, type_, terms


def _matches(table: str, terms: list[str]) -> RawSQL:
    """The index's match of every term as a word prefix, on this database."""
    if db_connection.vendor == "postgresql":
        # Terms hold letters and digits only (folded), so quoting each one is safe.
        tsquery = " & ".join(f"'{term}':*" for term in terms)
        return RawSQL(  # noqa: S611 - the query travels as a parameter
            "to_tsvector('simple'::regconfig, search_text) @@ to_tsquery('simple'::regconfig, %s)",
            [tsquery],
            output_field=BooleanField(),
        )
    fts = f"{table}_fts"
    expression = " AND ".join(f'"{term}"*' for term in terms)
    return RawSQL(  # noqa: S611 - the terms travel as a parameter  # nosec B611
        f"{table}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH %s)",  # noqa: S608 - fixed names  # nosec B608
        [expression],
        output_field=BooleanField(),
    )


def _ordering(terms: list[str]) -> list:
    collation = "C" if db_connection.vendor == "postgresql" else "BINARY"
    return [
        Case(When(search_text__startswith=" ".join(terms), then=Value(0)), default=Value(1)),
        Collate(F("search_text"), collation),
        F("id"),
    ]


def search_local(*, organization, terms: list[str], limit: int, offset: int) -> tuple[list[Contact], bool]:
    rows = list(
        Contact.objects.filter(_matches(Contact._meta.db_table, terms), organization=organization)
        .order_by(*_ordering(terms))
        .only("id", "first_name", "last_name", "email", "phone", "company", "status", "updated_at")[
            offset : offset + limit + 1
        ]
    )
    return rows[:limit], len(rows) > limit


def search_records(
    *, sources: list[Source], type_: str, terms: list[str], limit: int, offset: int
) -> dict[str, tuple[list[RemoteRecord], bool]]:
    """{source key: (its page of records, whether more follow)}, one query for every source."""
    by_connection = {s.connection.pk: s for s in sources if s.connection is not None}
    found: dict[str, tuple[list[RemoteRecord], bool]] = {s.key: ([], False) for s in by_connection.values()}
    if not by_connection:
        return found
    kind_filter = {"object_type": "contacts"} if type_ == "contact" else {}
    queryset = RemoteRecord.objects.filter(
        _matches(RemoteRecord._meta.db_table, terms), connection_id__in=list(by_connection)
    ).filter(**kind_filter)
    if type_ == "deal":
        queryset = queryset.exclude(object_type="contacts")
    ordering = _ordering(terms)
    ranked = (
        queryset.annotate(
            position=Window(RowNumber(), partition_by=[F("connection_id")], order_by=ordering),
        )
        .filter(position__gt=offset, position__lte=offset + limit + 1)
        .order_by("connection_id", "position")
        .defer("raw")
    )
    rows: dict[int, list[RemoteRecord]] = {}
    for record in ranked:
        rows.setdefault(record.connection_id, []).append(record)
    for connection_id, records in rows.items():
        found[by_connection[connection_id].key] = (records[:limit], len(records) > limit)
    return found


def search_run(
    *, organization, sources: list[Source], query: str, type_: str, terms: list[str], limit: int, offset: int
) -> SearchPage:
    page = SearchPage(query=query, type=type_)
    remote = search_records(sources=sources, type_=type_, terms=terms, limit=limit, offset=offset)
    for source in sources:
        if source.is_local:
            if type_ == "contact":
                rows, more = search_local(organization=organization, terms=terms, limit=limit, offset=offset)
            else:
                rows, more = [], False  # local data has no deals
        else:
            rows, more = remote[source.key]
        page.results[source.key] = rows
        page.has_more[source.key] = more
    return page
