#!/usr/bin/env python
"""Benchmark of the admin sync dashboard on PostgreSQL: the page's render time at scale.

Fills a benchmark organization with --count contacts (default 1,000,000) and one sync state per
contact in each of two connections (HubSpot and Brevo: 85 % Complete, 5 % Error across a few
messages, 5 % Queued, 5 % Selected), and 30 days of push and pull runs (one push a minute, one
pull every five), all with INSERT … SELECT generate_series; then VACUUM ANALYZE, and times the
whole dashboard page (GET /admin/dashboard/ as a superuser, through the middleware and the
template): median of 5 after a warm-up (which, like the minute's beat task, stores the status
snapshot and caches the finished days of the 30-day chart). Goal: ≤ 300 ms. It also times the
snapshot refresh itself (the beat task that counts every state once a minute).

    DATABASE_URL=postgres://postgres@127.0.0.1/bench_dashboard .venv/bin/python bench/dashboard.py

It needs a migrated PostgreSQL database and leaves the organization in it (a freshly created
and migrated database per run is quickest). Nothing here is asserted by the test suite;
docs/benchmarks.md records the figures.
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

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Organization  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402

SLUG = "bench-dashboard"
ERRORS = [
    ("validation", "Property values were not valid: phone", 422),
    ("validation", "Email address is invalid", 400),
    ("conflict", "Contact already exists", 409),
    ("unavailable", "HubSpot answered 503", 503),
    ("auth", "Authentication credentials not found", 401),
]


def fill_contacts(organization: Organization, count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contact (id, organization_id, email, first_name, last_name, phone, company,
                job_title, subtype, status, source, tags, notes, custom_properties, created_at, updated_at,
                created_by_type, created_by_label)
            SELECT md5(%s || g::text)::uuid, %s, 'person' || g || '@bench.example.com',
                   'First' || g, 'Last' || g, '', 'Company ' || (g %% 1000), '', 'lead', 'active', 'api',
                   '[]'::jsonb, '', '{}'::jsonb, now() - (g || ' seconds')::interval,
                   now() - (g || ' seconds')::interval, 'system', 'bench'
            FROM generate_series(1, %s) AS g
            """,
            [SLUG, organization.pk, count],
        )


