"""Run web, Celery worker and Celery beat in the foreground; Ctrl-C stops all three.

This is the embedded mode's one command. Production runs the three as separate
services (docker-compose.yml, docs/operations.md).
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("RUN_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def handle(self, *args, addr, concurrency, **options):
        python = sys.executable
        worker = [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-l",
            "INFO",
            "-Q",
            "default,push,pull,maintenance",
            "--concurrency",
            str(concurrency),
        ]
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The file transport has no broadcast: skip the features that need one.
            worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        commands = {
            "web": [python, "manage.py", "runserver", "--noreload", addr],
            "worker": worker,
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "INFO",
                "--schedule",
                str(settings.BASE_DIR / "var" / "celerybeat-schedule"),
            ],
        }
        processes = {name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        self.stdout.write(f"Serving on http://{addr}/  (admin: /admin/, API docs: /api/docs/). Ctrl-C stops.")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
