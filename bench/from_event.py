#!/usr/bin/env python
"""Event registrations under concurrency: POST /api/v1/contacts/from-event/ over real HTTP.

--count registrations (default 10,000) for one event, from --concurrency keep-alive clients
(default 8), --repeat of them (default 30%) repeating an email registered before, against the
project served as bench/api_contacts.py serves it (gunicorn 2×4 gthread, a fresh database:
SQLite, or PostgreSQL when DATABASE_URL is one). The event does not exist beforehand: the
first requests race to create it by its external_id. Repeats are interleaved, so a repeat can
race the first registration of its email.

Afterwards it checks the database: one event, one contact per distinct email, one
registration per contact, and counts responses by status (any 5xx, or a missing or doubled
row, fails the run). It prints requests/s and p50/p99, and, unless --no-baseline, the ratio
to the bare DRF app's create rate (bench/bare) measured in the same run with the same clients.

    .venv/bin/python bench/from_event.py [--count 10000] [--concurrency 8] [--repeat 0.3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm .venv/bin/python bench/from_event.py

Nothing here is asserted by the test suite; the numbers depend on the machine.
"""

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.api_contacts import (  # noqa: E402
    DOCS,
    App,
    FreshDatabase,
    contact_body,
    drive,
    latency_figures,
    manage,
    start_server,
)
from bench.ports import free_port  # noqa: E402

SECTION = "## Event registrations under concurrency (bench/from_event.py)"
EVENT = {"external_id": "bench-event-1", "name": "Bench event"}

CHECK = """
from django.db.models import Count
from contacts.models import Contact, Event, Registration
print("events", Event.objects.filter(external_id="bench-event-1").count())
print("contacts", Contact.objects.count())
print("distinct_emails", Contact.objects.values("email").distinct().count())
print("registrations", Registration.objects.count())
pairs = Registration.objects.values("event", "contact").annotate(n=Count("id"))
print("doubled", pairs.filter(n__gt=1).count())
print("unregistered", Contact.objects.filter(registrations__isnull=True).count())
"""


def registrations(count: int, repeat: float, seed: int = 18) -> tuple[list[dict], int]:
    """`count` bodies, a `repeat` share of them an email used earlier in the list."""
    rng = random.Random(seed)
    bodies, emails = [], []
    for n in range(count):
        if emails and rng.random() < repeat:
            email = rng.choice(emails[-200:])  # recent ones: likely still in flight elsewhere
        else:
            email = f"attendee{n:06d}@example.com"
            emails.append(email)
        bodies.append(
            {
                "contact": {"email": email, "first_name": f"A{n}", "company": f"Co {n % 50}"},
                "event": EVENT,
                "registration": {"source": "bench"},
            }
        )
    return bodies, len(emails)


def run(port: int, key: str, jobs: list, concurrency: int) -> dict:
    answers, elapsed, _ = drive(jobs, port, key, concurrency)
    statuses: dict[int, int] = {}
    samples: dict[int, bytes] = {}
    for status, _, data in answers:
        statuses[status] = statuses.get(status, 0) + 1
        if status not in (200, 201):
            samples.setdefault(status, data[:300])
    return {
        **latency_figures(answers, elapsed),
        "statuses": dict(sorted(statuses.items())),
        "samples": samples,
    }


