#!/usr/bin/env python
"""CPU of the sandbox HubSpot's search as a pull walks it: the sandbox's and PostgreSQL's, per record.

bench/pull_throughput.py runs the sandbox beside the pull on the same machine, so what the
sandbox's searches cost (in its process and in PostgreSQL) slows the pull as much as the pull's
own CPU. This serves the same searches in this process (Django's test client, no socket), over
--count seeded contacts, the way the HubSpot connector walks them: pages of 200 sorted by
lastmodifieddate, the window moved past the last record read before the 10,000-result cap.
It reports this process's CPU and its PostgreSQL backend's CPU (one connection, read from
/proc) per record: load-independent figures, for paired A/B runs on a shared machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_bench \\
        .venv/bin/python bench/pull_search_cpu.py [--count 50000] [--keep]

--keep leaves the seeded records for the next run (seeding 50,000 takes a while).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("SANDBOX_ENABLED", "true")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.dateparse import parse_datetime  # noqa: E402

from bench.pull_apply_cpu import backend_cpu  # noqa: E402
from bench.pull_throughput import seed  # noqa: E402
from integrations.connectors.hubspot.mapping import PULL_PROPERTIES  # noqa: E402
from sandbox import credentials  # noqa: E402
from sandbox.config import config_update, sandbox_reset  # noqa: E402
from sandbox.emulators.hubspot_schema import CONTACTS  # noqa: E402
from sandbox.models import SandboxRecord  # noqa: E402

PAGE = 200
CAP = 10_000


def body(since_ms: int, after: int) -> dict:
    return {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": PULL_PROPERTIES["contacts"],
        "limit": PAGE,
        "after": str(after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the seeded records")
    args = parser.parse_args()
    settings.DEBUG = False
    if db_connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a migrated PostgreSQL database.")
    held = SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type).count()
    if held != args.count:
        sandbox_reset(kind="hubspot", reset_config=True)
        print(f"Seeding {args.count:,} HubSpot contacts in the sandbox…", flush=True)
        seed(args.count)
    config_update(kind="hubspot", changes={"rate_limit_enabled": False})  # no waiting: CPU only
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {credentials.HUBSPOT_TOKEN}"}
    since_ms, after, records, searches = 0, 0, 0, 0
    backend_started, cpu_started = backend_cpu(), time.process_time()
    while True:
        response = client.post(
            "/sandbox/hubspot/crm/v3/objects/contacts/search",
            data=json.dumps(body(since_ms, after)),
            content_type="application/json",
            **auth,
        )
        searches += 1
        answer = response.json()
        results = answer.get("results") or []
        records += len(results)
        following = ((answer.get("paging") or {}).get("next") or {}).get("after")
        if not following:
            break
        after = int(following)
        if after + PAGE >= CAP:  # re-anchor the window at the last record read, as the connector does
            last = results[-1]["properties"]["lastmodifieddate"]
            since_ms = int(parse_datetime(last).timestamp() * 1000) + 1
            after = 0
    cpu = time.process_time() - cpu_started
    backend = backend_cpu() - backend_started
    print(f"{records:,} records in {searches} searches over {args.count:,} contacts:")
    print(
        f"  sandbox (this process) CPU {cpu:.2f} s = {cpu / records * 1000:.3f} ms a record; "
        f"PostgreSQL backend CPU {backend:.2f} s = {backend / records * 1000:.3f} ms a record"
    )
    print(f"  CPUs {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end")
    if not args.keep:
        sandbox_reset(kind="hubspot", reset_config=True)


if __name__ == "__main__":
    main()
