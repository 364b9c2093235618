#!/usr/bin/env python
"""Benchmark of the contacts API over real HTTP with keep-alive connections, against a bare baseline.

Serves two apps the same way, one after the other, each on a fresh database of the same kind
and its own free loopback port (gunicorn gthread workers, or `runserver`): first the bare
baseline (bench/bare: one DRF ModelViewSet over a table of the same shape, no auth, no
extras), then the project. Against each it creates --count contacts with POST
/api/v1/contacts/ and lists them all with GET /api/v1/contacts/?limit=<page size>, and prints
requests per second and p50/p99 latency per phase, and the project's requests per second as
a ratio of the baseline's in the same phase (the figure a loaded machine moves least).
--rounds alternates the two apps several times and reports the median ratio. Results replace
this database's rows in the "## Contacts API (bench/api_contacts.py)" section of
docs/benchmarks.md.

    .venv/bin/python bench/api_contacts.py             # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm \\
        .venv/bin/python bench/api_contacts.py         # PostgreSQL: a fresh <name>_bench_contacts DB

Nothing here is asserted by the test suite; the numbers depend on the machine.
"""

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.ports import free_port  # noqa: E402

PYTHON = sys.executable
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Contacts API (bench/api_contacts.py)"


# ---- environment: database and server -------------------------------------------------------


class FreshDatabase:
    """A new, empty database for one run: a temporary SQLite file, or a new PostgreSQL database."""

    def __init__(self, base_url: str | None, workdir: Path, suffix: str = "bench_contacts"):
        self.base_url = base_url
        self.workdir = workdir
        self.suffix = suffix
        self.pg_name = None

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.pg_name else "SQLite"

    def __enter__(self) -> str:
        if not self.base_url or not self.base_url.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{self.workdir / (self.suffix + '.sqlite3')}"
        import psycopg

        parts = urlsplit(self.base_url)
        self.pg_name = f"{parts.path.lstrip('/') or 'crm'}_{self.suffix}"
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
            conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        return urlunsplit(parts._replace(path=f"/{self.pg_name}"))

    def __exit__(self, *exc) -> None:
        if self.pg_name:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def server_env(database_url: str, workdir: Path) -> dict:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",  # production behaviour: no query log kept in memory
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
        "API_KEY_DEFAULT_RATE": "100000000/min",  # measure the API, not the throttle
        "SANDBOX_ENABLED": "false",
        "VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
        "CACHE_URL": "locmemcache://bench",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


ISSUE_KEY = (
    "from accounts.services import api_key_create, organization_create\n"
    "org = organization_create(name='Bench', slug='bench')\n"
    "_, raw = api_key_create(organization=org, name='bench', scopes=['read', 'write'])\n"
    "print(raw)\n"
)


