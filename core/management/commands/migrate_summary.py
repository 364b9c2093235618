"""Apply pending migrations and print one line saying how many: `make run`'s quiet migrate.

The per-migration lines of `migrate` are noise on every start; a failure still prints in full.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


class Command(BaseCommand):
    help = "Apply pending migrations quietly and summarise them in one line."

    def handle(self, *args, **options):
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        call_command("migrate", interactive=False, verbosity=0)
        apps = sorted({migration.app_label for migration, _ in plan})
        if plan:
            self.stdout.write(f"Database: {len(plan)} migration(s) applied ({', '.join(apps)}).")
        else:
            self.stdout.write("Database: up to date.")
