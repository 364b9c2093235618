"""Chaos: 2,000 contacts pushed by real worker processes through a faulty HubSpot sandbox.

Three Celery worker processes (Redis broker, shared Redis rate limiter) on the test's
PostgreSQL database push to the standalone sandbox, which answers 10% of requests with a
500, bursts 429s and hangs past the client's read timeout. One worker is killed with
SIGKILL while it holds a claimed batch. This process plays beat: it dispatches and reaps.
At the end every contact is Complete, each is in the sandbox exactly once, nothing is
stuck in Processing and nothing is lost.

Run: DATABASE_URL=postgres://… CELERY_BROKER_URL=redis://127.0.0.1:6379/9 pytest tests/e2e -m slow
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection as db_connection
from django.db.models import Count

from crm_sync.models import ContactSyncState, ProcessingStatus, SyncRun, SyncStatus
from crm_sync.queue import reap_stale
from crm_sync.services.dispatch import pushes_dispatch_due
from sandbox import credentials as sandbox_credentials
from sandbox.config import config_update
from sandbox.emulators.hubspot_schema import CONTACTS
from sandbox.models import SandboxRecord
from tests.conftest import redis_url
from tests.contacts.factories import ContactFactory
from tests.integrations.factories import CrmConnectionFactory

ROOT = Path(__file__).resolve().parents[2]
CONTACT_COUNT = 2000
LEASE_SECONDS = 12
DEADLINE_SECONDS = 110

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def _database_url() -> str:
    s = db_connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_chaos_every_contact_lands_exactly_once(org, processes, settings, tmp_path):
    broker = redis_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DATABASE_URL": _database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": broker,  # the rate limiter is shared by every worker
        "SYNC_PROCESSING_LEASE_SECONDS": str(LEASE_SECONDS),
        "SYNC_PUSH_TASK_MAX_SECONDS": "5",
        "CELERY_TASK_TIME_LIMIT": "10",
        "CELERY_TASK_SOFT_TIME_LIMIT": "8",
        "CRM_HTTP_READ_TIMEOUT": "1.5",
        "CRM_RATE_LIMIT_MAX_WAIT": "5",
        "SANDBOX_ENABLED": "true",
        "LOG_LEVEL": "WARNING",
    }
    import redis

    redis.Redis.from_url(broker).flushdb()

    # given: the faulty sandbox on its own port
    config_update(
        kind="hubspot",
        changes={
            "error_rate": 0.10,
            "burst_429_rate": 0.03,
            "timeout_rate": 0.03,
            "timeout_seconds": 3,
            "latency_ms": 250,
        },
    )
    port = _free_port()
    # The workers run the production settings' outbound rules: the sandbox's port is a listed target.
    env["CRM_ALLOWED_PRIVATE_TARGETS"] = f"127.0.0.1:{port}"
    processes.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "sandbox", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    _wait_port(port)
    connection = CrmConnectionFactory(
        organization=org,
        kind="hubspot",
        base_url=f"http://127.0.0.1:{port}/sandbox/hubspot",
        credentials={"access_token": sandbox_credentials.HUBSPOT_TOKEN},
        batch_size=50,
        push_interval_seconds=1,
        retry_base_seconds=1,
        retry_cap_seconds=4,
        max_retries=15,
    )
    ContactFactory.create_batch(CONTACT_COUNT, organization=org)
    emails = set(org.contacts.values_list("email", flat=True))
    from accounts.actors import Actor
    from crm_sync.services.queue_all import contacts_queue_all

    assert (
        contacts_queue_all(organization=org, crm="hubspot", actor=Actor.system())["queued_count"]
        == CONTACT_COUNT
    )

    # and: three worker processes
    workers = {}
    for name in ("chaos-a", "chaos-b", "chaos-c"):
        workers[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "-n",
                f"{name}@%h",
                "-Q",
                "push,maintenance",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{name}.log").open("w"),  # kept for diagnosis
        )
        processes.append(workers[name])

    sender = Celery(broker=broker)
    sender.conf.broker_connection_retry_on_startup = True

    def enqueue(connection_id: int, expires: float) -> None:
        sender.send_task(
            "crm_sync.push_batch", kwargs={"connection_id": connection_id}, queue="push", expires=expires
        )

    # when: this process dispatches like beat, reaps like beat, and kills worker a mid-batch
    settings.SYNC_MAX_PARALLEL_PUSHES = 3
    killed_holding = None
    reaped = 0
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        pushes_dispatch_due(enqueue=enqueue)
        reaped += reap_stale(lease_seconds=LEASE_SECONDS)["requeued"]
        if killed_holding is None:
            holding = ContactSyncState.objects.filter(
                processing_status=ProcessingStatus.PROCESSING, claim_token__startswith="chaos-a@"
            )
            if holding.exists():
                workers["chaos-a"].send_signal(signal.SIGKILL)
                workers["chaos-a"].wait(timeout=10)
                time.sleep(0.5)
                killed_holding = holding.count()
        remaining = ContactSyncState.objects.exclude(sync_status=SyncStatus.COMPLETE).count()
        if killed_holding is not None and remaining == 0:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started

    # then: the kill happened while worker a held a batch, and the reaper gave it back
    diagnosis = (
        dict(ContactSyncState.objects.values_list("sync_status").annotate(n=Count("pk"))),
        list(SyncRun.objects.values_list("worker", "outcome", "succeeded", "errors")[:5]),
        list(ContactSyncState.objects.exclude(error="").values_list("error_category", "error")[:3]),
    )
    assert killed_holding, ("worker a was never seen holding a batch", diagnosis)
    assert reaped >= killed_holding
    # every contact Complete: none stuck, none lost, none failed
    statuses = dict(ContactSyncState.objects.values_list("sync_status").annotate(n=Count("pk")))
    assert statuses == {SyncStatus.COMPLETE: CONTACT_COUNT}, (statuses, elapsed)
    assert not ContactSyncState.objects.filter(processing_status=ProcessingStatus.PROCESSING).exists()
    # each contact exactly once in the sandbox, under the id the state recorded
    records = SandboxRecord.objects.filter(kind="hubspot", object_type=CONTACTS.record_type)
    assert records.count() == CONTACT_COUNT
    assert set(records.values_list("key", flat=True)) == emails
    assert set(ContactSyncState.objects.values_list("remote_id", flat=True)) == {
        str(pk) for pk in records.values_list("pk", flat=True)
    }
    # the faults really happened
    runs = SyncRun.objects.filter(connection=connection)
    assert runs.filter(retried__gt=0).exists() or runs.filter(rate_limited__gt=0).exists()
    print(f"\nchaos: {CONTACT_COUNT} contacts in {elapsed:.1f}s, {runs.count()} batches, reaped {reaped}")
