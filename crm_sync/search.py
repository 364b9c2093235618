"""Unified search: local contacts and every source's pulled records, indexed, ranked, paged per source.

A query's words (folded like the indexed text, core/searchtext.py) must each start a word of
the record: "jo smi" finds "John Smith", "gmail" finds "ann@gmail.com", "555" a phone number.
The index answers that on both databases (crm_sync/search_index.py). Ranking is the same on
both: first the records whose text starts with the query (the name comes first in the text,
so these are names starting with it), then the others; within each, by that text in byte
order (PostgreSQL's "C" collation, SQLite's default), then by id, so a page is stable.

Two queries whatever the number of sources (four for a rare word on PostgreSQL): the local
contacts, and the pulled records of every source at once, cut per source at offset + limit + 1
(the extra one says whether another page exists). No query counts or sorts every match:

On PostgreSQL each scope (the organization's contacts, or one source's contacts or deals)
reads only the page it needs, three ways in turn, each only when the one before left the page
short:
  a. names starting with the query: a range of the btree on (scope, search_text "C", id),
     read in rank order ("james" stops after 21 of its 40,000 rows);
  b. the other matches, by walking that btree from the scope's first row in rank order, at
     most `walk_rows(need)` rows, keeping the matches (a cheap LIKE on the words first, then
     the index's own word-prefix test): a word on many rows ("smith", "gmail", "55") fills
     the page within a few thousand rows; (b) runs in the same statement as (a), behind a
     one-time filter on (a)'s row count;
  c. only when the walk stopped at its bound with the page still short, the other matches
     from the GIN index, sorted: the walk showed they are rare (fewer than a page in its first
     rows), so there are few. A second statement, for every such scope at once: one GIN
     bitmap and one pass over its rows, numbered per scope.
The rows are the same as ranking every match: (a) and (b) read in rank order, and (c) ranks
everything (b) saw. SQLite ranks all matches from FTS5 (embedded mode: small data).
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
# PostgreSQL's ordered walk (part b above) reads at most this many index rows per scope, more
# for deep pages. A word on more than 1 row in ~200 of a scope fills a page of 21 within it;
# a rarer word goes to the GIN index, where its few matches are cheap to sort. Tests lower it
# to drive every part on a small data set.
WALK_ROWS = 4000
WALK_ROWS_PER_RESULT = 100


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


def _local_ranked_all(
    *, organization, terms: list[str], limit: int, offset: int
) -> tuple[list[Contact], bool]:
    rows = list(
        Contact.objects.filter(_matches(Contact._meta.db_table, terms), organization=organization)
        .order_by(*_ordering(terms))
        .only("id", "first_name", "last_name", "email", "phone", "company", "status", "updated_at")[
            offset : offset + limit + 1
        ]
    )
    return rows[:limit], len(rows) > limit


def _records_ranked_all(
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


def walk_rows(need: int) -> int:
    return max(WALK_ROWS, WALK_ROWS_PER_RESULT * need)


def _pg_match(terms: list[str]) -> tuple[str, list, str]:
    """(the match test, its parameters, the LIKE pattern of names starting with the query)."""
    words = " AND ".join("(' ' || search_text) LIKE %s" for _ in terms)
    # Quoting each term is safe: they hold letters and digits only (folded).
    tsquery = " & ".join(f"'{term}':*" for term in terms)
    # The LIKE is a cheap necessary condition (a folded word starts after a space); the
    # tsquery is the index's own test, so every part matches exactly what the GIN index does.
    indexed = "to_tsvector('simple'::regconfig, search_text) @@ to_tsquery('simple'::regconfig, %s)"
    prefix = " ".join(terms) + "%"  # terms hold letters and digits only: no LIKE wildcards
    return f"{words} AND {indexed}", [*(f"% {term}%" for term in terms), tsquery], prefix


KEY = 'search_text COLLATE "C"'


def _pg_scope_parts(*, name: str, table: str, scope: tuple, terms: list[str], need: int, walk: bool):
    """One scope's CTEs, named `{name}_…`, and the SELECTs of its hits and of its counts.

    `scope` is (its id, SQL that selects it through the ordered btree, the same test written
    so that no btree serves it (`column + 0`), their parameters). Part (a) always; with `walk`
    part (b), which runs only if (a) left the page short. Returns the CTE text and its
    parameters, the SELECT of the scope's hits (scope, id, tier, k) and its parameters, the
    SELECT of its counts (found; for a short page, how many rows the walk could read) and its
    parameters. Without `walk`, part (c) is shared by the scopes (`_pg_statement`).
    """
    scope_id, indexed_scope, _, scope_params = scope
    match, match_params, prefix = _pg_match(terms)
    ctes = f"""
    {name}_a AS MATERIALIZED (
        SELECT id, 0 AS tier, {KEY} AS k FROM {table}
        WHERE {indexed_scope} AND {KEY} LIKE %s
        ORDER BY {KEY}, id LIMIT %s
    )"""  # noqa: S608 - table, scope and names are this module's constants  # nosec B608
    # No match test here: a text starting with "t1 t2 … tn" has t1 … tn-1 as words and a word
    # starting with tn, so it matches. With one, the planner (its estimates of the range and
    # of the test multiplied as if independent) read every row of the range through the GIN
    # index and sorted them ("barbara": 3,600 rows a source) or read it in parallel workers.
    params = [*scope_params, prefix, need]
    hits = f"SELECT %s AS scope, id, tier, k FROM {name}_a"  # noqa: S608  # nosec B608
    hit_params = [scope_id]
    if not walk:
        found = f"(SELECT count(*) FROM {name}_a) + (SELECT count(*) FROM shared_c WHERE scope = %s)"  # noqa: S608  # nosec B608
        stats = f"SELECT %s AS scope, {found} AS found, NULL::bigint AS walked"
        return ctes, params, hits, hit_params, stats, [scope_id, scope_id]
    ctes += f""",
    {name}_r AS MATERIALIZED (
        SELECT id, 1 AS tier, k FROM (
            SELECT id, search_text, {KEY} AS k FROM {table} WHERE {indexed_scope}
            ORDER BY {KEY}, id LIMIT %s
        ) walk
        WHERE (SELECT count(*) FROM {name}_a) < %s AND NOT k LIKE %s AND {match}
        ORDER BY k, id LIMIT %s
    )"""  # noqa: S608  # nosec B608
    params += [*scope_params, walk_rows(need), need, prefix, *match_params, need]
    hits += f" UNION ALL SELECT %s, id, tier, k FROM {name}_r"  # noqa: S608  # nosec B608
    hit_params.append(scope_id)
    found = f"(SELECT count(*) FROM {name}_a) + (SELECT count(*) FROM {name}_r)"  # noqa: S608  # nosec B608
    # Only for a short page: how far the walk got (fewer rows than its bound = the whole
    # scope, so (b) saw every match and the page is complete without part (c)).
    walked = f"""CASE WHEN {found} < %s THEN (SELECT count(*) FROM (
        SELECT 1 FROM {table} WHERE {indexed_scope} ORDER BY {KEY}, id LIMIT %s) seen) END"""  # noqa: S608  # nosec B608
    stats = f"SELECT %s AS scope, {found} AS found, {walked} AS walked"
    return ctes, params, hits, hit_params, stats, [scope_id, need, *scope_params, walk_rows(need)]


def _pg_shared_rest(*, table: str, scopes: list[tuple], terms: list[str], need: int) -> tuple[str, list]:
    """Part (c) for all `scopes` at once: one GIN bitmap of their matches (one pass over the
    heap, not one per scope), each scope's first `need` by rank. The scope tests are written
    so that no btree serves them, which leaves the GIN index as the only way in (a bitmap AND
    with a scope index would read whole scopes)."""
    match, match_params, prefix = _pg_match(terms)
    tests = [f"({unindexed})" for _, _, unindexed, _ in scopes]
    which = " ".join(f"WHEN {test} THEN %s" for test in tests)
    which_params = [value for scope_id, _, _, scope_params in scopes for value in (*scope_params, scope_id)]
    any_params = [value for _, _, _, scope_params in scopes for value in scope_params]
    cte = f"""
    shared_c AS MATERIALIZED (
        SELECT scope, id, 1 AS tier, k FROM (
            SELECT scope, id, k, row_number() OVER (PARTITION BY scope ORDER BY k, id) AS n FROM (
                SELECT CASE {which} END AS scope, id, {KEY} AS k FROM {table}
                WHERE ({" OR ".join(tests)}) AND NOT {KEY} LIKE %s AND {match}
            ) matches
        ) numbered
        WHERE n <= %s
    )"""  # noqa: S608 - table and scope tests are this module's constants  # nosec B608
    return cte, [*which_params, *any_params, prefix, *match_params, need]


def _pg_statement(
    *, model, columns: list[str], scopes: list[tuple], terms, need: int, offset: int, walk: bool
):
    """Every scope's ranked rows past `offset`, up to `need`; and per scope (found, walked)."""
    table = model._meta.db_table
    ctes, params, hits, hit_params, stats, stat_params = [], [], [], [], [], []
    if not walk:
        shared, shared_params = _pg_shared_rest(table=table, scopes=scopes, terms=terms, need=need)
        ctes.append(shared)
        params += shared_params
        hits.append("SELECT scope, id, tier, k FROM shared_c")
    for n, scope in enumerate(scopes):
        part = _pg_scope_parts(name=f"s{n}", table=table, scope=scope, terms=terms, need=need, walk=walk)
        ctes.append(part[0])
        params += part[1]
        hits.append(part[2])
        hit_params += part[3]
        stats.append(part[4])
        stat_params += part[5]
    selected = ", ".join(f"t.{column}" for column in columns)
    # Every scope yields a row, a scope with nothing past `offset` one of NULLs, so its
    # counts come back too.
    sql = f"""
    WITH {",".join(ctes)},
    hits AS ({" UNION ALL ".join(hits)}),
    stats AS ({" UNION ALL ".join(stats)}),
    ranked AS (
        SELECT scope, id, row_number() OVER (PARTITION BY scope ORDER BY tier, k, id) AS search_position
        FROM hits
    )
    SELECT {selected}, stats.scope AS search_scope, ranked.search_position,
           stats.found AS search_found, stats.walked AS search_walked
    FROM stats
    LEFT JOIN ranked ON ranked.scope = stats.scope AND ranked.search_position > %s
                        AND ranked.search_position <= %s
    LEFT JOIN {table} t ON t.id = ranked.id
    ORDER BY stats.scope, ranked.search_position
    """  # noqa: S608 - names and columns are the model's, values travel as parameters  # nosec B608
    rows: dict = {scope[0]: [] for scope in scopes}
    counts: dict = {}
    for row in model.objects.raw(sql, [*params, *hit_params, *stat_params, offset, need]):  # nosec B611
        counts[row.search_scope] = (row.search_found, row.search_walked)
        if row.pk is not None:
            rows[row.search_scope].append(row)
    return rows, counts