def start_server(
    kind: str, env: dict, port: int, workers: int, threads: int, wsgi: str = "config.wsgi:application"
) -> subprocess.Popen:
    if kind == "gunicorn":
        gunicorn = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
        command = [
            gunicorn,
            wsgi,
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--worker-class=gthread",  # the sync worker closes every connection; gthread keeps them alive
            f"--threads={threads}",
            "--keep-alive=30",
            "--log-level=warning",
        ]
    else:
        command = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited:\n{process.stderr.read().decode()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("the server did not answer within 60 seconds")


BARE_SETUP = (
    "from bench.bare.models import Organization\n"
    "Organization.objects.create(pk=1, name='Bench')\n"
    "print('bare-no-key')\n"
)


class App:
    """One of the two apps the bench serves: the project, or the bare baseline (bench/bare)."""

    def __init__(self, name: str):
        self.name = name
        self.bare = name == "bare"

    def env(self, database_url: str, workdir: Path) -> dict:
        env = server_env(database_url, workdir)
        if self.bare:
            env["DJANGO_SETTINGS_MODULE"] = "bench.bare.settings"
        return env

    def prepare(self, env: dict) -> str:
        """Migrate the fresh database; return the API key the clients send (the bare app ignores it)."""
        if self.bare:
            manage(env, "migrate", "--run-syncdb", "--noinput", "--skip-checks")
            return manage(env, "shell", "-c", BARE_SETUP).strip().splitlines()[-1]
        manage(env, "migrate", "--noinput", "--skip-checks")
        return manage(env, "shell", "-c", ISSUE_KEY).strip().splitlines()[-1]

    @property
    def wsgi(self) -> str:
        return "bench.bare.wsgi:application" if self.bare else "config.wsgi:application"


# ---- load ----------------------------------------------------------------------------------


class Client:
    """One keep-alive connection; reconnects only if the server closed it."""

    def __init__(self, port: int, key: str):
        self.port = port
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.reconnects = 0

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, float, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, time.perf_counter() - started, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.reconnects += 1
        raise AssertionError("unreachable")


def drive(jobs: list, port: int, key: str, concurrency: int) -> tuple[list, float, int]:
    """Send (method, path, body) jobs from `concurrency` keep-alive clients, each taking the next
    job when its answer is in; returns the (status, seconds, body) answers, the wall time and the
    reconnects. from_event.py drives its registrations with it too."""
    answers: list[tuple[int, float, bytes]] = []
    lock = threading.Lock()
    queue = list(reversed(jobs))
    clients = [Client(port, key) for _ in range(concurrency)]

    def worker(client: Client) -> None:
        while True:
            with lock:
                if not queue:
                    return
                method, path, body = queue.pop()
            answer = client.call(method, path, body)
            with lock:
                answers.append(answer)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, time.perf_counter() - started, sum(c.reconnects for c in clients)


def latency_figures(answers: list, elapsed: float) -> dict:
    """Requests, rate and p50/p99 (ms) of driven answers."""
    latencies = sorted(seconds for _, seconds, _ in answers)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def run_phase(name: str, jobs: list, port: int, key: str, concurrency: int, expect: int) -> dict:
    answers, elapsed, reconnects = drive(jobs, port, key, concurrency)
    failures = [f"{status} {data[:200]!r}" for status, _, data in answers if status != expect]
    if failures:
        sys.exit(f"{name}: {len(failures)} unexpected responses, first: {failures[0]}")
    return {
        "phase": name,
        "concurrency": concurrency,
        **latency_figures(answers, elapsed),
        "reconnects": reconnects,
    }


def contact_body(n: int) -> dict:
    return {
        "email": f"bench{n:06d}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n % 997}",
        "company": f"Company {n % 113}",
        "job_title": "Agent",
        "phone": f"+1-555-{n % 1000:03d}-{n % 10000:04d}",
        "subtype": ("lead", "prospect", "customer")[n % 3],
        "tags": ["bench", f"group-{n % 10}"],
        "custom_properties": {"score": n % 100},
    }


# ---- report --------------------------------------------------------------------------------

TABLE_HEAD = (
    "| Database | App | Phase | Requests | Clients | req/s | p50 ms | p99 ms | of bare | Server "
    "| Measured |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|\n"
)
ROW = re.compile(r"^\| (SQLite|PostgreSQL) \|")


def docs_update(database: str, results: list[dict], server: str, rounds: int) -> None:
    """Replace this database's rows in our section of docs/benchmarks.md; leave the rest alone.

    Rows of the old layout (before the baseline column) are dropped: they have no ratio.
    """
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        before, old_section, after = text.rstrip("\n") + "\n\n", "", ""
    else:
        end = text.find("\n## ", start + len(SECTION))
        end = len(text) if end == -1 else end + 1
        before, old_section, after = text[:start], text[start:end], text[end:]
    own = f"| {database} |"
    kept = [
        line
        for line in old_section.splitlines()
        if ROW.match(line) and not line.startswith(own) and line.count("|") == TABLE_HEAD.count("|") // 2
    ]
    notes = _section_notes(old_section)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    new_rows = [
        f"| {database} | {r['app']} | {r['phase']} | {r['requests']} | {r['concurrency']} | {r['rps']:.0f} | "
        f"{r['p50']:.1f} | {r['p99']:.1f} | {r['ratio']} | {server} | {today} |"
        for r in results
    ]
    rows = sorted(
        kept + new_rows,
        key=lambda line: (
            not line.startswith("| SQLite"),
            line.split("|")[3],
            line.split("|")[2] != " bare ",
        ),
    )
    section = (
        f"{SECTION}\n\n"
        "Creates contacts one POST at a time, then lists them all in pages (GET ?limit=100&offset=…), "
        "over keep-alive HTTP against a server the script starts on a fresh database "
        "(`DJANGO_DEBUG=false`, throttle lifted), first for the bare baseline (bench/bare: one DRF "
        "ModelViewSet over a table of the same shape, no auth, no middleware), then for the project, "
        'served the same way on the same kind of database. "of bare" is the project\'s req/s over '
        f"the baseline's in the same phase of the same run: the median of {rounds} round(s), each "
        "round's own ratio in brackets; the other columns are the last round's. "
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        "Re-run: `.venv/bin/python bench/api_contacts.py --rounds 3` (SQLite) and with "
        "`DATABASE_URL=postgres://…` (PostgreSQL).\n\n" + TABLE_HEAD + "\n".join(rows) + "\n" + notes
    )
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(before + section + ("\n" + after if after else ""))


def _section_notes(old_section: str) -> str:
    """The hand-written notes under the table (from the first "### " heading on), kept as they are."""
    start = old_section.find("\n### ")
    return "" if start == -1 else old_section[start:].rstrip("\n") + "\n"


def run_app(app: App, args, workdir: Path, database_base: str | None) -> tuple[str, list[dict]]:
    """Serve one app on a fresh database, run both phases against it, stop it; return its results."""
    fresh = FreshDatabase(database_base, workdir, suffix="bench_bare" if app.bare else "bench_contacts")
    with fresh as database_url:
        env = app.env(database_url, workdir)
        print(f"{fresh.label} / {app.name}: migrating a fresh database…", flush=True)
        key = app.prepare(env)
        port = free_port()
        server = start_server(args.server, env, port, args.workers, args.threads, wsgi=app.wsgi)
        try:
            creates = [("POST", "/api/v1/contacts/", contact_body(n)) for n in range(args.count)]
            list_path = f"/api/v1/contacts/?limit={args.page_size}&ordering=created_at&offset="
            offsets = range(0, args.count, args.page_size)
            pages = [("GET", f"{list_path}{offset}", None) for offset in offsets]
            # Every page, again and again up to --list-requests: a few dozen requests are noise.
            pages = (pages * (args.list_requests // len(pages) + 1))[: max(len(pages), args.list_requests)]
            results = [
                run_phase("create", creates, port, key, args.concurrency, 201),
                run_phase(f"list (limit {args.page_size})", pages, port, key, args.concurrency, 200),
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)
    for r in results:
        r["app"] = app.name
    return fresh.label, results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000, help="contacts to create (default 5000)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4, help="client connections (default 4)")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate baseline and project this many times (default 1)"
    )
    parser.add_argument(
        "--list-requests",
        type=int,
        default=500,
        help="list pages to request, cycling over all pages (default 500; at least every page once)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure the project only (no ratio)")
    parser.add_argument("--no-docs", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()

    apps = [App("project")] if args.no_baseline else [App("bare"), App("project")]
    runs: list[list[dict]] = []  # per round: the results of every app
    label = "?"
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        for round_number in range(max(1, args.rounds)):
            round_results = []
            for app in apps:
                workdir = Path(tmp) / f"{app.name}-{round_number}"
                workdir.mkdir()
                label, results = run_app(app, args, workdir, os.environ.get("DATABASE_URL"))
                round_results += results
            runs.append(round_results)
    results = _summarise(runs, baseline=not args.no_baseline)
    server = f"gunicorn {args.workers}×{args.threads} gthread" if args.server == "gunicorn" else "runserver"
    for r in results:
        print(
            f"{label:10} {r['app']:7} {r['phase']:18} {r['requests']:6d} req  {r['seconds']:7.2f} s  "
            f"{r['rps']:8.1f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
            f"of bare {r['ratio']:>5}  "
            f"({r['concurrency']} clients, {r['reconnects']} reconnects, {server})"
        )
    if not args.no_docs:
        docs_update(label, results, server, max(1, args.rounds))
        print(f"Updated {DOCS.relative_to(ROOT)}")


def _summarise(runs: list[list[dict]], *, baseline: bool) -> list[dict]:
    """The last round's rows, each project row with the median over rounds of its ratio to the bare
    app's rows of the same phase and round."""
    last = runs[-1]
    for row in last:
        row["ratio"] = "-"
        if not baseline or row["app"] == "bare":
            continue
        ratios = []
        for run in runs:
            bare = next(r for r in run if r["app"] == "bare" and r["phase"] == row["phase"])
            mine = next(r for r in run if r["app"] == row["app"] and r["phase"] == row["phase"])
            ratios.append(mine["rps"] / bare["rps"])
        row["ratio"] = f"{statistics.median(ratios):.0%}"
        if len(ratios) > 1:
            row["ratio"] += f" ({'/'.join(f'{r:.0%}' for r in ratios)})"
        row["ratios"] = ratios
    return last


if __name__ == "__main__":
    main()
