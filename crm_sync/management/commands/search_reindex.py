"""Rebuild the unified search's index (SQLite: after a VACUUM renumbered contacts' rowids)."""

from django.core.management.base import BaseCommand

from crm_sync.search_index import search_index_install


class Command(BaseCommand):
    help = "Create what is missing of the search index and, on SQLite, refill its FTS5 tables."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database: str = "default", **options):
        rebuilt = search_index_install(using=database, rebuild=True)
        self.stdout.write(f"Search index checked; rebuilt: {', '.join(rebuilt) or 'nothing to rebuild'}.")
