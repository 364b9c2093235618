"""A real HTTP receiver on loopback (the outbound adapter is exercised, not mocked) and subscriptions."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.actors import Actor
from webhooks.services import subscription_create


class Receiver:
    """Answers each POST with the next scripted (status, body, headers); records what it got."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, str, dict]] = []
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != receiver.path:
                    # Stray traffic (another test's client reaching a reused ephemeral port).
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    with receiver.lock:
                        receiver.in_flight -= 1
                    return
                time.sleep(receiver.delay)
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, text, headers = receiver.script.pop(0) if receiver.script else (200, "ok", {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                payload = text.encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with receiver.lock:
                    receiver.in_flight -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.path = f"/hook-{uuid.uuid4().hex}"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def json(self, index: int) -> dict:
        return json.loads(self.requests[index]["body"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def subscribe(org, receiver):
    def make(events=("contact.created",), organization=None, url=None):
        return subscription_create(
            organization=organization or org,
            url=url or receiver.url,
            events=list(events),
            actor=Actor.system("test"),
        )

    return make


# The push tests reuse the sync engine's scripted connector and its connection.
from tests.crm_sync.conftest import connection, scripted  # noqa: E402,F401
