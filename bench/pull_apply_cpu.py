#!/usr/bin/env python
"""CPU of applying pulled pages: records per CPU-second of the pull process, no HTTP, no sandbox.

What bench/pull_throughput.py's pull process spends besides reading pages: HubSpot search
results (the sandbox's shape, through the connector's own record_from_object) applied 200 at
a time by the pull service's page commit (page_apply_contacts, the cursor and the run saved in
the page's transaction). Load-independent: it reports this process's CPU (user + system) per
record and the queries per page, not a wall-clock rate, so it can be compared A/B on a shared
machine. Three passes over the same --count contacts:
  1. new: none exists locally (a backfill);
  2. unchanged: the same records again (a re-pull of what is already there);
  3. updated: every one edited in the CRM (an incremental pull's pages hold edited records).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_bench \\
        .venv/bin/python bench/pull_apply_cpu.py [--count 10000] [--profile new|unchanged|updated]

--profile prints a cProfile of that pass (top functions by cumulative time). Works on SQLite too
(without DATABASE_URL), where the set-based statements fall back to Django's bulk methods.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.db import reset_queries  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.actors import Actor  # noqa: E402
from accounts.models import Organization  # noqa: E402
from crm_sync.models import PullCursor, SyncRun  # noqa: E402
from crm_sync.services.pull import _page_commit, _run_start  # noqa: E402
from crm_sync.services.pull_apply import PullContext  # noqa: E402
from integrations.connectors.base import Page  # noqa: E402
from integrations.connectors.hubspot import mapping  # noqa: E402
from integrations.http import call_metering  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402

SLUG = "bench-pull-apply"
PAGE = 200
START = datetime(2026, 1, 1, tzinfo=UTC)


def iso_ms(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def hs_object(n: int, *, edited: bool, stamp: datetime) -> dict:
    """A search result as the sandbox HubSpot renders it (every value a string)."""
    return {
        "id": str(100_000 + n),
        "properties": {
            "email": f"bench{n}@pull.example.com",
            "firstname": f"First{n}",
            "lastname": "Bench",
            "phone": None,
            "company": "Edited in the CRM" if edited else f"Co {n % 500}",
            "jobtitle": None,
            "lastmodifieddate": iso_ms(stamp),
            "createdate": iso_ms(START),
            "hs_merged_object_ids": None,
        },
        "createdAt": iso_ms(START),
        "updatedAt": iso_ms(stamp),
        "archived": False,
    }


def pages(count: int, *, edited: set[int], shift: timedelta, mapping_: dict) -> list[Page]:
    out = []
    for start in range(0, count, PAGE):
        records = [
            mapping.record_from_object(
                hs_object(n, edited=n in edited, stamp=START + timedelta(seconds=n) + shift),
                object_type="contacts",
                field_mapping=mapping_,
            )
            for n in range(start, min(start + PAGE, count))
        ]
        out.append(Page(records=records, next_cursor=str(start + PAGE) if start + PAGE < count else None))
    return out


def backend_cpu() -> float:
    """CPU (user + system) of this process's PostgreSQL backend so far; 0 elsewhere or off Linux."""
    if db_connection.vendor != "postgresql":
        return 0.0
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def run_pass(connection, label: str, page_list: list[Page], profile: bool) -> None:
    run = _run_start(connection=connection, object_type="contacts", backfill=False, worker="bench")
    cursor = PullCursor.objects.get(connection=connection, object_type="contacts")
    ctx = PullContext(
        connection=connection,
        object_type="contacts",
        field_mapping=dict(connection.field_mapping or mapping.DEFAULT_FIELD_MAPPING),
        definitions={},
        now=timezone.now(),
        actor=Actor.system("bench"),
    )
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
    settings.DEBUG = True  # count the queries of each page (reset after every page)
    queries: list[int] = []
    records = sum(len(p.records) for p in page_list)
    with call_metering() as meter:
        backend_started = backend_cpu()
        cpu_started = time.process_time()
        for page in page_list:
            reset_queries()
            if profiler:
                profiler.enable()
            _page_commit(run=run, cursor=cursor, page=page, ctx=ctx, meter=meter, pass_started=timezone.now())
            if profiler:
                profiler.disable()
            queries.append(len(db_connection.queries))
        cpu = time.process_time() - cpu_started
        backend = backend_cpu() - backend_started
    settings.DEBUG = False
    run.outcome = SyncRun.Outcome.SUCCESS
    run.save(update_fields=["outcome"])
    print(
        f"  {label:<10} {records:>7,} records in {len(page_list)} pages: CPU {cpu:6.2f} s = "
        f"{cpu / records * 1000:.3f} ms a record, {records / cpu:,.0f} records per CPU-second; "
        f"queries a page {min(queries)}-{max(queries)} "
        f"(created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"errors {run.error_count})",
        flush=True,
    )
    if backend:
        print(
            f"  {'':<10} PostgreSQL backend CPU {backend:.2f} s = {backend / records * 1000:.3f} ms a record"
        )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--profile", choices=("new", "unchanged", "updated"), default=None)
    args = parser.parse_args()
    settings.DEBUG = False

    Organization.objects.filter(slug=SLUG).delete()
    organization = Organization.objects.create(name="Bench pull apply", slug=SLUG)
    connection = CrmConnection.objects.create(
        organization=organization,
        kind="hubspot",
        name="bench",
        base_url="https://api.hubapi.com",
        credentials={"access_token": "bench-not-used"},
        sync_direction="pull",
    )
    field_mapping = dict(connection.field_mapping or mapping.DEFAULT_FIELD_MAPPING)
    print(f"{args.count:,} HubSpot contacts applied in pages of {PAGE} ({db_connection.vendor}):")
    try:
        for label, edits, shift in (
            ("new", set(), timedelta(0)),
            ("unchanged", set(), timedelta(0)),
            ("updated", set(range(args.count)), timedelta(days=1)),
        ):
            page_list = pages(args.count, edited=edits, shift=shift, mapping_=field_mapping)
            run_pass(connection, label, page_list, args.profile == label)
    finally:
        Organization.objects.filter(slug=SLUG).delete()
    print(f"  CPUs {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
