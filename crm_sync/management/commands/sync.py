"""manage.py sync push|pull|stats|failures|test-credentials|resume: the operator's terminal.

Services and selectors do the work; this module parses and prints. On a terminal, tables and
progress bars (rich); otherwise plain lines, one per event, for logs and scripts.

Exit codes: 0 ok; 1 failures reported (failed contacts, refused credentials, a pull that did not
succeed, a wait that timed out); 2 bad usage. Every error is one line on stderr.
"""

import sys
import time
import types

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.actors import Actor
from accounts.models import Organization
from core.errors import ApplicationError
from crm_sync import connections
from crm_sync.overview_selectors import connections_overview
from crm_sync.selectors import sync_failures, sync_stats
from crm_sync.services.credentials import crm_credentials_test
from crm_sync.services.queue_all import contacts_queue_all
from crm_sync.services.queueing import contacts_bulk_queue
from crm_sync.services.resume import connection_resume, contacts_retry_category
from crm_sync.services.retrying import contacts_retry_all

ACTOR_LABEL = "manage.py sync"


class Error(CommandError):
    """Printed by Django as `Error: <message>`: one line, no exception class name to decode."""


def _one_line_error(parser, message):
    """argparse prints usage and the error over several lines; print one and exit 2."""
    if parser.called_from_command_line:
        sys.stderr.write(f"Error: {parser.prog}: {message} (see --help)\n")
        sys.exit(2)
    raise Error(f"{parser.prog}: {message}", returncode=2)


class OneLineParser(CommandParser):
    def error(self, message):
        _one_line_error(self, message)


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "never"


