"""A real Celery worker takes a task off the configured broker (the file broker locally, Redis in CI)."""

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from core.models import WorkerHeartbeat
from core.tasks import heartbeat

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_in_process_worker_runs_a_task_sent_through_the_broker():
    queue = f"test-{uuid.uuid4().hex[:8]}"  # private queue: parallel test processes share the broker
    token = uuid.uuid4().hex
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
        heartbeat.apply_async(args=[token], queue=queue)
        assert wait_for(lambda: WorkerHeartbeat.objects.filter(token=token).exists())


@pytest.mark.slow
def test_worker_process_runs_a_task_sent_from_another_process(tmp_path):
    """The embedded set-up's real shape: web and worker are separate processes sharing only the broker."""
    db_path = tmp_path / "worker.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "VAR_DIR": os.environ.get("VAR_DIR", str(ROOT / "var")),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "core", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        sender = (
            "import django; django.setup(); from core.tasks import heartbeat; "
            f"heartbeat.apply_async(args=['{token}'], queue='{queue}')"
        )
        subprocess.run([sys.executable, "-c", sender], cwd=ROOT, env=env, check=True, timeout=60)

        def seen():
            with sqlite3.connect(db_path, timeout=5) as conn:
                return conn.execute("SELECT 1 FROM core_workerheartbeat WHERE token = ?", [token]).fetchone()

        assert wait_for(seen, timeout=60), worker.stderr.read1().decode() if worker.poll() is not None else ""
    finally:
        worker.terminate()
        worker.wait(timeout=30)
