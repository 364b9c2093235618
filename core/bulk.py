"""Write many rows' different values in one statement.

Django's bulk_update builds one `CASE WHEN pk=… THEN …` per column and row: for a batch
of 100 rows and 19 columns that is a large statement PostgreSQL plans slowly (about
0.3 s a batch, most of a push's time). On PostgreSQL the rows travel instead as one JSON
parameter read by `jsonb_to_recordset` and joined on the primary key: a short statement
whose text never changes, so the driver quotes one string instead of hundreds of values
(psycopg's client-side array quoting alone cost 17 ms a batch) and the server plans it in
microseconds. JSON columns ride inside the document as they are, and as jsonb they are
parsed once: `json_to_recordset` handed each one's text to jsonb's parser a second time,
which made reading a push's write-back (86 KB, mostly kept bodies) about 20% dearer.
Other databases keep Django's bulk_update.
"""

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connections, models, transaction

from core import jsontext


def _field(meta, name: str):
    return meta.pk if name == "pk" else meta.get_field(name)


def _json_update_sql(model, fields, where: Mapping[str, Any], returning: Sequence[str], connection):
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.pk, *(_field(meta, name) for name in fields)]
    record = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in columns)
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns[1:])
    pk = quote(meta.pk.column)
    conditions = [f"t.{pk} = v.{pk}"]
    conditions += [f"t.{quote(_field(meta, name).column)} = %s" for name in where]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - identifiers from the model, values are parameters  # nosec B608
        f"FROM jsonb_to_recordset(%s::jsonb) AS v ({record}) WHERE {' AND '.join(conditions)}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(f"t.{quote(_field(meta, name).column)}" for name in returning)
    return sql, columns


def _json_default(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be written by bulk_update_rows")


def _json_rows(objs, columns, connection, *, ordinal: str | None = None) -> str:
    """The rows as one JSON array of objects keyed by column, as jsonb_to_recordset reads them.

    JSON columns go in as they are; JSON-native scalars and aware datetimes need no
    preparation (a TextChoices member is a str); anything else goes through its field.
    `ordinal` names an extra key holding each row's position.
    """
    prepared = [
        (field, field.attname, field.column, not isinstance(field, models.JSONField)) for field in columns
    ]
    rows = []
    for position, obj in enumerate(objs):
        row = {}
        loaded = obj.__dict__
        for field, attname, column, prepare in prepared:
            # The instance's own value when loaded (a deferred one is read through getattr).
            value = loaded[attname] if attname in loaded else getattr(obj, attname)
            if prepare and type(value) not in _READY and not _json_ready(value):
                value = field.get_db_prep_save(value, connection)
            row[column] = value
        if ordinal:
            row[ordinal] = position
        rows.append(row)
    return jsontext.dumps(rows, default=_json_default)


_READY = frozenset({str, int, float, type(None)})  # the common JSON-native types, checked first


def _json_ready(value) -> bool:
    if value is None or isinstance(value, str | int | float):
        return True
    return isinstance(value, datetime) and value.tzinfo is not None


def _json_update(model, objs, fields, *, where, returning, connection) -> tuple[int, list[tuple]]:
    sql, columns = _json_update_sql(model, fields, where, returning, connection)
    params = [_json_rows(objs, columns, connection)]
    params += [_field(model._meta, name).get_db_prep_save(value, connection) for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if returning else []
        return cursor.rowcount, rows


def _pre_save_sets(field) -> bool:
    """Whether the field's pre_save may change the value (Field.pre_save only returns it)."""
    if isinstance(field, models.DateField | models.TimeField):  # DateTimeField is a DateField
        return field.auto_now or field.auto_now_add
    return type(field).pre_save is not models.Field.pre_save


def bulk_create_rows(model: type[models.Model], objs: list[models.Model], *, using: str = "default"):
    """Insert `objs` in one statement and set the primary keys the database generated.

    What bulk_create does (no signals, no save()), without its per-value quoting on
    PostgreSQL: the rows travel as one JSON parameter, in order, and the generated keys
    come back in that order.
    """
    if not objs:
        return objs
    connection = connections[using]
    meta = model._meta
    keyed = [obj.pk is not None for obj in objs]
    if connection.vendor != "postgresql" or (any(keyed) and not all(keyed)):
        # Elsewhere, or a mix of given and generated keys: Django's bulk_create handles it.
        model.objects.using(using).bulk_create(objs)
        return objs
    generated = meta.pk.db_returning and not any(keyed)
    columns = [field for field in meta.concrete_fields if not (generated and field is meta.pk)]
    # auto_now_add and the like; fields whose pre_save only reads the attribute are skipped.
    presaved = [field for field in columns if _pre_save_sets(field)]
    for obj in objs:
        for field in presaved:
            setattr(obj, field.attname, field.pre_save(obj, add=True))
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in columns)
    record = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in columns)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {names} "  # noqa: S608 - identifiers from the model, values are parameters  # nosec B608
        f"FROM jsonb_to_recordset(%s::jsonb) AS v ({record}, _position integer) ORDER BY _position"
    )
    if generated:
        sql += f" RETURNING {quote(meta.pk.column)}"
    with connection.cursor() as cursor:  # one statement: atomic by itself
        cursor.execute(sql, [_json_rows(objs, columns, connection, ordinal="_position")])
        if generated:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
    return objs