def fill_states(organization: Organization, connection_id: int) -> None:
    """One state per contact: g % 20 picks the status (17 Complete, 1 Error, 1 Queued, 1 Selected)."""
    cases = " ".join(
        f"WHEN (g / 20) %% {len(ERRORS)} = {i} THEN '{text}'" for i, (_, text, _) in enumerate(ERRORS)
    )
    categories = " ".join(
        f"WHEN (g / 20) %% {len(ERRORS)} = {i} THEN '{category}'" for i, (category, _, _) in enumerate(ERRORS)
    )
    statuses = " ".join(
        f"WHEN (g / 20) %% {len(ERRORS)} = {i} THEN {status}" for i, (_, _, status) in enumerate(ERRORS)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO crm_sync_contactsyncstate (contact_id, connection_id, sync_status, processing_status,
                priority, remote_id, error, error_category, http_status, skip_reason, retry_count,
                last_retry_at, last_synced_at, pushed_hash, queued_at, due_at, requeue_requested,
                base_values, remote_archived, merged_into_remote_id, created_at, updated_at)
            SELECT md5(%s || g::text)::uuid, %s,
                   CASE WHEN g %% 20 = 0 THEN 'Error' WHEN g %% 20 = 1 THEN 'Queued'
                        WHEN g %% 20 = 2 THEN 'Selected' ELSE 'Complete' END,
                   CASE WHEN g %% 20 = 0 THEN 'Error' WHEN g %% 20 = 1 THEN 'Queued'
                        WHEN g %% 20 = 2 THEN NULL ELSE 'Complete' END,
                   0, '', CASE WHEN g %% 20 = 0 THEN CASE {cases} END ELSE '' END,
                   CASE WHEN g %% 20 = 0 THEN CASE {categories} END ELSE '' END,
                   CASE WHEN g %% 20 = 0 THEN CASE {statuses} END END, '',
                   CASE WHEN g %% 20 = 0 THEN 3 ELSE 0 END,
                   CASE WHEN g %% 20 = 0 THEN now() - (g || ' seconds')::interval END,
                   CASE WHEN g %% 20 > 2 THEN now() - (g || ' seconds')::interval END, '',
                   now(), CASE WHEN g %% 20 = 1 THEN now() END, false, '{{}}'::jsonb, false, '', now(), now()
            FROM generate_series(1, (SELECT count(*) FROM contacts_contact WHERE organization_id = %s)) AS g
            """,
            [SLUG, connection_id, organization.pk],
        )


def fill_runs(connection_id: int) -> None:
    """30 days of history: a push batch of 100 every minute, a pull every five minutes."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO crm_sync_syncrun (connection_id, direction, object_type, outcome, worker, claimed,
                succeeded, failed, retried, skipped, unchanged, rate_limited, released, backfill, fetched,
                created, updated, archived, conflicts, error_count, pages, calls, http_429s, cursor_before,
                cursor_after, claim_ms, build_ms, http_ms, write_ms, duration_ms, errors, started_at,
                finished_at)
            SELECT %s, CASE WHEN g %% 5 = 0 THEN 'pull' ELSE 'push' END,
                   CASE WHEN g %% 5 = 0 THEN 'contacts' ELSE '' END, 'success', 'bench', 100,
                   CASE WHEN g %% 5 = 0 THEN 0 ELSE 97 END, CASE WHEN g %% 5 = 0 THEN 0 ELSE 3 END,
                   0, 0, 0, 0, 0, false,
                   CASE WHEN g %% 5 = 0 THEN 40 ELSE 0 END, 0, 0, 0, 0,
                   0, 1, 1, 0, '', '', 1, 1, 500, 5, 520, '[]'::jsonb,
                   now() - (g || ' minutes')::interval,
                   now() - (g || ' minutes')::interval + interval '1 second'
            FROM generate_series(1, 30 * 24 * 60) AS g
            """,
            [connection_id],
        )


def panels_time(*, repeat: int) -> None:
    """Each panel's reads alone (the functions the page calls), median of `repeat`: budget 100 ms."""
    from django.utils import timezone

    from crm_sync import dashboard
    from crm_sync.dashboard_views import visible_connections

    connections = list(visible_connections(get_user_model()(is_superuser=True)))
    now = timezone.now()
    panels = {
        "connection panels (statuses, queue, runs)": lambda: dashboard.connection_panels(
            connections=connections, now=now
        ),
        "per hour over 24 hours": lambda: dashboard.activity_series(connections=connections, now=now),
        "per day over 30 days": lambda: dashboard.activity_series(
            connections=connections, now=now, days=True
        ),
        "failure groups": lambda: dashboard.failure_groups(connections=connections),
    }
    for name, read in panels.items():
        read()  # warm-up, as the page's
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            read()
            timings.append(time.perf_counter() - started)
        print(
            f"  panel {name}: {statistics.median(timings) * 1000:.1f} ms median of {repeat} (budget 100 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the organization an earlier run filled (its --count) instead of filling again",
    )
    parser.add_argument("--repeat", type=int, default=5, help="page requests measured (default 5)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a migrated PostgreSQL database.")

    organization = Organization.objects.filter(slug=SLUG).first() if args.reuse else None
    if organization is not None:
        args.count = organization.contacts.count()
        print(f"reusing {args.count:,} contacts × 2 connections", flush=True)
    else:
        Organization.objects.filter(slug=SLUG).delete()
        organization = Organization.objects.create(name="Bench dashboard", slug=SLUG)
        started = time.perf_counter()
        fill_contacts(organization, args.count)
        for kind in ("hubspot", "brevo"):
            conn = CrmConnection.objects.create(
                organization=organization,
                kind=kind,
                name="bench",
                credentials={"api_key": "bench"},
                enabled=True,
            )
            fill_states(organization, conn.pk)
            fill_runs(conn.pk)
        with connection.cursor() as cursor:
            for table in ("contacts_contact", "crm_sync_contactsyncstate", "crm_sync_syncrun"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(
            f"filled {args.count:,} contacts × 2 connections in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    user, _ = get_user_model().objects.get_or_create(
        username="bench-dashboard", defaults={"is_staff": True, "is_superuser": True}
    )
    from crm_sync.tasks import dashboard_snapshot_refresh

    started = time.perf_counter()
    dashboard_snapshot_refresh()
    print(f"snapshot refresh (the beat task counting every state): {time.perf_counter() - started:.2f} s")
    client = Client()
    client.force_login(user)
    response = client.get("/admin/dashboard/")
    assert response.status_code == 200, response.status_code
    timings, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get("/admin/dashboard/")
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    print(
        f"dashboard page: {statistics.median(timings) * 1000:.0f} ms median of {args.repeat} "
        f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}) over "
        f"{2 * args.count:,} sync states and {2 * 30 * 24 * 60:,} runs (goal ≤ 300 ms); "
        f"the web process's CPU {statistics.median(cpu) * 1000:.0f} ms median"
    )
    panels_time(repeat=args.repeat)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"postgres {connection.pg_version}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