def _pg_ranked(*, model, columns: list[str], scopes: list[tuple], terms: list[str], limit: int, offset: int):
    """{scope id: its rows past `offset`, at most limit + 1}: one statement, two for a rare word.

    The first reads parts (a) and (b) of every scope. A scope they leave short (fewer than
    offset + limit + 1 found) whose walk stopped at its bound holds fewer matches than a page
    in its first `walk_rows` rows, so its word is rare there; a second statement reads (a)
    again and (c) for those scopes. (A scope smaller than the bound was walked whole: one
    statement.)
    Two statements and not a gated third part in one: the planner costs the GIN part as if it
    ran, and above `jit_above_cost` PostgreSQL spends ~140 ms compiling a plan that then
    takes 2 ms. Here each statement is costed for what it does.
    """
    need = offset + limit + 1
    rows, counts = _pg_statement(
        model=model, columns=columns, scopes=scopes, terms=terms, need=need, offset=offset, walk=True
    )
    short = [
        scope
        for scope in scopes
        if counts[scope[0]][0] < need and counts[scope[0]][1] >= walk_rows(need)  # walk stopped early
    ]
    if short:
        rows.update(
            _pg_statement(
                model=model, columns=columns, scopes=short, terms=terms, need=need, offset=offset, walk=False
            )[0]
        )
    return rows