def bulk_update_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    fields: Sequence[str],
    *,
    using: str = "default",
    batch_size: int = 1000,
) -> int:
    """Save `fields` of every object in `objs` (one statement per `batch_size` rows); return rows updated."""
    if not objs:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model.objects.using(using).bulk_update(objs, fields, batch_size=batch_size)
    updated = 0
    for start in range(0, len(objs), batch_size):
        count, _ = _json_update(
            model, objs[start : start + batch_size], fields, where={}, returning=(), connection=connection
        )
        updated += count
    return updated


def bulk_update_where(
    model: type[models.Model],
    objs: Sequence[models.Model],
    fields: Sequence[str],
    *,
    where: Mapping[str, Any],
    returning: Sequence[str] = (),
    using: str = "default",
) -> dict[Any, tuple]:
    """Save `fields` of the objects whose rows still match `where`; return {pk: returning values}.

    A compare-and-set for many rows: only rows whose `where` columns hold the given values
    are written, in one statement on PostgreSQL. The `returning` columns must not be among
    `fields`, so what comes back is the row's value as the write found it. Elsewhere the rows
    are locked, read and written in one transaction (SQLite's transactions take the write
    lock up front, so nothing changes between the read and the write).
    """
    if not objs:
        return {}
    if set(returning) & set(fields):
        raise ValueError("returning columns must not be written by the same statement")
    connection = connections[using]
    if connection.vendor == "postgresql":
        _, rows = _json_update(
            model, objs, fields, where=where, returning=["pk", *returning], connection=connection
        )
        return {row[0]: tuple(row[1:]) for row in rows}
    with transaction.atomic(using=using):
        current = (
            model.objects.using(using).select_for_update().filter(pk__in=[obj.pk for obj in objs], **where)
        )
        found = {row[0]: tuple(row[1:]) for row in current.values_list("pk", *returning)}
        matched = [obj for obj in objs if obj.pk in found]
        if matched:
            model.objects.using(using).bulk_update(matched, fields)
    return found


def insert_together(*objs: models.Model, using: str = "default") -> None:
    """Insert several new rows of any models: all of them or none, holding the write as briefly as possible.

    Each INSERT is Django's own, compiled before anything is sent (pre_save such as
    auto_now_add applied); keys must be set by the caller, except an auto-generated key of the
    last object, which is not read back. No save(), no model signals, as bulk_create.

    On PostgreSQL the rows go in one statement, `WITH r0 AS (INSERT …) INSERT …`: PostgreSQL
    runs every data-modifying WITH part exactly once within the statement, so either all rows
    are written or none (a unique violation in any raises IntegrityError). Outside a
    transaction that is one round trip where BEGIN, the INSERTs and COMMIT were one each;
    inside one it is wrapped in a savepoint, so a failure leaves the caller's transaction
    usable. Elsewhere (SQLite has no INSERT inside WITH) the INSERTs run back to back in one
    atomic block: SQLite's write lock (taken at BEGIN IMMEDIATE) is held for the executes
    only, not for the ORM's work of building them, which other writers used to queue behind.
    """
    connection = connections[using]
    statements = []
    for position, obj in enumerate(objs):
        meta = obj._meta
        generated = obj.pk is None and meta.pk.db_returning
        if generated and position < len(objs) - 1:
            raise ValueError("only the last object's key may be generated by the database")
        fields = [field for field in meta.concrete_fields if not (generated and field is meta.pk)]
        query = models.sql.InsertQuery(type(obj))
        query.insert_values(fields, [obj])
        [(sql, params)] = query.get_compiler(using=using).as_sql()
        statements.append((sql, list(params)))
    if connection.vendor == "postgresql" and len(statements) > 1:
        *parts, (last_sql, last_params) = statements
        heads = ", ".join(f"r{position} AS ({sql})" for position, (sql, _) in enumerate(parts))
        params = [param for _, part_params in parts for param in part_params]
        statements = [(f"WITH {heads} {last_sql}", [*params, *last_params])]
    if len(statements) == 1 and not connection.in_atomic_block:
        with connection.cursor() as cursor:  # one statement: atomic by itself
            cursor.execute(*statements[0])
    else:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
