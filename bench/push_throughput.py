#!/usr/bin/env python
"""Push throughput: N contacts through real Celery workers to the HubSpot sandbox over real HTTP.

Starts the standalone sandbox (`manage.py sandbox`) and --workers Celery worker processes
(Redis broker, Redis rate limiter) on a migrated PostgreSQL database, queues --count
contacts (default 20,000) for a HubSpot connection pointing at the sandbox, plays beat
(dispatch every 0.5 s) until every contact is Complete, then prints:
  contacts/s, the ceiling (requests per second allowed x batch size), the ratio, 429s
  received, duplicates and lost, checked in both the sandbox's and the local tables.
With --no-limit the sandbox's rate limit is off and it prints the pipeline's own capacity
in contacts/s per worker process and where the time went (claim, build, HTTP, write-back).
--workers defaults to 2 with the limit and 1 without: on a 2-CPU machine, two worker
processes share the CPUs with the sandbox and PostgreSQL, so their rate divided by two
measures the machine, not what one process can do.
--lanes sets SYNC_PUSH_LANES (batches each push task keeps in flight) for the workers.
--latency-ms makes the sandbox take that long over every answer (its `latency_ms` setting:
a real delay in the server, after its rate-limit check, as a distant CRM's round trip), so
a lane makes at most 1000 / (latency + its own work) requests a second and only enough
lanes in flight (workers x lanes) can keep the rate limit's window full.

The ratio to the exact bound of the rolling window (with the limit on). HubSpot allows
LIMIT (100) requests in any WINDOW (10 s). Let t0 be the arrival at the sandbox of the
first accepted batch upsert (arrival = the request log's time minus its duration), and
k the number of whole windows between t0 + WINDOW and the last accepted upsert's arrival.
The first window [t0, t0 + WINDOW) is the burst a rolling window lets through at once and
is left out; the k windows after it, [t0 + WINDOW, t0 + (k + 1) x WINDOW), can hold at most
k x LIMIT requests under an exact rolling window, whatever the pacing. So

    ratio = accepted upserts arriving in [t0 + WINDOW, t0 + (k + 1) x WINDOW) / (k x LIMIT)

in requests, which is the ratio in contacts too (contacts = requests x batch: every upsert
carries a full batch of 100 when --count is a multiple of 100). 100% means the window was
kept full; a client (or a sandbox that counts loosely) could go over it, so the bench prints
the figure as it is, with the busiest WINDOW seen (at most LIMIT) and the refill time (the
median time from an accepted upsert to the LIMIT-th after it: WINDOW when every slot is
reused as soon as it frees; bench/windows.py has all three). The older figure,
contacts/s over the whole run against LIMIT / WINDOW x batch, is printed too: it counts the
first window's burst, so it overstates short runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_sync CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/push_throughput.py [--count 20000] [--workers 2|1] [--lanes 4] \\
        [--latency-ms 300] [--no-limit]

The limited run of issue 18: --count 100000 --latency-ms 300 (about two minutes, bound by
the limit, light on CPU). Nothing here is asserted by the test suite; the numbers depend on
the machine.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from celery import Celery  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.db.models import Max, Min, Sum  # noqa: E402

from accounts.actors import Actor  # noqa: E402
from accounts.models import Organization  # noqa: E402
from bench.ports import free_port, wait_port  # noqa: E402
from bench.windows import busiest_window, refill_seconds, window_ratio  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm_sync.models import ContactSyncState, SyncRun, SyncStatus  # noqa: E402
from crm_sync.queue import reap_stale  # noqa: E402
from crm_sync.services.dispatch import pushes_dispatch_due  # noqa: E402
from crm_sync.services.queue_all import contacts_queue_all  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402
from sandbox import credentials as sandbox_credentials  # noqa: E402
from sandbox.config import MAX_LATENCY_MS, config_update, sandbox_reset  # noqa: E402
from sandbox.emulators.hubspot_schema import CONTACTS  # noqa: E402
from sandbox.models import SandboxRecord, SandboxRequestLog  # noqa: E402
from sandbox.runtime import LOG_KEEP  # noqa: E402

SLUG = "bench-push"
BATCH = 100
LIMIT_PER_10S = 100
WINDOW_SECONDS = 10.0


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (state, ppid, ...); empty off Linux or once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def clock_seconds(fields: list[str], first: int, last: int) -> float:
    return sum(int(value) for value in fields[first:last]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its reaped children have used so far; 0 off Linux."""
    return clock_seconds(proc_stat(pid), 11, 15)