def serve(app: App, args, workdir: Path, jobs_for) -> tuple[str, dict, dict, dict]:
    fresh = FreshDatabase(
        os.environ.get("DATABASE_URL"), workdir, suffix="bench_bare_fe" if app.bare else "bench_from_event"
    )
    with fresh as database_url:
        env = app.env(database_url, workdir)
        print(f"{fresh.label} / {app.name}: migrating a fresh database…", flush=True)
        key = app.prepare(env)
        port = free_port()
        server = start_server("gunicorn", env, port, args.workers, args.threads, wsgi=app.wsgi)
        try:
            result = run(port, key, jobs_for(app), args.concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
        check = {}
        if not app.bare:
            for line in manage(env, "shell", "-c", CHECK).strip().splitlines():
                name, _, value = line.partition(" ")
                if value.isdigit():
                    check[name] = int(value)
    return fresh.label, result, check, env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=float, default=0.3, help="share of repeated emails (default 0.3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare create baseline")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    bodies, distinct = registrations(args.count, args.repeat)

    def jobs_for(app: App) -> list:
        if app.bare:
            return [("POST", "/api/v1/contacts/", contact_body(n)) for n in range(args.count)]
        return [("POST", "/api/v1/contacts/from-event/", body) for body in bodies]

    with tempfile.TemporaryDirectory(prefix="bench-from-event-") as tmp:
        bare = None
        if not args.no_baseline:
            (Path(tmp) / "bare").mkdir()
            _, bare, _, _ = serve(App("bare"), args, Path(tmp) / "bare", jobs_for)
        (Path(tmp) / "project").mkdir()
        label, result, check, _ = serve(App("project"), args, Path(tmp) / "project", jobs_for)

    expected = {
        "events": 1,
        "contacts": distinct,
        "distinct_emails": distinct,
        "registrations": distinct,
        "doubled": 0,
        "unregistered": 0,
    }
    errors = {status: n for status, n in result["statuses"].items() if status not in (200, 201)}
    wrong = {name: (check.get(name), want) for name, want in expected.items() if check.get(name) != want}
    ratio = f"{result['rps'] / bare['rps']:.0%}" if bare else "-"
    print(
        f"{label}: {result['requests']} registrations ({distinct} distinct emails, "
        f"{args.concurrency} clients) "
        f"in {result['seconds']:.1f} s: {result['rps']:.1f} req/s, p50 {result['p50']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms; statuses {result['statuses']}"
    )
    if bare:
        print(f"bare create baseline: {bare['rps']:.1f} req/s (p99 {bare['p99']:.1f} ms); ratio {ratio}")
    print(f"database: {check}")
    for status, sample in result["samples"].items():
        print(f"  first {status}: {sample!r}")
    ok = not wrong and not any(status >= 500 for status in result["statuses"])
    if not args.no_docs:
        docs_update(label, args, result, bare, check, distinct, ratio, ok)
        print(f"Updated {DOCS.relative_to(ROOT)}")
    if not ok:
        sys.exit(f"FAILED: database {wrong}, error responses {errors}")


def docs_update(label, args, result, bare, check, distinct, ratio, ok) -> None:
    """Replace this database's row in our section of docs/benchmarks.md; leave the rest alone."""
    from datetime import UTC, datetime

    text = DOCS.read_text()
    start = text.find(SECTION)
    head = (
        "| Database | Registrations | Distinct emails | Clients | req/s | p50 ms | p99 ms | of bare create "
        "| Statuses | Rows right | Measured |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n"
    )
    if start == -1:
        before, old, after = text.rstrip("\n") + "\n\n", "", ""
    else:
        end = text.find("\n## ", start + len(SECTION))
        end = len(text) if end == -1 else end + 1
        before, old, after = text[:start], text[start:end], text[end:]
    kept = [
        line
        for line in old.splitlines()
        if line.startswith("| ")
        and line.split("|")[1].strip() in ("SQLite", "PostgreSQL")
        and not line.startswith(f"| {label} |")
    ]
    statuses = ", ".join(f"{status}: {n}" for status, n in result["statuses"].items())
    rows_right = "yes" if ok else f"NO: {check}"
    row = (
        f"| {label} | {result['requests']} | {distinct} | {args.concurrency} | {result['rps']:.0f} | "
        f"{result['p50']:.1f} | {result['p99']:.1f} | {ratio} | {statuses} | {rows_right} | "
        f"{datetime.now(UTC):%Y-%m-%d} |"
    )
    section = (
        f"{SECTION}\n\n"
        f"POST /api/v1/contacts/from-event/ over keep-alive HTTP: registrations for one event (created by "
        f"the first requests, racing on its external_id), {args.repeat:.0%} of them repeating an earlier "
        f"email, from {args.concurrency} clients against gunicorn {args.workers}×{args.threads} gthread on a "
        "fresh database. Afterwards the database must hold one event, one contact and one registration per "
        'distinct email, and no response may be a 5xx. "of bare create" is the rate over the bare DRF '
        "app's (bench/bare) create rate in the same run. Re-run: `.venv/bin/python bench/from_event.py` "
        "(SQLite) and with `DATABASE_URL=postgres://…` (PostgreSQL).\n\n"
        + head
        + "\n".join(sorted(kept + [row]))
        + "\n"
    )
    DOCS.write_text(before + section + ("\n" + after if after else ""))


if __name__ == "__main__":
    main()
