#!/usr/bin/env python
"""Benchmark of unified search (GET /api/v1/integrations/search) on PostgreSQL.

Fills a benchmark organization with --count records (default 1,000,000) spread evenly over
its local contacts and three sources (HubSpot, Brivity, TopProducer; each source 80% contacts,
20% deals), all bulk-loaded with INSERT … SELECT generate_series, the search text computed in
the same statement. Names are skewed like real ones (a few first and last names are common),
1% of people carry one of 400 rare surnames. Then times 200 mixed queries through the same
functions the view calls (sources, local contacts, every source's records, 20 per source):
common names, rare names, email fragments, 2-character prefixes; prints p50/p95/p99 per kind
and overall (goal: p95 ≤ 50 ms), the CPU time each search cost (this process plus its
PostgreSQL backend, when the server runs on this machine: what a loaded machine does not
inflate), the number of SQL statements, and the load average.

    DATABASE_URL=postgres://postgres@127.0.0.1/crm_bench .venv/bin/python bench/search.py [--count N] [--keep]

It needs a migrated PostgreSQL database and replaces the benchmark organization in it. Nothing
here is asserted by the test suite; docs/benchmarks.md records the figures.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Organization  # noqa: E402
from contacts.demo import LAST_NAMES  # noqa: E402
from core.searchtext import search_fold  # noqa: E402
from crm_sync.search import search_run, search_validate  # noqa: E402
from crm_sync.sources import sources_list  # noqa: E402
from integrations.models import CrmConnection  # noqa: E402

SLUG = "bench-search"
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Dorothy",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "José",
    "María",
    "Zoë",
    "Renée",
    "Chloé",
    "André",
    "Noël",
    "Inés",
    "Jürgen",
    "Inès",
]
# The demo's 50 most common surnames in its order (the skew), plus accented ones to exercise folding.
LAST = [*LAST_NAMES[:50], "Müller", "Núñez", "Ibáñez", "Lefèvre", "Dupré", "O'Brien"]
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "example.com",
    "acme.io",
    "realty.co",
]
COMPANIES = [
    f"{w} {s}"
    for w in ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay"]
    for s in ("Realty", "Homes", "Group", "Partners", "LLC")
]
STREETS = [
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Birch",
    "Walnut",
    "Cherry",
    "Willow",
    "Spruce",
    "Main",
    "Park",
    "Lake",
    "Hill",
    "River",
]
STAGES = [
    "appointment",
    "qualified",
    "contract sent",
    "closed won",
    "closed lost",
    "listing",
    "under contract",
]
SYLLABLES = [
    "qua",
    "zor",
    "vex",
    "lin",
    "mar",
    "tho",
    "bel",
    "kri",
    "dun",
    "fas",
    "gol",
    "hep",
    "jin",
    "kot",
    "lum",
    "nev",
    "pry",
    "sul",
    "tav",
    "wim",
]


def rare_surnames(n: int = 400) -> list[str]:
    rng = random.Random(7)
    names = set()
    while len(names) < n:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(3)).title())
    return sorted(names)


RARE = rare_surnames()


def _array(values) -> list[str]:
    return list(values)


PERSON = """
    WITH g AS (
        SELECT g,
               (%(first)s::text[])[1 + floor(power(random(), 2.5) * %(nfirst)s)::int] AS first,
               CASE WHEN random() < 0.01
                    THEN (%(rare)s::text[])[1 + floor(random() * %(nrare)s)::int]
                    ELSE (%(last)s::text[])[1 + floor(power(random(), 2.5) * %(nlast)s)::int] END AS last,
               (%(domains)s::text[])[1 + (g %% %(ndomains)s)] AS domain,
               (%(companies)s::text[])[1 + (g %% %(ncompanies)s)] AS company,
               '555-' || lpad((g %% 10000)::text, 4, '0') AS phone
        FROM generate_series(1, %(count)s) AS g
    )
