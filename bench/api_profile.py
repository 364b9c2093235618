#!/usr/bin/env python
"""Where the contacts API's time per request goes: queries and CPU per request, load-independent.

Runs --count requests of each kind (create, list page, from-event) through Django's test
client in this process, against a fresh database (a temporary SQLite file, or a new
PostgreSQL database `<name>_bench_profile` when DATABASE_URL is PostgreSQL), with the
production settings of bench/api_contacts.py (DEBUG off, commits and on_commit hooks real).
Prints, per kind: queries per request (and the statements of one), this process's CPU time
per request, and a cProfile breakdown by component (API-key authentication and usage,
throttle, idempotency, audit, signals, serializers, pagination count, middleware). The same
for the bare baseline (bench/bare) with --app bare, so the difference is the project's own
work. CPU time and query counts do not depend on what else the machine runs.

    .venv/bin/python bench/api_profile.py [--count 500] [--app project|bare] [--top 25]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm .venv/bin/python bench/api_profile.py
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.api_contacts import FreshDatabase, contact_body, server_env  # noqa: E402

# Component → functions whose cumulative time is that component's (file suffix, function name).
COMPONENTS = {
    "API-key lookup": [("accounts/authentication.py", "_key_for")],
    "API-key authentication (lookup, hash check, usage)": [("accounts/authentication.py", "authenticate")],
    "throttle": [("accounts/throttling.py", "allow_request")],
    "permission (scope)": [("accounts/permissions.py", "has_permission")],
    "idempotency": [("contacts/services/idempotency.py", "idempotent_run")],
    "input serializer": [("rest_framework/serializers.py", "is_valid")],
    "output serializer": [("rest_framework/serializers.py", "data")],
    "contact_create service": [("contacts/services/contacts.py", "contact_create")],
    "  values clean + property definitions": [("contacts/services/contacts.py", "contact_values_clean")],
    "  model full_clean": [("contacts/services/contacts.py", "_full_clean")],
    "  duplicate-email check": [("contacts/services/contacts.py", "_duplicate_email")],
    "  audit": [("accounts/services.py", "audit_record")],
    "from-event service": [("contacts/services/from_event.py", "contact_register_from_event")],
    "Django signals (model save signals, request signals, after-commit auto-sync and webhooks)": [
        ("django/dispatch/dispatcher.py", "send")
    ],
    "filters (django-filter)": [("contacts/selectors.py", "_filtered")],
    "pagination (COUNT + page)": [("rest_framework/pagination.py", "paginate_queryset")],
    "  COUNT": [("rest_framework/pagination.py", "get_count")],
    "JSON render": [("rest_framework/renderers.py", "render")],
    "DB commit": [("django/db/backends/base/base.py", "commit")],
}
MIDDLEWARE_NAMES = ("process_request", "process_response", "process_view", "__call__")


def setup(app: str, database_url: str, workdir: Path) -> None:
    env = server_env(database_url, workdir)
    if app == "bare":
        env["DJANGO_SETTINGS_MODULE"] = "bench.bare.settings"
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    if app == "bare":
        call_command("migrate", run_syncdb=True, verbosity=0)
    else:
        call_command("migrate", verbosity=0)


def make_key(app: str) -> str:
    if app == "bare":
        from bench.bare.models import Organization

        Organization.objects.create(pk=1, name="Bench")
        return "none.none"
    from accounts.services import api_key_create, organization_create

    org = organization_create(name="Bench", slug="bench")
    return api_key_create(organization=org, name="bench", scopes=["read", "write"])[1]


def requests_for(kind: str, count: int, offset: int) -> list[tuple[str, str, dict | None]]:
    if kind == "create":
        return [("post", "/api/v1/contacts/", contact_body(offset + n)) for n in range(count)]
    if kind == "list":
        path = "/api/v1/contacts/?limit=100&ordering=created_at&offset="
        return [("get", f"{path}{(n * 100) % max(100, offset)}", None) for n in range(count)]
    # from-event: one event, 30% of the emails seen before
    return [
        (
            "post",
            "/api/v1/contacts/from-event/",
            {
                "contact": {
                    "email": f"reg{(n if n % 10 >= 3 else n // 2):06d}@example.com",
                    "first_name": "R",
                },
                "event": {"external_id": "bench-event", "name": "Bench event"},
            },
        )
        for n in range(count)
    ]


def measure(client, key: str, kind: str, jobs: list, profile: cProfile.Profile | None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    queries = []
    sample = None
    statuses: dict[int, int] = {}
    cpu_started = time.process_time()
    for method, path, body in jobs:
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as ctx:
            if profile:
                profile.enable()
            if method == "post":
                response = client.post(path, json.dumps(body), content_type="application/json", **headers)
            else:
                response = client.get(path, **headers)
            if profile:
                profile.disable()
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        queries.append(len(ctx.captured_queries))
        sample = [q["sql"] for q in ctx.captured_queries]
    cpu = time.process_time() - cpu_started
    return {
        "kind": kind,
        "requests": len(jobs),
        "statuses": statuses,
        "queries": sum(queries) / len(queries),
        "cpu_ms": cpu / len(jobs) * 1000,
        "sample": sample,
    }


def component_table(stats: pstats.Stats, requests: int) -> list[tuple[str, float]]:
    rows = []
    entries = stats.stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    for label, functions in COMPONENTS.items():
        total = 0.0
        for suffix, name in functions:
            for (filename, _, function), (_, _, _, cumulative, callers) in entries.items():
                if function != name or not filename.endswith(suffix):
                    continue
                # Count only the outermost call: skip time spent under a caller of the same function.
                if any(c[2] == name and c[0].endswith(suffix) for c in callers):
                    continue
                total += cumulative
        if total:
            rows.append((label, total / requests * 1000))
    middleware = 0.0
    for (filename, _, function), (_, _, tottime, _, _) in entries.items():
        if "middleware" in filename and function in MIDDLEWARE_NAMES:
            middleware += tottime
    rows.append(("middleware (own time)", middleware / requests * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500, help="requests of each kind (default 500)")
    parser.add_argument("--app", choices=["project", "bare"], default="project")
    parser.add_argument(
        "--top", type=int, default=0, help="also print the top N functions by cumulative time"
    )
    parser.add_argument("--sql", action="store_true", help="print the statements of one request of each kind")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        suffix = "bench_profile_bare" if args.app == "bare" else "bench_profile"
        fresh = FreshDatabase(os.environ.get("DATABASE_URL"), Path(tmp), suffix=suffix)
        with fresh as database_url:
            setup(args.app, database_url, Path(tmp))
            from django.db import connections
            from django.test import Client

            key = make_key(args.app)
            client = Client(HTTP_HOST="127.0.0.1")
            kinds = ["create", "list"] if args.app == "bare" else ["create", "list", "from_event"]
            # Warm up (imports, first connection, caches), then measure without and with cProfile.
            for kind in kinds:
                measure(client, key, kind, requests_for(kind, 20, 100_000 + 20 * kinds.index(kind)), None)
            print(f"{fresh.label}, app {args.app}, {args.count} requests of each kind")
            for kind in kinds:
                plain = measure(client, key, kind, requests_for(kind, args.count, 0), None)
                # CPU time, not wall time: what a loaded machine does not change.
                profile = cProfile.Profile(time.process_time)
                profiled = measure(client, key, kind, requests_for(kind, args.count, 200_000), profile)
                stats = pstats.Stats(profile)
                print(
                    f"\n== {kind}: {plain['queries']:.1f} queries/request, "
                    f"{plain['cpu_ms']:.2f} ms CPU/request in this process "
                    f"(statuses {plain['statuses']}; profiled {profiled['statuses']})"
                )
                for label, ms in component_table(stats, profiled["requests"]):
                    print(f"   {label:55} {ms:7.3f} ms CPU/request (profiled)")
                if args.sql:
                    for sql in plain["sample"]:
                        print(f"     SQL {sql[:160]}")
                if args.top:
                    stats.sort_stats("cumulative").print_stats(args.top)
            if args.app == "project":
                from accounts.usage import api_key_usage_flush

                api_key_usage_flush()  # before the database goes, not at exit
            connections.close_all()


if __name__ == "__main__":
    main()