def postgres_cpu_seconds(database: str) -> float:
    """CPU time of the local PostgreSQL backends serving `database` (all clients of the bench).

    A push task's lanes close their connections when it ends, so backends come and go: the
    ones still running are read directly, the ones gone are in the postmaster's reaped
    children's time (which also holds any other database's closed sessions: none during a run
    on a server of its own, so on a shared server the figure is an upper bound).
    """
    total, postmasters = 0.0, set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {database} " in title:
            fields = proc_stat(int(proc.name))
            if fields:
                total += clock_seconds(fields, 11, 15)
                postmasters.add(int(fields[1]))
    # cutime + cstime: the backends the postmaster has reaped.
    return total + sum(clock_seconds(proc_stat(pid), 13, 15) for pid in postmasters)


def vacuum_churned_tables() -> None:
    """VACUUM ANALYZE what earlier runs deleted: a server with autovacuum off (CI's is) would
    otherwise make every index scan wade through hundreds of thousands of dead rows."""
    tables = [
        ContactSyncState._meta.db_table,
        Contact._meta.db_table,
        SyncRun._meta.db_table,
        SandboxRecord._meta.db_table,
        SandboxRequestLog._meta.db_table,
    ]
    with db_connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {db_connection.ops.quote_name(table)}")


def analyze_growing_tables() -> None:
    """ANALYZE the sandbox's records, which grow from none to one per contact during the run
    (once the first batch is in, then whenever the run's length has doubled).

    With statistics from an empty table the planner takes the (kind, object_type) prefix of
    the unique index as selective and filters 60,000 rows on every batch lookup: the stand-in
    CRM's lookup went from 4 to 53 ms a batch over a run, and the figure measured that rather
    than the pipeline. Autovacuum would ANALYZE the table too (past 50 rows + 10%), but only
    after its nap of up to a minute, longer than a run, and CI's server runs it off.
    """
    with db_connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {db_connection.ops.quote_name(SandboxRecord._meta.db_table)}")