class Command(BaseCommand):
    help = "Push, pull, stats, failures, credential tests and resume, from the terminal."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = types.MethodType(_one_line_error, parser)
        return parser

    def add_arguments(self, parser):
        sub = parser.add_subparsers(
            dest="action", required=True, parser_class=OneLineParser, metavar="ACTION"
        )
        org = {"default": None, "help": "Organization slug (default: the default organization)."}

        push = sub.add_parser("push", help="Queue contacts for a CRM; --wait shows progress until drained.")
        push.add_argument("--crm", required=True)
        push.add_argument("--org", **org)
        which = push.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Every contact (unchanged ones are skipped).")
        which.add_argument("--contact", action="append", metavar="ID", help="A contact id; repeat for more.")
        push.add_argument("--force", action="store_true", help="Queue unchanged contacts too.")
        push.add_argument("--priority", default="normal", choices=["low", "normal", "high"])
        push.add_argument(
            "--wait", action="store_true", help="Wait until the queue is drained (workers push)."
        )
        push.add_argument("--timeout", type=float, default=3600.0, help="Seconds --wait waits at most.")

        pull = sub.add_parser("pull", help="Pull now (the `pull` command: incremental, or --backfill).")
        where = pull.add_mutually_exclusive_group(required=True)
        where.add_argument("--crm", help="The organization's connection of this kind.")
        where.add_argument("--connection", type=int, help="A connection id.")
        where.add_argument("--all", action="store_true", help="Every enabled connection that pulls.")
        pull.add_argument("--org", **org)
        pull.add_argument("--object-type")
        pull.add_argument("--backfill", action="store_true")

        stats = sub.add_parser("stats", help="A table of every CRM connection: counts, state, last sync.")
        stats.add_argument("--org", **org)

        failures = sub.add_parser(
            "failures", help="List failed contacts of a CRM; --retry queues them again."
        )
        failures.add_argument("--crm", required=True)
        failures.add_argument("--org", **org)
        failures.add_argument("--category", help="Only this error category (auth, validation, ...).")
        failures.add_argument("--limit", type=int, default=20)
        failures.add_argument("--retry", action="store_true", help="Queue the listed failures again.")

        creds = sub.add_parser("test-credentials", help="Ask the CRM whether the stored credentials work.")
        creds.add_argument("--crm", required=True)
        creds.add_argument("--org", **org)

        resume = sub.add_parser("resume", help="Resume a paused connection once its credentials are fixed.")
        resume.add_argument("--crm", required=True)
        resume.add_argument("--org", **org)
        resume.add_argument(
            "--no-retry", action="store_true", help="Do not queue again what failed on authentication."
        )

    # -- plumbing ---------------------------------------------------------------------------
    def handle(self, *args, action, **options):
        self.tty = self.stdout.isatty()
        self.actor = Actor.system(ACTOR_LABEL)
        handler = getattr(self, "do_" + action.replace("-", "_"))
        try:
            return handler(**options)
        except ApplicationError as exc:
            raise Error(exc.message, returncode=2 if exc.status_code == 400 else 1) from None

    def organization(self, slug: str | None) -> Organization:
        slug = slug or settings.DEFAULT_ORGANIZATION_SLUG
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise Error(f"There is no organization {slug!r}.", returncode=2)
        return organization

    def console(self):
        from rich.console import Console

        # The underlying stream: Django's OutputWrapper would end each of rich's chunks with a newline.
        return Console(file=self.stdout._out, force_terminal=True)

    # -- actions ----------------------------------------------------------------------------
    def do_push(self, *, crm, org, all, contact, force, priority, wait, timeout, **_):  # noqa: A002
        organization = self.organization(org)
        connections.crm_validate(crm)
        if all:
            result = contacts_queue_all(
                organization=organization, crm=crm, priority=priority, force=force, actor=self.actor
            )
            queued, skipped = result["queued_count"], result["skipped"]
            reasons = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in skipped.items() if n)
            if "run" in result:
                self._write_run(result["run"]["id"], crm=crm)
        else:
            result = contacts_bulk_queue(
                organization=organization,
                contact_ids=contact,
                crm=crm,
                priority=priority,
                force=force,
                actor=self.actor,
            )
            queued = result["queued"]
            reasons = ", ".join(f"{e['contact_id']}: {e['reason']}" for e in result["errors"][:10])
        self.stdout.write(
            f"{crm}: {queued} contact(s) queued" + (f"; skipped: {reasons}." if reasons else ".")
        )
        if wait:
            connection = connections.organization_connection(organization=organization, crm=crm)
            return self._wait(connection, timeout=timeout)
        return None

    def _write_run(self, run_id: int, *, crm: str) -> None:
        """A big queue-all is counted, not yet in the queue: the command writes it itself, chunk by
        chunk (a worker's task may share the chunks; each is written once)."""
        from crm_sync.services.queue_all_runs import queue_all_run_write

        self.stdout.write(f"{crm}: writing queue-all run {run_id} to the queue…")
        written, _ = queue_all_run_write(run_id=run_id)
        self.stdout.write(f"{crm}: {written} row(s) written to the queue by this command.")

    def _wait(self, connection, *, timeout: float):
        start = sync_stats(connection=connection)
        total = start["queued"] + start["processing"]
        errors_before = start["errors"]
        deadline = time.monotonic() + timeout
        progress = task = None
        if self.tty and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            progress = Progress(
                TextColumn(f"{connection.kind}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeRemainingColumn(),
                console=self.console(),
            )
            progress.start()
            task = progress.add_task("push", total=total, note="")
        last_line = None
        try:
            while True:
                stats = sync_stats(connection=connection)
                left = stats["queued"] + stats["processing"]
                new_errors = max(stats["errors"] - errors_before, 0)
                done = max(total - left, 0)
                note = f"{new_errors} failed" if new_errors else ""
                if stats["paused"]:
                    note = stats["paused"]["message"]
                if progress is not None:
                    progress.update(task, completed=done, note=note)
                else:
                    line = f"{connection.kind}: {done}/{total} done, {left} waiting" + (
                        f", {note}" if note else ""
                    )
                    if line != last_line:
                        self.stdout.write(line)
                        last_line = line
                if not left:
                    break
                if time.monotonic() > deadline:
                    raise Error(f"{left} contact(s) still queued after {timeout:.0f} s; is a worker running?")
                time.sleep(1.0 if self.tty else 2.0)
        finally:
            if progress is not None:
                progress.stop()
        if new_errors:
            raise Error(
                f"{connection.kind}: {new_errors} contact(s) failed; see: manage.py sync failures --crm "
                f"{connection.kind}",
                returncode=1,
            )
        self.stdout.write(f"{connection.kind}: queue drained, no new failures.")
        return None

    def do_pull(self, *, crm, connection, all, org, object_type, backfill, **_):  # noqa: A002
        if crm:
            organization = self.organization(org)
            connection = connections.organization_connection(
                organization=organization, crm=crm, for_push=False
            ).pk
        arguments = {"connection": connection} if connection is not None else {"all": True}
        if object_type:
            arguments["object_type"] = object_type
        try:
            call_command(
                "pull", backfill=backfill, stdout=self.stdout._out, stderr=self.stderr._out, **arguments
            )
        except CommandError as exc:
            raise Error(str(exc), returncode=exc.returncode) from None

    def do_stats(self, *, org, **_):
        rows = connections_overview(organization=self.organization(org))
        if not rows:
            self.stdout.write("No CRM connections.")
            return
        columns = ["CRM", "name", "total", "synced", "queued", "processing", "errors", "success", "last push"]
        columns += ["last pull", "state"]
        table_rows = [
            [
                row["display_name"],
                row["name"],
                str(row["total_contacts"]),
                str(row["synced"]),
                str(row["queued"]),
                str(row["processing"]),
                str(row["errors"]),
                f"{row['success_rate']:.0%}",
                _when(row["last_push"]),
                _when(row["last_pull"]),
                row["state"],
            ]
            for row in rows
        ]
        if self.tty:
            from rich.table import Table

            table = Table(*columns)
            for values in table_rows:
                table.add_row(*values)
            self.console().print(table)
        else:
            self.stdout.write("\t".join(columns))
            for values in table_rows:
                self.stdout.write("\t".join(values))

    def do_failures(self, *, crm, org, category, limit, retry, **_):
        organization = self.organization(org)
        connection = connections.organization_connection(organization=organization, crm=crm)
        failed = sync_failures(connection=connection)
        if category:
            failed = failed.filter(error_category=category)
        count = failed.count()
        if retry:
            if category:
                queued = contacts_retry_category(
                    organization=organization, crm=crm, category=category, actor=self.actor
                )
            else:
                queued = contacts_retry_all(organization=organization, crm=crm, actor=self.actor)
            self.stdout.write(f"{crm}: {queued} failed contact(s) queued again.")
            return
        if not count:
            self.stdout.write(
                f"{crm}: no failed contacts" + (f" in category {category}." if category else ".")
            )
            return
        for state in failed[: max(limit, 0)]:
            email = state.contact.email if state.contact_id else ""
            when = _when(state.last_retry_at)
            self.stdout.write(
                f"{when}  {email or state.contact_id}  {state.error_category or '-'}  "
                f"attempt {state.retry_count}: {state.error}"
            )
        more = f" (showing {min(limit, count)})" if count > limit else ""
        raise Error(f"{crm}: {count} failed contact(s){more}; queue them again with --retry.", returncode=1)

    def do_test_credentials(self, *, crm, org, **_):
        result = crm_credentials_test(organization=self.organization(org), crm=crm, actor=self.actor)
        if result.status != "valid":
            raise Error(
                f"{crm}: {result.message}" + (f": {result.error}" if result.error else ""), returncode=1
            )
        self.stdout.write(f"{crm}: {result.message}")

    def do_resume(self, *, crm, org, no_retry, **_):
        result = connection_resume(
            organization=self.organization(org), crm=crm, actor=self.actor, retry_auth_failures=not no_retry
        )
        check = result["credentials"]
        if not result["resumed"]:
            detail = f": {check['error']}" if check.get("error") else ""
            raise Error(
                f"{crm}: not resumed: {check['message']}{detail}; fix the credentials first.", returncode=1
            )
        state = "resumed" if result["was_paused"] else "was not paused; credentials work"
        self.stdout.write(
            f"{crm}: {state}; {result['requeued']} contact(s) that failed on authentication queued again."
        )
