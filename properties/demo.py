"""Demo data: the shipped example definitions (properties/contact.json, lead.json) for bootstrap_demo."""

import json
from pathlib import Path

from accounts.actors import Actor
from properties.services import property_definitions_load

FILES = {"contacts": "contact.json", "leads": "lead.json"}


def seed(organization) -> str:
    """Load the example definitions; idempotent (a second call changes nothing)."""
    here = Path(__file__).resolve().parent
    parts = []
    for object_type, name in FILES.items():
        entries = json.loads((here / name).read_text(encoding="utf-8"))
        result = property_definitions_load(
            organization=organization,
            object_type=object_type,
            entries=entries,
            actor=Actor.system("bootstrap_demo"),
        )
        parts.append(f"{object_type}: {len(result.created)} created, {len(result.unchanged)} unchanged")
    return "property definitions — " + "; ".join(parts)
