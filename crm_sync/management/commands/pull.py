"""manage.py pull [--connection ID | --all] [--object-type T] [--backfill]: pull now, with progress.

Exit codes: 0 every pull succeeded (bad records are reported, not failures); 1 some pull
failed, was refused (already running) or ended rate limited; 2 bad usage.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from crm_sync.models import SyncRun
from crm_sync.services.pull import connection_pull_types, connection_pulls, pull_run
from integrations.models import CrmConnection

OK_OUTCOMES = (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL)


class Command(BaseCommand):
    help = "Pull from CRM connections now: incremental from each stored cursor, or a full backfill."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--connection", type=int, help="The id of one connection.")
        which.add_argument("--all", action="store_true", help="Every enabled connection that can pull.")
        parser.add_argument("--object-type", help="Only this object type (contacts, deals, ...).")
        parser.add_argument("--backfill", action="store_true", help="Start from no cursor: read everything.")

    def handle(self, *args, **options):
        sources = self._sources(options)
        self._tty = self.stdout.isatty()
        failures = 0
        for connection, object_type in sources:
            failures += 0 if self._pull(connection, object_type, backfill=options["backfill"]) else 1
        if failures:
            raise CommandError(f"{failures} of {len(sources)} pull(s) did not succeed.", returncode=1)

    def _sources(self, options) -> list[tuple[CrmConnection, str]]:
        if options["connection"] is not None:
            connection = CrmConnection.objects.filter(pk=options["connection"]).first()
            if connection is None:
                raise CommandError(f"There is no connection {options['connection']}.", returncode=2)
            connections = [connection]
        else:
            connections = [
                c for c in CrmConnection.objects.filter(enabled=True).order_by("pk") if connection_pulls(c)
            ]
        sources = []
        for connection in connections:
            types = connection_pull_types(connection=connection)
            if options["object_type"]:
                if options["object_type"] not in types and options["connection"] is not None:
                    raise CommandError(
                        f"{connection} cannot pull {options['object_type']!r}; "
                        f"it pulls: {', '.join(types) or 'nothing'}.",
                        returncode=2,
                    )
                types = tuple(t for t in types if t == options["object_type"])
            elif not types and options["connection"] is not None:
                raise CommandError(f"{connection} cannot pull anything.", returncode=2)
            sources += [(connection, t) for t in types]
        if not sources:
            self.stdout.write("Nothing to pull.")
        return sources

    def _progress(self, label: str, started: float):
        def show(run: SyncRun, tally) -> None:
            rate = run.fetched / max(time.monotonic() - started, 0.001)
            line = (
                f"{label}: page {run.pages}, {run.fetched} fetched ({run.created} created, "
                f"{run.updated} updated, {run.error_count} errors) {rate:.0f}/s"
            )
            if self._tty:
                self.stdout.write(f"\r\033[K{line}", ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        return show

    def _pull(self, connection: CrmConnection, object_type: str, *, backfill: bool) -> bool:
        label = f"{connection.kind} #{connection.pk} {object_type}"
        self.stdout.write(f"{label}: {'backfill' if backfill else 'incremental'} pull…")
        started = time.monotonic()
        try:
            run = pull_run(
                connection_id=connection.pk,
                object_type=object_type,
                backfill=backfill,
                worker="manage.py pull",
                progress=self._progress(label, started),
            )
        except ApplicationError as exc:
            self.stderr.write(f"{label}: {exc.message}")
            return False
        if self._tty:
            self.stdout.write("")
        summary = (
            f"{label}: {run.outcome} in {run.duration_ms / 1000:.1f}s: {run.fetched} fetched, "
            f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.archived} archived, {run.conflicts} conflicts, {run.error_count} errors; "
            f"{run.calls} calls, {run.http_429s} 429s (run {run.pk})"
        )
        (self.stdout if run.outcome in OK_OUTCOMES else self.stderr).write(summary)
        for error in run.errors[:10]:
            where = f"record {error['remote_id']}: " if error.get("remote_id") else ""
            self.stderr.write(f"  {where}{error.get('code')}: {error.get('message')}")
        return run.outcome in OK_OUTCOMES
