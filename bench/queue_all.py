#!/usr/bin/env python
"""Benchmark of set-based queueing and of sync-stats on PostgreSQL.

Fills a benchmark organization with --count contacts (default 1,000,000) in one
INSERT … SELECT generate_series, then times:
  - queue-all (crm_sync.services.queue_all.contacts_queue_all) of every contact: goal ≤ 5 s;
  - the dry run of the same (the count query alone);
  - queue-all again once every contact has a Complete row (the re-queue): goal ≤ 10 s;
  - sync-stats (crm_sync.selectors.sync_stats) over the resulting states: goal ≤ 100 ms
    (median of 5 runs after a warm-up and ANALYZE).
Above SYNC_QUEUE_ALL_INLINE_MAX_ROWS a queue-all answers once it has decided and counted the
contacts, and a task writes them to the queue in chunks (crm_sync/services/queue_all_runs.py).
The bench times the answer, then writes the chunks itself, as the task would, and times that
too ("written"): the answer's queued_count is checked against the rows then in the queue.
--inline-max and --chunk-rows set those two settings for the run (--inline-max at --count or above
writes everything inside the request: the code path of smaller queue-alls, and of every queue-all
before the chunked runs).
Beside each wall-clock time it prints what a loaded machine changes less: the CPU seconds of
the PostgreSQL backend that ran it (from /proc, when the server runs on this machine) and the
WAL it wrote.

    DATABASE_URL=postgres://postgres@127.0.0.1/bench_queue .venv/bin/python bench/queue_all.py [--count N]

It needs a migrated PostgreSQL database and leaves the benchmark organization in it
(re-running replaces it, through the ORM, which is slow at a million rows: a freshly created
and migrated database per run is quicker and gives comparable figures). Nothing here is
asserted by the test suite; docs/benchmarks.md records the figures and where the time goes.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.actors import Actor  # noqa: E402
from accounts.models import Organization  # noqa: E402
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus  # noqa: E402
from crm_sync.selectors import sync_stats  # noqa: E402
from crm_sync.services import queue_all  # noqa: E402
from crm_sync.services.queue_all_runs import queue_all_run_write  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402

SLUG = "bench-queue-all"


class Phase:
    """Wall-clock time, the backend's CPU seconds (/proc/<pid>/stat) and WAL bytes of one step."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]

    def _cpu(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the server runs elsewhere
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _lsn(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            return cursor.fetchone()[0]

    def __enter__(self):
        self.cpu0, self.lsn0, self.t0 = self._cpu(), self._lsn(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        cpu1 = self._cpu()
        self.cpu = None if cpu1 is None or self.cpu0 is None else cpu1 - self.cpu0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [self.lsn0])
            self.wal_mb = float(cursor.fetchone()[0]) / 1e6

    def __str__(self) -> str:
        cpu = "n/a" if self.cpu is None else f"{self.cpu:.2f} s"
        return f"{self.seconds:.2f} s (backend CPU {cpu}, WAL {self.wal_mb:.0f} MB)"


def fill(organization: Organization, count: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contact (id, organization_id, email, first_name, last_name, phone, company,
                job_title, subtype, status, source, tags, notes, custom_properties, created_at, updated_at,
                created_by_type, created_by_label)
            SELECT md5(%s || g::text)::uuid, %s,
                   CASE WHEN g %% 50 = 0 THEN '' ELSE 'person' || g || '@bench.example.com' END,
                   'First' || g, 'Last' || g, '', 'Company ' || (g %% 1000), '', 'lead', 'active',
                   CASE WHEN g %% 3 = 0 THEN 'event' ELSE 'api' END, '[]'::jsonb, '', '{}'::jsonb,
                   now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 'system', 'bench'
            FROM generate_series(1, %s) AS g
            """,
            [SLUG, organization.pk, count],
        )
        cursor.execute("ANALYZE contacts_contact")
    return time.perf_counter() - started


def queue_and_write(organization: Organization, kind: str, actor: Actor) -> tuple[dict, Phase, str]:
    """Queue-all every contact (the answer), then write its chunks as the task would (written).

    The task is not sent: the bench process writes the chunks itself, so the figures hold no
    broker or worker start-up. Checks that the queue then holds the rows the answer counted.
    """
    connection_row = CrmConnection.objects.get(organization=organization)
    queued_before = _queued_rows(connection_row)
    original, queue_all._write_later = queue_all._write_later, lambda run_id: None
    try:
        with Phase() as answer:
            result = queue_all.contacts_queue_all(organization=organization, crm=kind, actor=actor)
    finally:
        queue_all._write_later = original
    run = result.get("run")
    if run is None:
        limit = settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS
        written = f"written inside the request (SYNC_QUEUE_ALL_INLINE_MAX_ROWS = {limit:,})"
    else:
        with Phase() as write:
            rows, _ = queue_all_run_write(run_id=run["id"])
        chunk = settings.SYNC_QUEUE_ALL_CHUNK_ROWS
        written = f"written to the queue after the answer, {chunk:,} a chunk: {write} for {rows:,} rows"
    in_queue = _queued_rows(connection_row) - queued_before
    if in_queue != result["queued_count"]:
        sys.exit(f"the answer counted {result['queued_count']:,} but the queue gained {in_queue:,} rows")
    return result, answer, written


def _queued_rows(connection_row: CrmConnection) -> int:
    return ContactSyncState.objects.filter(connection=connection_row, sync_status=SyncStatus.QUEUED).count()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--inline-max", type=int, default=settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS)
    parser.add_argument("--chunk-rows", type=int, default=settings.SYNC_QUEUE_ALL_CHUNK_ROWS)
    args = parser.parse_args()
    settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS = args.inline_max
    settings.SYNC_QUEUE_ALL_CHUNK_ROWS = args.chunk_rows
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a migrated PostgreSQL database.")

    Organization.objects.filter(slug=SLUG).delete()
    organization = Organization.objects.create(name="Bench queue-all", slug=SLUG)
    kind = "hubspot"
    CrmConnection.objects.create(
        organization=organization,
        kind=kind,
        name="bench",
        credentials={"access_token": "bench"},
        enabled=True,
    )
    print(f"filling {args.count:,} contacts…", flush=True)
    fill_seconds = fill(organization, args.count)
    print(f"  filled in {fill_seconds:.1f} s")

    actor = Actor.system("bench")
    with Phase() as dry_phase:
        dry = queue_all.contacts_queue_all(organization=organization, crm=kind, dry_run=True, actor=actor)
    result, queue_phase, write_phase = queue_and_write(organization, kind, actor)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_sync_contactsyncstate")
    conn = CrmConnection.objects.get(organization=organization)
    # Again, now that every contact has a (Complete) row: the UPDATE path, and the INSERT
    # finding a conflict for each contact.
    ContactSyncState.objects.filter(connection=conn).update(
        sync_status=SyncStatus.COMPLETE, processing_status=ProcessingStatus.COMPLETE, due_at=None
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_sync_contactsyncstate")
    again, again_phase, again_write_phase = queue_and_write(organization, kind, actor)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_sync_contactsyncstate")
    sync_stats(connection=conn)  # warm-up
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        stats = sync_stats(connection=conn)
        timings.append(time.perf_counter() - started)
    stats_ms = statistics.median(timings) * 1000

    print(f"queue-all dry run: {dry_phase} ({dry['queued_count']:,} would queue, skipped {dry['skipped']})")
    print(f"queue-all: {queue_phase} for {result['queued_count']:,} contacts (goal ≤ 5 s)")
    print(f"  {write_phase}")
    print(
        f"queue-all again (every contact has a Complete row): {again_phase} "
        f"for {again['queued_count']:,} contacts (goal ≤ 10 s)"
    )
    print(f"  {again_write_phase}")
    print(
        f"sync-stats: {stats_ms:.0f} ms median of 5 over {stats['total_contacts']:,} states (goal ≤ 100 ms)"
    )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"postgres {connection.pg_version}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
