"""A JSON list column with a portable "list has this element" lookup.

Django's JSONField `contains` is not available on SQLite, the embedded database, so
`tags__has="vip"` is spelt per backend: jsonb containment on PostgreSQL (able to use a GIN
index), `json_each` on SQLite.
"""

from django.db import models
from django.db.models import Lookup


class JSONListField(models.JSONField):
    """A JSONField holding a list of scalars; adds the `has` lookup."""


@JSONListField.register_lookup
class ListHas(Lookup):
    lookup_name = "has"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [str(value)])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # lhs is the column compiled by Django and rhs its "%s" placeholder: no user text in the SQL.
        return f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value = {rhs})", [  # noqa: S608 - lhs is a compiled column, rhs its placeholder  # nosec B608
            *lhs_params,
            *rhs_params,
        ]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> jsonb_build_array({rhs}::text)", [*lhs_params, *rhs_params]