"""


def _fold_sql(expression: str) -> str:
    # The data's accented letters, folded as core/searchtext.py folds them (checked below).
    return (
        f"trim(regexp_replace(lower(translate({expression}, 'éáíóúñüöøëèàçÉÁÍÓÚÑÜÖØËÈÀÇ''', "
        "'eaiounuooeeacEAIOUNUOOEEAC ')), '[^a-z0-9]+', ' ', 'g'))"
    )


def params(count: int) -> dict:
    return {
        "first": _array(FIRST), "nfirst": len(FIRST), "last": _array(LAST), "nlast": len(LAST),
        "rare": RARE, "nrare": len(RARE), "domains": DOMAINS, "ndomains": len(DOMAINS),
        "companies": COMPANIES, "ncompanies": len(COMPANIES), "count": count,
    }  # fmt: skip


def email_sql() -> str:
    return f"{_fold_sql('first')} || '.' || {_fold_sql('last')} || g || '@' || domain"


def fill_local(organization: Organization, count: int) -> None:
    email = email_sql()
    search = (
        f"{_fold_sql('first')} || ' ' || {_fold_sql('last')} || ' ' || {_fold_sql(email)} || ' ' "
        f"|| {_fold_sql('phone')} || ' ' || {_fold_sql('company')}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.1)")
        cursor.execute(
            PERSON
            + f"""
            INSERT INTO contacts_contact (id, organization_id, email, first_name, last_name, phone, company,
                job_title, subtype, status, source, tags, notes, custom_properties, created_at, updated_at,
                created_by_type, created_by_label, search_text)
            SELECT md5('{SLUG}' || g::text)::uuid, %(org)s, replace({email}, ' ', ''), first, last, phone,
                   company, '', 'lead', 'active', 'api', '[]'::jsonb, '', '{{}}'::jsonb,
                   now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
                   'system', 'bench',
                   {search}
            FROM g
            """,  # noqa: S608 - fixed SQL
            {**params(count), "org": organization.pk},
        )


def fill_source(connection_row: CrmConnection, count: int, deal_type: str) -> None:
    contacts, deals = count * 4 // 5, count - count * 4 // 5
    email = email_sql()
    search = (
        f"{_fold_sql('first')} || ' ' || {_fold_sql('last')} || ' ' || {_fold_sql(email)} || ' ' "
        f"|| {_fold_sql('phone')} || ' ' || {_fold_sql('company')}"
    )
    common = {"org": connection_row.organization_id, "conn": connection_row.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            PERSON
            + f"""
            INSERT INTO crm_sync_remoterecord (organization_id, connection_id, object_type, remote_id,
                fields, raw,
                email, display_name, remote_updated_at, fetched_at, archived, merged_into_remote_id,
                contact_remote_id, created_at, updated_at, search_text)
            SELECT %(org)s, %(conn)s, 'contacts', 'c' || g,
                   jsonb_build_object('first_name', first, 'last_name', last, 'phone', phone,
                                      'company', company),
                   '{{}}'::jsonb, replace({email}, ' ', ''), first || ' ' || last,
                   now() - (g || ' seconds')::interval, now(), false, '', '', now(), now(), {search}
            FROM g
            """,  # noqa: S608 - fixed SQL
            {**params(contacts), **common},
        )
        cursor.execute(
            f"""
            WITH g AS (
                SELECT g, (%(streets)s::text[])[1 + (g %% %(nstreets)s)] AS street,
                       (%(stages)s::text[])[1 + (g %% %(nstages)s)] AS stage
                FROM generate_series(1, %(count)s) AS g
            )
            INSERT INTO crm_sync_remoterecord (organization_id, connection_id, object_type, remote_id,
                fields, raw,
                email, display_name, remote_updated_at, fetched_at, archived, merged_into_remote_id,
                contact_remote_id, created_at, updated_at, search_text)
            SELECT %(org)s, %(conn)s, %(type)s, 'd' || g,
                   jsonb_build_object('name', street || ' listing ' || g, 'stage', stage,
                                      'address', (g %% 999) || ' ' || street || ' St'),
                   '{{}}'::jsonb, '', street || ' listing ' || g, now() - (g || ' seconds')::interval, now(),
                   false, '', '', now(), now(),
                   lower(street) || ' listing ' || g || ' ' || {_fold_sql('stage')} || ' '
                   || (g %% 999) || ' '
                   || lower(street) || ' st'
            FROM g
            """,  # noqa: S608 - fixed SQL
            {
                **common, "streets": STREETS, "nstreets": len(STREETS), "stages": STAGES,
                "nstages": len(STAGES), "count": deals, "type": deal_type,
            },
        )  # fmt: skip


def queries(rng: random.Random) -> list[tuple[str, str, str]]:
    """200 (kind, query, type): common names, rare names, email fragments, 2-character prefixes."""
    common = [rng.choice(FIRST[:15]) for _ in range(25)] + [rng.choice(LAST[:15]) for _ in range(15)]
    common += [f"{rng.choice(FIRST[:10])} {rng.choice(LAST[:10])}" for _ in range(10)]
    rare = [rng.choice(RARE) for _ in range(40)] + [rng.choice(RARE)[:4] for _ in range(10)]
    emails = [rng.choice(DOMAINS).split(".")[0] for _ in range(15)]
    emails += [
        f"{search_fold(rng.choice(FIRST[:20]))}.{search_fold(rng.choice(LAST[:20]))[:3]}" for _ in range(25)
    ]
    emails += [f"{search_fold(rng.choice(LAST))}{rng.randrange(1, 9999)}" for _ in range(10)]
    two = [
        rng.choice(["jo", "ma", "sm", "an", "da", "ch", "ro", "li", "ka", "mi", "55", "gm"])
        for _ in range(40)
    ]
    deals = [rng.choice([s.lower() for s in STREETS]) for _ in range(5)] + [
        rng.choice(STAGES) for _ in range(5)
    ]
    mixed = [("common", q, "contact") for q in common] + [("rare", q, "contact") for q in rare]
    mixed += [("email", q, "contact") for q in emails] + [("2-char", q, "contact") for q in two]
    mixed += [("deal", q, "deal") for q in deals]
    rng.shuffle(mixed)
    return mixed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="records in all (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="reuse the organization already filled")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a migrated PostgreSQL database.")
    for name in FIRST + LAST:  # the SQL fold above must agree with core/searchtext.py
        assert search_fold(name) == (
            name.lower()
            .translate(str.maketrans("éáíóúñüöøëèàç'", "eaiounuooeeac "))
            .strip()
            .replace("  ", " ")
        ), name
    organization = Organization.objects.filter(slug=SLUG).first()
    if not args.keep or organization is None:
        if organization is not None:
            with connection.cursor() as cursor:
                for table in ("crm_sync_remoterecord", "contacts_contact"):
                    cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])  # noqa: S608
            organization.delete()
        organization = Organization.objects.create(name="Bench search", slug=SLUG)
        per_part = args.count // 4
        started = time.perf_counter()
        print(f"filling {args.count:,} records (4 × {per_part:,})…", flush=True)
        fill_local(organization, per_part)
        for kind, deal_type in (("hubspot", "deals"), ("brivity", "deals"), ("topproducer", "transactions")):
            row = CrmConnection.objects.create(
                organization=organization, kind=kind, name=f"bench {kind}", credentials={"api_key": "bench"},
                enabled=True, base_url="https://bench.invalid",
            )  # fmt: skip
            fill_source(row, per_part, deal_type)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE contacts_contact")
            cursor.execute("VACUUM ANALYZE crm_sync_remoterecord")
        print(f"  filled, indexed and analyzed in {time.perf_counter() - started:.1f} s", flush=True)

    mixed = queries(random.Random(42))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = Path(f"/proc/{cursor.fetchone()[0]}/schedstat")
    if not backend.exists():
        backend = None  # PostgreSQL on another host: CPU columns left out
    load_before = os.getloadavg()
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    statements: dict[str, list[int]] = {}
    found = []
    for kind, query, type_ in [*mixed[:10], *mixed]:  # the first 10 warm the caches, then all 200 count
        cpu_started, backend_started = time.process_time(), _cpu_seconds(backend)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            sources = sources_list(organization=organization)
            query, type_, terms = search_validate(query=query, type_=type_)
            page = search_run(
                organization=organization,
                sources=sources,
                query=query,
                type_=type_,
                terms=terms,
                limit=20,
                offset=0,
            )
        timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        spent = time.process_time() - cpu_started + _cpu_seconds(backend) - backend_started
        cpu.setdefault(kind, []).append(spent * 1000)
        statements.setdefault(kind, []).append(len(captured.captured_queries))
        found.append(page.total)
    for values in (timings, cpu, statements):
        for kind in values:
            values[kind] = values[kind][-sum(1 for k, _, _ in mixed if k == kind) :]
    print(
        f"{sum(len(v) for v in timings.values())} queries, {statistics.mean(found[10:]):.0f} results on "
        "average (20 per source at most)"
    )
    cpu_head = "".join(f" {h:>8}" for h in ("CPU p50", "CPU p95", "CPU p99")) if backend else ""
    print(f"{'kind':8} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}{cpu_head}  queries")
    for kind in [*sorted(timings), "all"]:
        wall = timings.get(kind) or [t for values in timings.values() for t in values]
        spent = cpu.get(kind) or [t for values in cpu.values() for t in values]
        counts = statements.get(kind) or [n for values in statements.values() for n in values]
        row = f"{kind:8} {len(wall):4d} " + " ".join(f"{percentile(wall, p):8.1f}" for p in (50, 95, 99))
        if backend:
            row += " " + " ".join(f"{percentile(spent, p):8.1f}" for p in (50, 95, 99))
        print(f"{row}  {min(counts)}-{max(counts)}")
    load_after = os.getloadavg()
    print(
        f"postgres {connection.pg_version}, {os.cpu_count()} CPUs, load average (1 min) "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    if backend:
        print("CPU: this process plus its PostgreSQL backend (parallel workers, if any, not counted)")


def _cpu_seconds(schedstat: Path | None) -> float:
    """CPU time of the PostgreSQL backend so far (its /proc schedstat, nanoseconds on CPU)."""
    return int(schedstat.read_text().split()[0]) / 1e9 if schedstat else 0.0


if __name__ == "__main__":
    main()
