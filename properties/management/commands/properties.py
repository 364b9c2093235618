"""manage.py properties load FILE... | export [--object-type T] [--out FILE], in the seed's JSON format."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.models import Organization
from core.errors import InvalidInput
from properties import rules
from properties.selectors import property_definition_list
from properties.services import property_definitions_load

# contact.json → contacts, lead.json → leads, deals.json → deals.
_FILE_PREFIXES = {"contact": "contacts", "lead": "leads", "deal": "deals"}


def object_type_for_file(path: Path, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    stem = path.stem.lower()
    for prefix, object_type in _FILE_PREFIXES.items():
        if stem.startswith(prefix):
            return object_type
    return None


def file_sections(data, *, path: Path, explicit: str | None) -> list[tuple[str, object]]:
    """[(object_type, entries)] of one file: a list (type from --object-type or the file name),
    {"object_type": ..., "properties": [...]}, or {"contacts": [...], "leads": [...]} (what export writes)."""
    if isinstance(data, dict) and "properties" in data:
        object_type = explicit or data.get("object_type") or data.get("objectType")
        return [(object_type, data["properties"])]
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(rules.OBJECT_TYPES))
        if unknown:
            raise CommandError(f"{path}: unknown object types {', '.join(unknown)}.")
        return list(data.items())
    object_type = object_type_for_file(path, explicit)
    if object_type is None:
        raise CommandError(f"{path}: cannot tell the object type from the file name; pass --object-type.")
    return [(object_type, data)]


class Command(BaseCommand):
    help = "Load property definitions from JSON files (all-or-nothing per file) or export them."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Organization slug (default: settings.DEFAULT_ORGANIZATION_SLUG).")
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="Create or update definitions from JSON files.")
        load.add_argument("files", nargs="+")
        load.add_argument("--object-type", choices=rules.OBJECT_TYPES)
        load.add_argument("--org", dest="org_sub")
        export = sub.add_parser("export", help="Write definitions as JSON (stdout by default).")
        export.add_argument("--object-type", choices=rules.OBJECT_TYPES)
        export.add_argument("--out")
        export.add_argument("--org", dest="org_sub")

    def handle(self, *args, **options):
        slug = options.get("org_sub") or options.get("org") or settings.DEFAULT_ORGANIZATION_SLUG
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{slug}'.")
        if options["action"] == "load":
            self.load(organization, options)
        else:
            self.export(organization, options)

    def load(self, organization, options) -> None:
        failed = 0
        actor = Actor.system("manage.py properties load")
        for name in options["files"]:
            path = Path(name)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.stderr.write(f"{path}: cannot read JSON: {exc}")
                failed += 1
                continue
            try:
                sections = file_sections(data, path=path, explicit=options.get("object_type"))
                for object_type, entries in sections:
                    result = property_definitions_load(
                        organization=organization, object_type=object_type, entries=entries, actor=actor
                    )
                    self.stdout.write(
                        f"{path} ({object_type}): {len(result.created)} created, "
                        f"{len(result.updated)} updated, {len(result.unchanged)} unchanged."
                    )
            except CommandError as exc:
                self.stderr.write(str(exc))
                failed += 1
            except InvalidInput as exc:
                failed += 1
                self.stderr.write(f"{path}: {exc.message}")
                for problem in exc.details.get("entries", [exc.details]):
                    where = f"entry {problem.get('index')}" if problem.get("index") is not None else "file"
                    label = f" ({problem['name']})" if problem.get("name") else ""
                    for field, messages in (problem.get("errors") or {}).items():
                        for message in messages:
                            self.stderr.write(f"  {where}{label} {field}: {message}")
        if failed:
            raise CommandError(f"{failed} file(s) not loaded; nothing was written for them.")

    def export(self, organization, options) -> None:
        object_type = options.get("object_type")
        definitions = property_definition_list(organization=organization, object_type=object_type)
        if object_type:
            payload = [rules.definition_to_json(definition) for definition in definitions]
        else:
            payload = {}
            for definition in definitions:
                payload.setdefault(definition.object_type, []).append(rules.definition_to_json(definition))
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        if options.get("out"):
            Path(options["out"]).write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {len(definitions)} definition(s) to {options['out']}.")
        else:
            self.stdout.write(text, ending="")
