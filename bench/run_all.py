#!/usr/bin/env python
"""`make bench`: every bench in bench/ once, at a small scale, in a few minutes.

A smoke run of the measuring tools, not a measurement: the figures it prints are too small
to compare with docs/benchmarks.md, whose full-scale figures it never changes (the benches
that write their section are run with their print-only flag, and the file is restored,
with a warning, should any bench change it anyway).

Which database each bench gets:
- api_contacts, property_sync and from_event (when bench/from_event.py exists) run on the
  embedded default, a throw-away SQLite file, and need nothing installed;
- dashboard, pull_throughput, push_throughput, queue_all and search need PostgreSQL: give
  DATABASE_URL=postgres://user@host:port/<name> on a server where that user may create
  databases. The runner migrates one database `<name>_mb_template` and gives each bench a
  fresh copy of it (`<name>_mb_<bench>`), dropped afterwards; <name> itself is not touched.
  Without DATABASE_URL these benches are skipped, each with a line saying so;
- push_throughput also needs CELERY_BROKER_URL=redis://host:port/<db> (its workers' broker
  and the shared rate limiter); it empties that Redis database (FLUSHDB), so give one that
  holds nothing else. Without it the push bench is skipped, with a line saying so.

    make bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm CELERY_BROKER_URL=redis://127.0.0.1:6379/9 make bench
    .venv/bin/python bench/run_all.py [--only push_throughput,search] [--list]

Exit status: 0 when every bench that ran succeeded (skipped ones do not count), else 1.
The full-scale command of each bench is in its own docstring and in docs/benchmarks.md.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DOCS = ROOT / "docs" / "benchmarks.md"
# A bench that runs longer than this at the small scale is stuck: it is stopped and reported.
BENCH_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...] = ()
    postgres: bool = False
    redis: bool = False
    # For a bench whose flags this runner cannot know in advance (written elsewhere), read
    # from its --help: the first of `scale_flags` it lists gets `scale`, and each of
    # `print_only_flags` it lists is passed.
    scale_flags: tuple[str, ...] = ()
    scale: str = ""
    print_only_flags: tuple[str, ...] = ()


# Small scale: each bench's own flags (see its argparse), chosen so the whole run stays
# within a few minutes on a 2-CPU machine.
BENCHES = (
    Bench("api_contacts", ("--count", "500", "--no-docs")),
    Bench(
        "from_event",
        scale_flags=("--count", "--registrations", "--requests"),
        scale="500",
        print_only_flags=("--no-docs",),
    ),
    Bench("dashboard", ("--count", "20000"), postgres=True),
    Bench("property_sync", ("--repeat", "3")),  # writes docs only with --write
    Bench("pull_throughput", ("--count", "2000"), postgres=True),
    Bench("push_throughput", ("--count", "2000"), postgres=True, redis=True),
    # Past the inline threshold, so the small run takes the chunked path a million contacts take.
    Bench("queue_all", ("--count", "20000", "--inline-max", "5000", "--chunk-rows", "2000"), postgres=True),
    Bench("search", ("--count", "20000"), postgres=True),
)


@dataclass
class Outcome:
    name: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    note: str = ""


class Postgres:
    """One migrated template database, and a fresh copy of it per bench."""

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)
        self.base = self.parts.path.lstrip("/") or "crm"
        self.admin_url = urlunsplit(self.parts._replace(path="/postgres"))
        self.template = f"{self.base}_mb_template"
        self.ready = False

    def url(self, name: str) -> str:
        return urlunsplit(self.parts._replace(path=f"/{name}"))

    def _execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def prepare(self) -> None:
        """Create and migrate the template once per run (a copy is then a file copy, not a migrate)."""
        self._execute(
            f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)', f'CREATE DATABASE "{self.template}"'
        )
        env = {**os.environ, "DATABASE_URL": self.url(self.template)}
        result = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrating {self.template} failed:\n{result.stderr[-3000:]}")
        self.ready = True

    def copy(self, bench: str) -> str:
        name = f"{self.base}_mb_{bench}"
        self._execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"',
        )
        return name

    def drop(self, *names: str) -> None:
        self._execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


def run_bounded(command: list[str], env: dict) -> int | None:
    """Run a bench in its own process group; its exit status, or None when it ran too long.

    The benches start servers and workers of their own: on a timeout (or Ctrl-C) the whole
    group is stopped, so nothing is left running.
    """
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        return process.wait(timeout=BENCH_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return_code = None
    except KeyboardInterrupt:
        stop_group(process)
        raise
    stop_group(process)
    return return_code


def stop_group(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def help_text(path: Path, env: dict) -> str:
    """The bench's --help (its flags), or "" when it gives none within two minutes."""
    try:
        result = subprocess.run(
            [PYTHON, str(path), "--help"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return ""
    return result.stdout


def embedded_env() -> dict:
    """The environment of an embedded (SQLite) bench: no DATABASE_URL, whatever the caller set."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    return env


def run_one(bench: Bench, postgres: Postgres | None, broker: str) -> Outcome:
    path = ROOT / "bench" / f"{bench.name}.py"
    if not path.exists():
        return Outcome(bench.name, "skipped", note=f"bench/{bench.name}.py does not exist (yet)")
    if bench.postgres and postgres is None:
        return Outcome(
            bench.name,
            "skipped",
            note="needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/<name> "
            "(a server where that user may create databases)",
        )
    if bench.redis and not broker.startswith("redis://"):
        return Outcome(
            bench.name,
            "skipped",
            note="needs Redis: set CELERY_BROKER_URL=redis://host:port/<db> (a database it may empty)",
        )
    env = embedded_env()
    args = list(bench.args)
    if bench.scale_flags or bench.print_only_flags:
        listed = help_text(path, env)

        def lists(flag: str) -> bool:
            return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", listed) is not None

        scale_flag = next((flag for flag in bench.scale_flags if lists(flag)), None)
        if scale_flag:
            args += [scale_flag, bench.scale]
        elif bench.scale_flags:
            print(f"\n({bench.name} lists none of {', '.join(bench.scale_flags)}: it runs at its own scale)")
        args += [flag for flag in bench.print_only_flags if lists(flag)]
    database = None
    try:
        if bench.postgres:
            if not postgres.ready:
                postgres.prepare()
            database = postgres.copy(bench.name)
            env["DATABASE_URL"] = postgres.url(database)
        if bench.redis:
            env["CELERY_BROKER_URL"] = broker
        command = [PYTHON, f"bench/{bench.name}.py", *args]
        shown = (f"DATABASE_URL=…/{database} " if database else "") + shlex.join(
            [".venv/bin/python", *command[1:]]
        )
        print(f"\n=== {bench.name}: {shown}", flush=True)
        started = time.monotonic()
        returncode = run_bounded(command, env)
        seconds = time.monotonic() - started
    except (RuntimeError, OSError) as exc:
        return Outcome(bench.name, "failed", note=str(exc).splitlines()[0])
    except Exception as exc:  # noqa: BLE001 - psycopg's errors: the server refused or is not there
        return Outcome(
            bench.name, "failed", note=f"PostgreSQL: {exc.__class__.__name__}: {exc}".splitlines()[0]
        )
    finally:
        if database:
            postgres.drop(database)
    if returncode is None:
        return Outcome(bench.name, "failed", seconds, note=f"stopped after {BENCH_TIMEOUT_SECONDS} s")
    if returncode != 0:
        return Outcome(bench.name, "failed", seconds, note=f"exit status {returncode}")
    return Outcome(bench.name, "ok", seconds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated bench names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the benches and their small-scale flags")
    args = parser.parse_args()
    benches = BENCHES
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = wanted - {bench.name for bench in BENCHES}
        if unknown:
            parser.error(f"unknown bench(es): {', '.join(sorted(unknown))}")
        benches = tuple(bench for bench in BENCHES if bench.name in wanted)
    if args.list:
        for bench in benches:
            needs = "PostgreSQL" if bench.postgres else "embedded (SQLite)"
            needs += " + Redis" if bench.redis else ""
            print(f"{bench.name:16} {needs:25} {shlex.join(bench.args)}")
        return 0

    url = os.environ.get("DATABASE_URL", "")
    postgres = Postgres(url) if url.startswith(("postgres://", "postgresql://")) else None
    if url and postgres is None:
        print(f"DATABASE_URL is not PostgreSQL ({url.split(':', 1)[0]}): the PostgreSQL benches are skipped.")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    docs_before = DOCS.read_bytes() if DOCS.exists() else None
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        for bench in benches:
            outcome = run_one(bench, postgres, broker)
            if docs_before is not None and DOCS.read_bytes() != docs_before:
                DOCS.write_bytes(docs_before)
                outcome.note = (outcome.note + "; " if outcome.note else "") + (
                    "it changed docs/benchmarks.md: restored (small-scale figures are not kept)"
                )
            if outcome.status == "skipped":
                print(f"\n=== {bench.name}: skipped: {outcome.note}", flush=True)
            outcomes.append(outcome)
    finally:
        if postgres is not None and postgres.ready:
            postgres.drop(postgres.template)
    total = time.monotonic() - started

    print(f"\nmake bench: {total:.0f} s in all (small scale; not figures to compare with docs/benchmarks.md)")
    for outcome in outcomes:
        took = f"{outcome.seconds:6.1f} s" if outcome.seconds else " " * 8
        print(f"  {outcome.name:16} {outcome.status:8} {took}  {outcome.note}".rstrip())
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
