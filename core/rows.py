"""Model instances from rows a hand-written statement returned.

The push path claims and reads its rows in one statement (crm_sync.queue), which the ORM
cannot express, and then needs ordinary instances to hand to services. A loader here builds
them as the ORM does for `.only()`: the given columns set, every other column deferred (read
on first access), each value through its field's converters (`from_db_value`). It skips Model.__init__,
whose per-field work was a tenth of a push batch's CPU for 200 instances a batch.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.models.base import ModelState


class RowLoader:
    """Turns value tuples of `fields` (in that order) into instances of `model` from `db`."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], *, db: str, connection) -> None:
        meta = model._meta
        resolved = [meta.pk if name == "pk" else meta.get_field(name) for name in fields]
        self.model = model
        self.db = db
        self.attnames = [field.attname for field in resolved]
        self.columns = [field.column for field in resolved]
        self.converters: list[tuple[int, Callable[[Any], Any]]] = [
            (index, _converter(field, connection))
            for index, field in enumerate(resolved)
            if field.get_db_converters(connection)
        ]

    def load(self, values: Sequence[Any]) -> models.Model:
        if self.converters:
            values = list(values)
            for index, convert in self.converters:
                values[index] = convert(values[index])
        instance = self.model.__new__(self.model)
        instance.__dict__.update(zip(self.attnames, values, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = self.db
        return instance


def _converter(field, connection) -> Callable[[Any], Any]:
    converters = field.get_db_converters(connection)

    def convert(value):
        for converter in converters:
            value = converter(value, None, connection)
        return value

    return convert
