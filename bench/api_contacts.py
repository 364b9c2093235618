#!/usr/bin/env python
"""Benchmark of the contacts API over real HTTP with keep-alive connections.

Starts its own server (gunicorn, gthread workers, or `runserver`) on a free loopback port
against a fresh database, creates --count contacts with POST /api/v1/contacts/, lists
them all with GET /api/v1/contacts/?limit=<page size>, and prints requests per second
and p50/p99 latency per phase. Results replace this database's rows in the
"## Contacts API (bench/api_contacts.py)" section of docs/benchmarks.md.

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

    def __init__(self, base_url: str | None, workdir: Path):
        self.base_url = base_url
        self.workdir = workdir
        self.pg_name = None

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.pg_name else "SQLite"

    def __enter__(self) -> str:
        if not self.base_url or not self.base_url.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{self.workdir / 'bench.sqlite3'}"
        import psycopg

        parts = urlsplit(self.base_url)
        self.pg_name = f"{parts.path.lstrip('/') or 'crm'}_bench_contacts"
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


def start_server(kind: str, env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    if kind == "gunicorn":
        gunicorn = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
        command = [
            gunicorn,
            "config.wsgi:application",
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


def run_phase(name: str, jobs: list, port: int, key: str, concurrency: int, expect: int) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(jobs))
    clients = [Client(port, key) for _ in range(concurrency)]

    def worker(client: Client) -> None:
        while True:
            with lock:
                if not queue:
                    return
                method, path, body = queue.pop()
            status, seconds, data = client.call(method, path, body)
            with lock:
                latencies.append(seconds)
                if status != expect:
                    failures.append(f"{status} {data[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"{name}: {len(failures)} unexpected responses, first: {failures[0]}")
    latencies.sort()
    return {
        "phase": name,
        "requests": len(latencies),
        "concurrency": concurrency,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "reconnects": sum(c.reconnects for c in clients),
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
    "| Database | Phase | Requests | Clients | req/s | p50 ms | p99 ms | Server | Measured |\n"
    "|---|---|---:|---:|---:|---:|---:|---|---|\n"
)
ROW = re.compile(r"^\| (SQLite|PostgreSQL) \|")


def docs_update(database: str, results: list[dict], server: str) -> None:
    """Replace this database's rows in our section of docs/benchmarks.md; leave the rest alone."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        before, old_section, after = text.rstrip("\n") + "\n\n", "", ""
    else:
        end = text.find("\n## ", start + len(SECTION))
        end = len(text) if end == -1 else end + 1
        before, old_section, after = text[:start], text[start:end], text[end:]
    own = f"| {database} |"
    kept = [line for line in old_section.splitlines() if ROW.match(line) and not line.startswith(own)]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    new_rows = [
        f"| {database} | {r['phase']} | {r['requests']} | {r['concurrency']} | {r['rps']:.0f} | "
        f"{r['p50']:.1f} | {r['p99']:.1f} | {server} | {today} |"
        for r in results
    ]
    rows = sorted(kept + new_rows, key=lambda line: (not line.startswith("| SQLite"), line.split("|")[2]))
    section = (
        f"{SECTION}\n\n"
        "Creates contacts one POST at a time, then lists them all in pages (GET ?limit=100&offset=…), "
        "over keep-alive HTTP against a server the script starts on a fresh database "
        "(`DJANGO_DEBUG=false`, throttle lifted). "
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        "Re-run: `.venv/bin/python bench/api_contacts.py` (SQLite) and with "
        "`DATABASE_URL=postgres://…` (PostgreSQL).\n\n" + TABLE_HEAD + "\n".join(rows) + "\n"
    )
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(before + section + ("\n" + after if after else ""))


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
    parser.add_argument("--no-docs", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        workdir = Path(tmp)
        fresh = FreshDatabase(os.environ.get("DATABASE_URL"), workdir)
        with fresh as database_url:
            env = server_env(database_url, workdir)
            print(f"{fresh.label}: migrating a fresh database…", flush=True)
            manage(env, "migrate", "--noinput", "--skip-checks")
            key = manage(env, "shell", "-c", ISSUE_KEY).strip().splitlines()[-1]
            port = free_port()
            server = start_server(args.server, env, port, args.workers, args.threads)
            try:
                creates = [("POST", "/api/v1/contacts/", contact_body(n)) for n in range(args.count)]
                list_path = f"/api/v1/contacts/?limit={args.page_size}&ordering=created_at&offset="
                offsets = range(0, args.count, args.page_size)
                pages = [("GET", f"{list_path}{offset}", None) for offset in offsets]
                results = [
                    run_phase("create", creates, port, key, args.concurrency, 201),
                    run_phase(f"list (limit {args.page_size})", pages, port, key, args.concurrency, 200),
                ]
            finally:
                server.terminate()
                server.wait(timeout=30)
    label = f"gunicorn {args.workers}×{args.threads} gthread" if args.server == "gunicorn" else "runserver"
    for r in results:
        print(
            f"{fresh.label:10} {r['phase']:18} {r['requests']:6d} req  {r['seconds']:7.2f} s  "
            f"{r['rps']:8.1f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
            f"({r['concurrency']} clients, {r['reconnects']} reconnects, {label})"
        )
    if not args.no_docs:
        docs_update(fresh.label, results, label)
        print(f"Updated {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
