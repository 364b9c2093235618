"""Write many rows' different values in one statement.

Django's bulk_update builds one `CASE WHEN pk=… THEN …` per column and row: for a batch
of 100 rows and 19 columns that is a large statement PostgreSQL plans slowly (about
0.3 s a batch, most of a push's time). `UPDATE … FROM (VALUES …)` carries the same data
as a derived table joined on the primary key, which PostgreSQL plans in microseconds.
Other databases keep Django's bulk_update.
"""

from collections.abc import Sequence

from django.db import connections, models


def bulk_update_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    fields: Sequence[str],
    *,
    using: str = "default",
    batch_size: int = 500,
) -> int:
    """Save `fields` of every object in `objs` (one statement per `batch_size` rows)."""
    if not objs:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model.objects.using(using).bulk_update(objs, fields, batch_size=batch_size)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    # Cast in SET and WHERE: a VALUES column's type is inferred from its literals (NULL, text).
    assignments = ", ".join(
        f"{quote(field.column)} = v.{quote(field.column)}::{field.db_type(connection)}"
        for field in columns[1:]
    )
    names = ", ".join(quote(field.column) for field in columns)
    pk_column, pk_type = quote(meta.pk.column), meta.pk.db_type(connection)
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            row = "(" + ", ".join(["%s"] * len(columns)) + ")"
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection=connection)
                for obj in chunk
                for field in columns
            ]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names from the model
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v ({names}) "
                f"WHERE t.{pk_column} = v.{pk_column}::{pk_type}",
                params,
            )
            updated += cursor.rowcount
    return updated
