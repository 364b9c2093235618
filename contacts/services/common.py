"""Helpers the contacts services share."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from accounts.actors import Actor

_SCALARS = (str, int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """Make a value storable in a JSON column (datetimes and UUIDs become strings)."""
    if type(value) is dict and all(type(k) is str and type(v) in _SCALARS for k, v in value.items()):
        # A flat dict of JSON scalars (a pulled record's values, mostly): the round trip
        # below would give an equal copy, at many times the cost.
        return dict(value)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def actor_fields(actor: Actor) -> dict:
    """The created_by_* columns for `actor`, shaped like AuditEvent's actor."""
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    return {
        "created_by_type": actor.type,
        "created_by_label": actor.label[:200],
        "created_by_user": user,
        "created_by_api_key": actor.api_key,
    }
