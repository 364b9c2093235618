"""The unified search's indexes over `search_text` (local contacts and pulled records).

PostgreSQL: a GIN index on to_tsvector('simple', search_text): word-prefix queries ('jo':*)
are answered from the index. The text is folded in Python (core/searchtext.py), so neither
pg_trgm nor unaccent is needed and no extension has to be created.

SQLite: an FTS5 table per searched table, kept by triggers (external content, so the text is
stored once), queried with prefix terms ("jo"*). Triggers live on the table, and Django's
SQLite schema editor rebuilds a table (dropping its triggers) for some migrations, so
`search_index_install` runs after every migrate and recreates and refills whatever is missing.
Contacts have a UUID key, so their FTS rows follow SQLite's implicit rowid, which VACUUM may
renumber: run `manage.py search_reindex` after a VACUUM of an SQLite database.

PostgreSQL also has btrees on (scope, search_text COLLATE "C", id), one per searched scope
(an organization's contacts; a connection's pulled contacts; its other records), which hold
the rows in rank order: crm_sync/search.py reads names starting with the query as a range of
them and walks them for common words, so no query sorts every match. SQLite needs none (it
ranks every FTS5 match; embedded mode holds little data).
"""

from django.db import connections

TABLES = ("contacts_contact", "crm_sync_remoterecord")


def _pg_statements(table: str) -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_search ON {table} "
        "USING gin (to_tsvector('simple'::regconfig, search_text))"
    ]


# name: (table, columns, predicate); each holds one search scope's rows in rank order.
ORDER_INDEXES = {
    "contacts_contact_search_order": ("contacts_contact", "organization_id", ""),
    "crm_sync_remoterecord_search_order_contacts": (
        "crm_sync_remoterecord",
        "connection_id",
        "WHERE object_type = 'contacts'",
    ),
    "crm_sync_remoterecord_search_order_others": (
        "crm_sync_remoterecord",
        "connection_id",
        "WHERE object_type <> 'contacts'",
    ),
}


def search_order_indexes_install(*, using: str = "default") -> None:
    """PostgreSQL only: the rank-order btrees (idempotent); other databases need none."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, (table, scope, predicate) in ORDER_INDEXES.items():
            columns = f'{scope}, (search_text COLLATE "C"), id'
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns}) {predicate}")


def search_order_indexes_uninstall(*, using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in ORDER_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def _sqlite_triggers(table: str) -> dict[str, str]:
    fts = f"{table}_fts"
    # Table names are this module's constants, never input.
    delete = f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);"  # noqa: S608  # nosec B608
    insert = f"INSERT INTO {fts}(rowid, search_text) VALUES (new.rowid, new.search_text);"  # noqa: S608  # nosec B608
    on_update = f"AFTER UPDATE OF search_text ON {table}"
    return {
        f"{fts}_ai": f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"{fts}_ad": f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END",
        f"{fts}_au": f"CREATE TRIGGER {fts}_au {on_update} BEGIN {delete} {insert} END",
    }


def search_index_install(*, using: str = "default", rebuild: bool = False) -> list[str]:
    """Create what is missing (idempotent); return what was created or rebuilt."""
    connection = connections[using]
    done = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in TABLES:
                # Checked first: CREATE INDEX, even IF NOT EXISTS, refuses to run in a transaction
                # with pending deferred-constraint events.
                cursor.execute("SELECT to_regclass(%s)", [f"{table}_search"])
                if cursor.fetchone()[0] is None:
                    for statement in _pg_statements(table):
                        cursor.execute(statement)
                    done.append(table)
            return done
        if connection.vendor != "sqlite":
            return done
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if not set(TABLES) <= present:
            return done  # not migrated this far yet
        for table in TABLES:
            fts = f"{table}_fts"
            missing = False
            if fts not in present:
                cursor.execute(
                    f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
                    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
                )
                missing = True
            for name, statement in _sqlite_triggers(table).items():
                if name not in present:
                    cursor.execute(statement)
                    missing = True
            if missing or rebuild:
                cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # noqa: S608  # nosec B608
                done.append(table)
    return done


def search_index_uninstall(*, using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        for table in TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP INDEX IF EXISTS {table}_search")
            elif connection.vendor == "sqlite":
                for name in _sqlite_triggers(table):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(f"DROP TABLE IF EXISTS {table}_fts")
