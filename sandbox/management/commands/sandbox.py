"""`manage.py sandbox --port 8100 [--host 127.0.0.1]`: the sandbox CRMs alone, on their own port.

Serves only /sandbox/... (same paths as the mounted app) from a threaded WSGI server, on
the same database tables as the web app, for benchmarks and end-to-end tests. It refuses
to start while migrations are unapplied, since every sandbox keeps its state in the DB.
"""

import contextlib
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import WSGIServer, run
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from core.heap import heap_settle

# Brevo imports take up to 10 MB and n8n payloads up to 16 MB: the standalone server lets them in.
MAX_BODY_BYTES = 20 * 1024 * 1024
# CommonMiddleware sets Content-Length, without which Django's server closes the connection
# after every response: real CRMs keep connections alive, and so must the sandbox.
MIDDLEWARE = ["core.middleware.RequestIdMiddleware", "django.middleware.common.CommonMiddleware"]


class NoDelayWSGIServer(WSGIServer):
    """Send each write at once (TCP_NODELAY), as production servers do.

    wsgiref writes a response's headers and body separately; with Nagle's algorithm on, the
    body waits for the client's delayed ACK of the headers: about 40 ms added to every call,
    which made the sandbox, not the code under test, the slowest part of every benchmark.
    """

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


class Command(BaseCommand):
    help = "Run the sandbox CRMs alone on their own port (threaded WSGI server)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--host", default="127.0.0.1")

    def _unapplied(self) -> list[str]:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]

    def handle(self, *args, port: int, host: str, **options):
        if not 0 < port < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        unapplied = self._unapplied()
        if unapplied:
            raise CommandError(
                f"{len(unapplied)} migration(s) are not applied (first: {unapplied[0]}); "
                "run `manage.py migrate`."
            )
        # This process serves nothing but the sandbox: its own URLconf and a minimal middleware stack.
        settings.ROOT_URLCONF = "sandbox.standalone_urls"
        settings.MIDDLEWARE = MIDDLEWARE
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
        if "*" not in settings.ALLOWED_HOSTS and host not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
        from django.core.handlers.wsgi import WSGIHandler

        handler = WSGIHandler()
        heap_settle()  # a long-running server: see core.heap
        self.stdout.write(f"Sandbox CRMs on http://{host}:{port}/sandbox/<kind>/ (Ctrl-C to stop)")
        self.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            run(host, port, handler, ipv6=":" in host, threading=True, server_cls=NoDelayWSGIServer)
