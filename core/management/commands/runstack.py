"""Run web, Celery worker and Celery beat in the foreground; Ctrl-C stops all three.

This is the embedded mode's one command. Production runs the three as separate
services (docker-compose.yml, docs/operations.md).

Each child's lines are prefixed with its name (`web    |`), so the three interleave
readably. The address is printed only once the web server accepts connections, and
the command exits non-zero as soon as any child dies on its own (a port already taken
included): a half-started stack must not look like a running one.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import OrganizationAPIKey

NAMES = ("web", "worker", "beat")
_COLOURS = {"web": "36", "worker": "33", "beat": "35"}
SERVE_TIMEOUT_SECONDS = 120


def addr_split(addr: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a bare port, as (host, port); ValueError when malformed."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def port_problem(host: str, port: int) -> str | None:
    """Why the web server could not listen on host:port (None when it can), found before starting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the web server does: connections of an earlier run in TIME_WAIT do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return f"port {port} on {host} is not free ({exc.strerror or exc}); choose another with PORT"
    return None


_ANY_ADDRESSES = ("0.0.0.0", "::")  # noqa: S104 - only compared with, to connect to loopback instead  # nosec B104


def accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host if host not in _ANY_ADDRESSES else "127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together."

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr", default=None, help="host:port to serve on (default RUN_ADDR, else 127.0.0.1:$PORT)."
        )
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def commands(self, *, addr: str, concurrency: int) -> dict[str, list[str]]:
        python = sys.executable
        # --quiet: no start-up banners (the closing banner says what matters).
        worker = [python, "-m", "celery", "-A", "config", "--quiet", "worker", "-l", "INFO"]
        worker += ["-Q", "default,push,pull,maintenance", "--concurrency", str(concurrency)]
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The file transport has no broadcast: skip the features that need one.
            worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        beat = [python, "-m", "celery", "-A", "config", "--quiet", "beat", "-l", "INFO"]
        beat += ["--schedule", str(settings.BASE_DIR / "var" / "celerybeat-schedule")]
        return {
            "web": [python, "manage.py", "runserver", "--noreload", addr],
            "worker": worker,
            "beat": beat,
        }

    def handle(self, *args, addr, concurrency, **options):
        addr = addr or os.environ.get("RUN_ADDR") or f"127.0.0.1:{settings.PORT}"
        try:
            host, port = addr_split(addr)
        except ValueError:
            raise CommandError(f"--addr {addr!r} is not host:port.", returncode=2) from None
        problem = port_problem(host, port)
        if problem:
            raise CommandError(f"Cannot serve on {addr}: {problem}.", returncode=1)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("LOG_QUIET_ROUTINE", "1")
        self._lock = threading.Lock()
        self._colour = self.stdout.isatty()
        processes = {}
        for name, command in self.commands(addr=addr, concurrency=concurrency).items():
            processes[name] = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
        pumps = [
            threading.Thread(target=self._pump, args=(name, process), daemon=True)
            for name, process in processes.items()
        ]
        for pump in pumps:
            pump.start()
        failed = self._supervise(processes, host=host, port=port, addr=addr)
        for pump in pumps:
            pump.join(timeout=2)
        if failed:
            raise CommandError(failed, returncode=1)

    def _pump(self, name: str, process: subprocess.Popen) -> None:
        label = f"{name:<6} |"
        if self._colour:
            label = f"\033[{_COLOURS.get(name, '0')}m{label}\033[0m"
        for line in process.stdout:
            with self._lock:
                self.stdout.write(f"{label} {line.rstrip()}")
                self.stdout.flush()

    def _say(self, text: str, *, err: bool = False) -> None:
        with self._lock:
            (self.stderr if err else self.stdout).write(text)

    def _supervise(self, processes: dict, *, host: str, port: int, addr: str) -> str:
        """Wait until a signal or a child's exit; stop the rest. Return why it failed ("" when it did not)."""
        stopping = False
        failed = ""
        announced = False
        started = time.monotonic()

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        failed = f"{name} exited with code {process.returncode}; stopped the rest."
                        stopping = True
                        break
                if stopping:
                    break
                if not announced and accepting(host, port):
                    announced = True
                    self._say(self.banner(addr))
                elif not announced and time.monotonic() - started > SERVE_TIMEOUT_SECONDS:
                    failed = f"web did not accept connections on {addr} within {SERVE_TIMEOUT_SECONDS} s."
                    break
                time.sleep(0.2)
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
                    process.wait()
        return failed

    def banner(self, addr: str) -> str:
        url = f"http://{addr}/"
        prefix = (
            OrganizationAPIKey.objects.filter(
                organization__slug=settings.DEFAULT_ORGANIZATION_SLUG, name="demo", revoked=False
            )
            .values_list("prefix", flat=True)
            .first()
        )
        key = f"prefix {prefix}…" if prefix else "none (make one with: manage.py create_api_key)"
        lines = [
            "",
            f"  CRM Sync Hub is serving on {url}",
            f"    admin      {url}admin/   user: admin",
            f"    API docs   {url}api/docs/   demo API key: {key}",
            f"    health     {url}healthz",
            "  The admin password and the API key were printed once, by bootstrap_demo on the first",
            "  `make run` (scroll up to that run); lost them? manage.py changepassword admin /",
            "  manage.py create_api_key. Move the service with: make run PORT=8001. Ctrl-C stops.",
            "",
        ]
        return "\n".join(lines)
