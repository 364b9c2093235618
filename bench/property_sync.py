"""Benchmark: a property sync of 40 definitions with nothing to change, against the sandbox HubSpot.

Counts the HTTP calls the CRM receives (from the sandbox's request log) and times the
whole run (service call: read definitions, list call per object type, diff, record
results). The seed's target is < 5 s for a full sync; the expectation is one list call
per object type and zero writes.

    .venv/bin/python bench/property_sync.py            # print figures
    .venv/bin/python bench/property_sync.py --write    # also update docs/benchmarks.md

It runs on a throw-away SQLite file and an in-process sandbox server on a free port
(real HTTP over loopback); nothing of the project's own database is touched.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECTION = "## Property sync (bench/property_sync.py)"


def setup_django() -> None:
    tmp = tempfile.mkdtemp(prefix="bench-properties-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["SANDBOX_ENABLED"] = "1"
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import logging

    logging.getLogger("integrations").setLevel(logging.WARNING)  # one line per CRM call otherwise


def start_sandbox() -> str:
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    server = LiveServerThread("localhost", _StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    return f"http://localhost:{server.port}/sandbox/hubspot"


def definitions(organization, *, per_type: int) -> None:
    from properties.models import PropertyDefinition

    rows = []
    for object_type, group in (("contacts", "contactinformation"), ("deals", "dealinformation")):
        for index in range(per_type):
            kind = index % 4
            options = []
            if kind == 2:
                options = [
                    {"label": f"Option {n}", "value": f"option_{n}", "display_order": n, "hidden": False}
                    for n in range(5)
                ]
            rows.append(
                PropertyDefinition(
                    organization=organization,
                    object_type=object_type,
                    name=f"bench_{object_type}_{index}",
                    label=f"Bench {object_type} {index}",
                    type=("string", "number", "enumeration", "date")[kind],
                    field_type=("text", "number", "select", "date")[kind],
                    group_name=group,
                    description="Benchmark property",
                    options=options,
                )
            )
    PropertyDefinition.objects.bulk_create(rows)


def request_count(base: str) -> int:
    import requests

    log = requests.get(f"{base}/_control/requests", params={"limit": 1000}, timeout=10).json()
    entries = log["results"] if isinstance(log, dict) else log
    return max((entry["id"] for entry in entries), default=0), entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-type", type=int, default=20, help="definitions per object type (2 types)")
    parser.add_argument("--repeat", type=int, default=5, help="timed no-change runs")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    setup_django()
    import requests

    from accounts.actors import Actor
    from accounts.models import Organization
    from integrations.models import CrmConnection
    from properties.sync_requests import property_sync_now
    from sandbox import credentials

    base = start_sandbox()
    requests.post(f"{base}/_control/reset?config=1", timeout=10).raise_for_status()
    organization = Organization.objects.create(name="Bench", slug="bench")
    CrmConnection.objects.create(
        organization=organization,
        kind="hubspot",
        base_url=base,
        credentials={"access_token": credentials.HUBSPOT_TOKEN},
    )
    definitions(organization, per_type=args.per_type)
    total = 2 * args.per_type
    actor = Actor.system("bench")

    def sync_both():
        started = time.perf_counter()
        outcomes = [
            outcome
            for object_type in ("contacts", "deals")
            for outcome in property_sync_now(
                organization=organization, crm="hubspot", sync_type=object_type, actor=actor
            )
        ]
        return time.perf_counter() - started, outcomes

    first_time, first = sync_both()
    created = sum(outcome.run.created_count for outcome in first)
    first_calls = sum(outcome.run.api_calls for outcome in first)

    timings, calls, writes, skipped = [], [], [], []
    for _ in range(args.repeat):
        mark, _entries = request_count(base)
        elapsed, outcomes = sync_both()
        _last, entries = request_count(base)
        new = [entry for entry in entries if entry["id"] > mark and "/_control/" not in entry["path"]]
        timings.append(elapsed)
        calls.append(len(new))
        writes.append(sum(1 for entry in new if entry["method"] != "GET"))
        skipped.append(sum(outcome.run.skipped_count for outcome in outcomes))

    median = statistics.median(timings)
    lines = [
        SECTION,
        "",
        f"{total} property definitions (contacts {args.per_type}, deals {args.per_type})",
        "against the sandbox HubSpot over real HTTP on loopback (in-process server, SQLite). Measured "
        f"{time.strftime('%Y-%m-%d')} with `.venv/bin/python bench/property_sync.py`.",
        "",
        "| Run | HTTP calls to the CRM | writes | properties skipped | time |",
        "|---|---|---|---|---|",
        f"| first sync (creates) | {first_calls} | - | 0 ({created} created) | {first_time:.3f} s |",
        f"| nothing to change, median of {args.repeat} | {int(statistics.median(calls))} | {max(writes)} "
        f"| {int(statistics.median(skipped))} | {median:.3f} s (max {max(timings):.3f} s) |",
        "",
        f"A no-change sync made {min(calls)} to {max(calls)} calls for 2 object types (one list call each) "
        f"and {max(writes)} writes; the seed's target is < 5 s for a full sync.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section(report)


def write_section(report: str) -> None:
    """Replace (or append) only this benchmark's section of docs/benchmarks.md."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + report
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + report + ("" if end == -1 else text[end:])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"Updated {path}")


if __name__ == "__main__":
    main()
