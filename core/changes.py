"""Apply a partial update to a model instance and say what changed (for `update_fields` and audits)."""

from typing import Any

from django.db import models


def changes_apply(instance: models.Model, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set every value that differs on `instance`; return `{field: [old, new]}` for those only.

    An update that changes nothing returns {} so callers can skip the write, the audit
    event and the change signal alike.
    """
    changes = {
        name: [getattr(instance, name), value]
        for name, value in values.items()
        if getattr(instance, name) != value
    }
    for name, (_, value) in changes.items():
        setattr(instance, name, value)
    return changes
