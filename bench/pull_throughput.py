#!/usr/bin/env python
"""Pull throughput: N contacts pulled from the HubSpot sandbox over real HTTP, under its rate limits.

Starts the standalone sandbox (`manage.py sandbox`) on a migrated PostgreSQL database, seeds
--count contacts in it (default 50,000, modified times spread over the day before), and runs
the pull service in this process, twice:
  1. full (a backfill): every contact, created locally;
  2. incremental: after 1% of the contacts were edited through the sandbox's control API
     (as a CRM user would), only what changed since the first pull.
For each it prints records/s against the ceiling HubSpot's search limit allows (5 searches a
second x 200 results = 1,000 records/s; the ratio is the figure), calls made, 429s received,
and the process's resident memory when 10,000 and when all records had been applied (a
streaming pull keeps it flat). The pull is the same code a Celery pull task runs (one task per
connection and object type); it runs in-process here so the memory figures are the pull's.
The sandbox's archived listing is switched off (settings.pull_archived): this sandbox build
lists live records there, which would add a second full pass that HubSpot does not make.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_sync \\
        .venv/bin/python bench/pull_throughput.py [--count 50000]

Nothing here is asserted by the test suite; the numbers depend on the machine.
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization  # noqa: E402
from bench.ports import free_port, wait_port  # noqa: E402
from bench.pull_apply_cpu import backend_cpu  # noqa: E402
from bench.push_throughput import cpu_seconds  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm_sync.services.pull import pull_run  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402
from sandbox import credentials as sandbox_credentials  # noqa: E402
from sandbox.config import config_update, sandbox_reset  # noqa: E402
from sandbox.emulators.hubspot_schema import CONTACTS  # noqa: E402
from sandbox.models import SandboxRecord, SandboxRequestLog  # noqa: E402

SLUG = "bench-pull"
PAGE = 200
SEARCHES_PER_SECOND = 5
CEILING = SEARCHES_PER_SECOND * PAGE  # records a second HubSpot's search limit allows


def rss_mb() -> float:
    """This process's resident memory now (MB), from /proc; 0 off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def seed(count: int) -> None:
    """`count` HubSpot contacts, modified one after another over the day before (bulk, in batches)."""
    start = timezone.now() - timedelta(days=2)
    step = timedelta(days=1) / max(count, 1)
    batch = []
    for n in range(count):
        stamp = start + step * n
        email = f"bench{n}@pull.example.com"
        batch.append(
            SandboxRecord(
                kind="hubspot",
                object_type=CONTACTS.record_type,
                key=email,
                data={
                    "email": email,
                    "firstname": f"First{n}",
                    "lastname": "Bench",
                    "company": f"Co {n % 500}",
                },
                created_at=stamp,
                updated_at=stamp,
            )
        )
        if len(batch) == 5000:
            SandboxRecord.objects.bulk_create(batch)
            batch = []
    SandboxRecord.objects.bulk_create(batch)
    with db_connection.cursor() as cursor:
        # VACUUM sets the visibility map, so the sandbox's search counts from its index alone
        # (autovacuum would, later; CI's server runs with it off).
        cursor.execute(f"VACUUM ANALYZE {db_connection.ops.quote_name(SandboxRecord._meta.db_table)}")


def others_cpu(sandbox_pid: int) -> dict[str, float]:
    """CPU used so far by the sandbox process and by the pull's own PostgreSQL session.

    The sandbox's sessions are not counted: its threaded server opens one per request, and
    the postmaster's reaped children (where closed sessions' CPU ends up) hold every other
    database's too on a shared server. bench/pull_search_cpu.py measures them apart.
    """
    return {"sandbox": cpu_seconds(sandbox_pid), "postgres (pull's session)": backend_cpu()}


def measured_pull(connection: CrmConnection, *, backfill: bool, marks: tuple[int, ...], sandbox_pid: int):
    memory: dict[int, float] = {}
    others_started = others_cpu(sandbox_pid)
    started = time.monotonic()
    cpu_started = time.process_time()  # this process: the pull and its read-ahead thread

    def progress(run, tally) -> None:
        for mark in marks:
            if mark not in memory and run.fetched >= mark:
                memory[mark] = rss_mb()
        if run.pages % 25 == 0:
            rate = run.fetched / max(time.monotonic() - started, 1e-6)
            print(f"    {run.fetched:>7,} records, {rate:,.0f}/s, RSS {rss_mb():.0f} MB", flush=True)

    run = pull_run(connection_id=connection.pk, object_type="contacts", backfill=backfill, progress=progress)
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    others = {name: value - others_started[name] for name, value in others_cpu(sandbox_pid).items()}
    memory.setdefault(run.fetched, rss_mb())
    return run, elapsed, memory, {"pull": cpu, **others}