LOCAL_COLUMNS = ["id", "first_name", "last_name", "email", "phone", "company", "status", "updated_at"]


def search_local(*, organization, terms: list[str], limit: int, offset: int) -> tuple[list[Contact], bool]:
    if db_connection.vendor != "postgresql":
        return _local_ranked_all(organization=organization, terms=terms, limit=limit, offset=offset)
    scope = (0, "organization_id = %s", "organization_id + 0 = %s", [organization.pk])
    rows = _pg_ranked(
        model=Contact, columns=LOCAL_COLUMNS, scopes=[scope], terms=terms, limit=limit, offset=offset
    )[0]
    return rows[:limit], len(rows) > limit


def search_records(
    *, sources: list[Source], type_: str, terms: list[str], limit: int, offset: int
) -> dict[str, tuple[list[RemoteRecord], bool]]:
    """{source key: (its page of records, whether more follow)}, one query for every source."""
    if db_connection.vendor != "postgresql":
        return _records_ranked_all(sources=sources, type_=type_, terms=terms, limit=limit, offset=offset)
    by_connection = {s.connection.pk: s for s in sources if s.connection is not None}
    found: dict[str, tuple[list[RemoteRecord], bool]] = {s.key: ([], False) for s in by_connection.values()}
    if not by_connection:
        return found
    # Each matches one of the partial btrees on (connection_id, search_text "C", id).
    kind = "object_type = 'contacts'" if type_ == "contact" else "object_type <> 'contacts'"
    scopes = [
        (pk, f"connection_id = %s AND {kind}", f"connection_id + 0 = %s AND {kind}", [pk])
        for pk in by_connection
    ]
    columns = [f.column for f in RemoteRecord._meta.concrete_fields if f.name != "raw"]
    ranked = _pg_ranked(
        model=RemoteRecord, columns=columns, scopes=scopes, terms=terms, limit=limit, offset=offset
    )
    for connection_id, records in ranked.items():
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