def wait_idle(pids: list[int], timeout: float = 60.0) -> dict[str, float]:
    """Wait until the sandbox and workers stop using CPU (booted); return their CPU so far."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        now = {
            "sandbox": cpu_seconds(pids[0]),
            "workers": sum(cpu_seconds(pid) for pid in pids[1:]),
            "postgres": postgres_cpu_seconds(db_connection.settings_dict["NAME"]),
        }
        if previous is not None and sum(now.values()) - sum(previous.values()) < 0.02:
            return now
        previous = now
        time.sleep(1.0)
    return previous or {}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None, help="default 2, or 1 with --no-limit")
    parser.add_argument(
        "--lanes", type=int, default=settings.SYNC_PUSH_LANES, help="batches in flight per push task"
    )
    parser.add_argument("--no-limit", action="store_true", help="switch the sandbox's rate limit off")
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="the sandbox waits this long before every answer (server-side; default 0)",
    )
    args = parser.parse_args()
    if not 0 <= args.latency_ms <= MAX_LATENCY_MS:
        parser.error(f"--latency-ms must be between 0 and {MAX_LATENCY_MS}")
    if args.workers is None:
        args.workers = 1 if args.no_limit else 2
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if db_connection.vendor != "postgresql" or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL (migrated PostgreSQL) and CELERY_BROKER_URL (redis://).")
    import redis

    redis.Redis.from_url(broker).flushdb()

    Organization.objects.filter(slug=SLUG).delete()
    organization = Organization.objects.create(name="Bench push", slug=SLUG)
    sandbox_reset(kind="hubspot", reset_config=True)
    config_update(
        kind="hubspot",
        changes={
            "rate_limit_enabled": not args.no_limit,
            "latency_ms": args.latency_ms,
            # The ratio is read from the request log: keep every line of the run.
            "options": {"log_keep": max(LOG_KEEP, 2 * args.count // BATCH + 1000)},
        },
    )
    port = free_port()
    env = {
        **os.environ,
        "CACHE_URL": broker,
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "60",
        "SYNC_PUSH_LANES": str(args.lanes),
        # Production behaviour: with DEBUG on, Django keeps every query in memory and wraps
        # every cursor call to time it, which is not what a deployed worker pays.
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SANDBOX_ENABLED": "true",
        # The sandbox runs on a free port, not the embedded default's 127.0.0.1:8000.
        "CRM_ALLOWED_PRIVATE_TARGETS": f"127.0.0.1:{port}",
    }
    env.setdefault("FIELD_ENCRYPTION_KEYS", ",".join(settings.FIELD_ENCRYPTION_KEYS))
    booted: dict[str, float] = {}
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "sandbox", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        wait_port(port)
        connection = CrmConnection.objects.create(
            organization=organization,
            kind="hubspot",
            name="bench",
            base_url=f"http://127.0.0.1:{port}/sandbox/hubspot",
            credentials={"access_token": sandbox_credentials.HUBSPOT_TOKEN},
            batch_size=BATCH,
            push_interval_seconds=1,
            # With the sandbox's limit off, the connector's own limiter (HubSpot's documented
            # 100 per 10 s) and daily quota go too: the pipeline alone sets the pace.
            settings={} if not args.no_limit else {"rate_limits": {"default": None}, "daily_quota": None},
        )
        Contact.objects.bulk_create(
            [
                Contact(organization=organization, email=f"bench{i}@push.example.com", first_name=f"F{i}")
                for i in range(args.count)
            ],
            batch_size=5000,
        )
        contacts_queue_all(organization=organization, crm="hubspot", actor=Actor.system("bench"))
        vacuum_churned_tables()
        for n in range(args.workers):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                     "-n", f"bench{n}@%h", "-Q", "push,maintenance", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-l", "WARNING"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        sender = Celery(broker=broker)

        def enqueue(connection_id: int, expires: float) -> None:
            sender.send_task("crm_sync.push_batch", kwargs={"connection_id": connection_id}, queue="push")

        settings.SYNC_MAX_PARALLEL_PUSHES = args.workers
        booted = wait_idle([proc.pid for proc in procs])
        # What else the machine ran: the figure means little at a load above its CPUs.
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        next_analyze = None
        while True:
            pushes_dispatch_due(enqueue=enqueue)
            if next_analyze is not None and time.monotonic() >= next_analyze:
                analyze_growing_tables()
                next_analyze = started + 2 * (time.monotonic() - started)
            reap_stale(lease_seconds=settings.SYNC_PROCESSING_LEASE_SECONDS)
            left = ContactSyncState.objects.filter(connection=connection).exclude(
                sync_status=SyncStatus.COMPLETE
            )
            if next_analyze is None and SyncRun.objects.filter(connection=connection).exists():
                next_analyze = time.monotonic()  # the first batch is in
            if not left.exists() or time.monotonic() - started > 3600:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()[0]
    finally:
        cpu = {
            "sandbox": cpu_seconds(procs[0].pid),
            "workers": sum(cpu_seconds(p.pid) for p in procs[1:]),
            "postgres": postgres_cpu_seconds(db_connection.settings_dict["NAME"]),
        }
        cpu = {name: seconds - booted.get(name, 0.0) for name, seconds in cpu.items()} if booted else cpu
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)

    records = SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type)
    writes = records.aggregate(total=Sum("write_count"))["total"] or 0
    stored = records.count()
    states = ContactSyncState.objects.filter(connection=connection)
    incomplete = states.exclude(sync_status=SyncStatus.COMPLETE).count()
    # Both sides agree contact by contact: every local state names a sandbox record, every
    # sandbox record is named by exactly one state, and no record was written twice.
    remote_ids = list(
        states.exclude(remote_id__isnull=True).exclude(remote_id="").values_list("remote_id", flat=True)
    )
    record_ids = {str(pk) for pk in records.values_list("pk", flat=True)}
    unmatched_local = len(set(remote_ids) - record_ids)
    unmatched_sandbox = len(record_ids - set(remote_ids))
    duplicates = (
        max(writes - stored, 0) + max(stored - args.count, 0) + (len(remote_ids) - len(set(remote_ids)))
    )
    # Lost: not Complete here, or Complete here but missing there.
    lost = max(incomplete, args.count - stored, unmatched_local)
    log = SandboxRequestLog.objects.filter(kind="hubspot", path__contains="batch/upsert")
    requests_total = log.count()
    too_many = log.filter(status=429).count()
    arrivals = [
        created.timestamp() - duration_ms / 1000
        for created, duration_ms in log.exclude(status=429).values_list("created_at", "duration_ms")
    ]
    counted, windows, exact_ratio = window_ratio(arrivals, limit=LIMIT_PER_10S, window=WINDOW_SECONDS)
    runs = SyncRun.objects.filter(connection=connection)
    # Worker start-up (a few seconds of Celery boot) is not the pipeline: time from the first
    # push's start to the last one's end.
    window = runs.aggregate(first=Min("started_at"), last=Max("finished_at"))
    active = (window["last"] - window["first"]).total_seconds() if window["first"] else elapsed
    rate = args.count / max(active, 1e-6)
    parts = runs.aggregate(
        claim=Sum("claim_ms"),
        build=Sum("build_ms"),
        http=Sum("http_ms"),
        write=Sum("write_ms"),
        busy=Sum("duration_ms"),
    )
    limit = "off" if args.no_limit else f"{LIMIT_PER_10S} per 10 s"
    print(
        f"{args.count:,} contacts, {args.workers} worker processes x {args.lanes} lanes, "
        f"batch {BATCH}, limit {limit}, sandbox latency {args.latency_ms} ms"
    )
    print(
        f"  elapsed {elapsed:.1f} s (after the workers booted); load average {load_before:.1f} at the "
        f"start, {load_after:.1f} at the end, on {os.cpu_count()} CPUs"
    )
    print(f"  pushing {active:.1f} s -> {rate:,.0f} contacts/s")
    if not args.no_limit:
        ceiling = LIMIT_PER_10S / WINDOW_SECONDS * BATCH
        print(
            f"  ceiling {ceiling:,.0f} contacts/s; ratio {rate / ceiling:.1%} (first window's burst included)"
        )
        if windows:
            print(
                f"  exact rolling-window bound, first window left out: {counted:,} accepted upserts "
                f"in {windows} windows of {WINDOW_SECONDS:g} s against {windows * LIMIT_PER_10S:,} "
                f"-> ratio {exact_ratio:.1%}"
            )
        else:
            print("  exact rolling-window ratio: the run was shorter than two windows (raise --count)")
        refill = refill_seconds(arrivals, limit=LIMIT_PER_10S)
        if refill is not None:
            print(
                f"  window refilled in {refill:.2f} s (median time from an accepted upsert to the "
                f"{LIMIT_PER_10S}th after it; {WINDOW_SECONDS:g} s when every slot is reused at once)"
            )
        print(
            f"  busiest {WINDOW_SECONDS:g} s of accepted upserts at the sandbox: "
            f"{busiest_window(arrivals, window=WINDOW_SECONDS)} (limit {LIMIT_PER_10S})"
        )
    print(f"  upsert requests {requests_total:,}; 429s {too_many} ({too_many / max(requests_total, 1):.2%})")
    print(
        f"  duplicates {duplicates} (sandbox: {stored:,} records, {writes:,} writes; local: "
        f"{len(remote_ids):,} remote ids, {len(set(remote_ids)):,} distinct); lost {lost}; "
        f"unmatched: {unmatched_local} local, {unmatched_sandbox} in the sandbox"
    )
    busy = (parts["busy"] or 0) / 1000
    if busy:
        # Lanes overlap inside one process, so capacity per process is the wall-clock rate
        # shared out over the processes; the split below is of the time inside batches.
        print(f"  pipeline: {rate / args.workers:,.0f} contacts/s per worker process")
        if args.workers > 1 and os.cpu_count() and args.workers >= os.cpu_count():
            print("    (the workers share the machine's CPUs: --workers 1 measures one process)")
        for name in ("claim", "build", "http", "write"):
            share = (parts[name] or 0) / 1000
            print(f"    {name:>6}: {share:7.1f} s of batch time ({share / busy:.0%})")
    per_batch = {name: seconds * 1000 / max(requests_total, 1) for name, seconds in cpu.items()}
    print(f"  CPU after boot: workers {cpu['workers']:.1f} s ({per_batch['workers']:.1f} ms a batch), "
          f"sandbox {cpu['sandbox']:.1f} s ({per_batch['sandbox']:.1f} ms a batch), "
          f"PostgreSQL {cpu['postgres']:.1f} s ({per_batch['postgres']:.1f} ms a batch); "
          f"the machine has {os.cpu_count()} CPUs x {active:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