def report(
    label: str, run, elapsed: float, memory: dict[int, float], rss_before: float, cpus: dict[str, float]
) -> None:
    rate = run.fetched / max(elapsed, 1e-6)
    # The ceiling for this many records: one search per page at 5 a second.
    pages = max(-(-run.fetched // PAGE), 1)
    best = pages / SEARCHES_PER_SECOND
    print(f"  {label}: {run.fetched:,} fetched in {elapsed:.1f} s -> {rate:,.0f} records/s ({run.outcome})")
    print(
        f"    ceiling {CEILING:,} records/s ({pages} searches at {SEARCHES_PER_SECOND}/s: {best:.1f} s); "
        f"ratio {best / max(elapsed, 1e-6):.1%}"
    )
    print(
        f"    created {run.created:,}, updated {run.updated:,}, unchanged {run.unchanged:,}, "
        f"errors {run.error_count}; calls {run.calls:,}, 429s {run.http_429s}"
    )
    # CPU the pull itself used: records per CPU-second is what one idle core could apply, the
    # figure to set against the ceiling when the machine is shared.
    cpu = cpus["pull"]
    print(f"    pull process CPU {cpu:.1f} s -> {run.fetched / max(cpu, 1e-6):,.0f} records per CPU-second")
    # What shares the machine with the pull: per record, the pull, the sandbox and PostgreSQL.
    per_record = ", ".join(
        f"{name} {seconds:.1f} s ({seconds / max(run.fetched, 1) * 1000:.2f} ms)"
        for name, seconds in cpus.items()
    )
    print(f"    CPU (a record): {per_record}; total {sum(cpus.values()):.1f} s in {elapsed:.1f} s")
    if memory:
        marks = ", ".join(f"{mb:.0f} MB at {n:,}" for n, mb in sorted(memory.items()))
        print(f"    resident memory {rss_before:.0f} MB before; {marks}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument(
        "--changed", type=float, default=0.01, help="share edited before the incremental pull"
    )
    args = parser.parse_args()
    # Production behaviour: with DEBUG on, Django keeps every query in memory, which would read
    # as the pull's memory growing with the records.
    settings.DEBUG = False
    if db_connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a migrated PostgreSQL database.")

    Organization.objects.filter(slug=SLUG).delete()
    organization = Organization.objects.create(name="Bench pull", slug=SLUG)
    sandbox_reset(kind="hubspot", reset_config=True)
    config_update(kind="hubspot", changes={"rate_limit_enabled": True})
    print(f"Seeding {args.count:,} HubSpot contacts in the sandbox…", flush=True)
    seed(args.count)
    port = free_port()
    # The pull runs in this process against a sandbox on a free port: list it as an allowed
    # private target (the embedded default lists only 127.0.0.1:8000).
    settings.CRM_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port}"]
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "60",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SANDBOX_ENABLED": "true",
    }
    env.setdefault("FIELD_ENCRYPTION_KEYS", ",".join(settings.FIELD_ENCRYPTION_KEYS))
    sandbox = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        root = f"http://127.0.0.1:{port}/sandbox/hubspot"
        connection = CrmConnection.objects.create(
            organization=organization,
            kind="hubspot",
            name="bench",
            base_url=root,
            credentials={"access_token": sandbox_credentials.HUBSPOT_TOKEN},
            settings={"pull_archived": False},
            sync_direction="pull",
        )
        SandboxRequestLog.objects.filter(kind="hubspot").delete()
        rss_before = rss_mb()
        marks = tuple(m for m in (10_000, args.count) if m <= args.count)
        print(
            f"Full pull of {args.count:,} (prefetch {'on' if settings.SYNC_PULL_PREFETCH else 'off'}):",
            flush=True,
        )
        full, full_s, full_memory, full_cpu = measured_pull(
            connection, backfill=True, marks=marks, sandbox_pid=sandbox.pid
        )

        changed = max(1, int(args.count * args.changed))
        ids = list(
            SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type)
            .order_by("?")
            .values_list("pk", flat=True)[:changed]
        )
        for start in range(0, len(ids), 10_000):
            response = requests.post(
                f"{root}/_control/records/edit",
                json={"object_type": CONTACTS.record_type, "ids": ids[start : start + 10_000],
                      "set": {"company": "Edited in the CRM"}},
                timeout=120,
            )  # fmt: skip
            response.raise_for_status()
        print(f"Incremental pull after {changed:,} contacts were edited in the CRM:", flush=True)
        incremental, inc_s, inc_memory, inc_cpu = measured_pull(
            connection, backfill=False, marks=(), sandbox_pid=sandbox.pid
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=20)

    too_many = SandboxRequestLog.objects.filter(kind="hubspot", status=429).count()
    local = Contact.objects.filter(organization=organization).count()
    edited = Contact.objects.filter(organization=organization, company="Edited in the CRM").count()
    print(f"\n{args.count:,} contacts from the HubSpot sandbox, search limited to {SEARCHES_PER_SECOND}/s")
    report("full", full, full_s, full_memory, rss_before, full_cpu)
    report("incremental", incremental, inc_s, inc_memory, rss_before, inc_cpu)
    print(
        f"  429s logged by the sandbox: {too_many}; local contacts {local:,}; "
        f"edits applied {edited:,}/{changed:,}"
    )
    print(f"  CPUs {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end")
    Organization.objects.filter(slug=SLUG).delete()
    sandbox_reset(kind="hubspot", reset_config=True)


if __name__ == "__main__":
    main()
