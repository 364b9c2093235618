"""`manage.py sandbox` serves the sandboxes alone over real HTTP, and refuses an unmigrated database."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from sandbox import credentials as creds

pytestmark = pytest.mark.slow
ROOT = Path(settings.BASE_DIR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("CACHE_URL", None)
    return env


def _manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_refuses_to_start_with_unapplied_migrations(tmp_path):
    result = _manage(_env(tmp_path), "sandbox", "--port", str(_free_port()))
    assert result.returncode != 0
    assert "manage.py migrate" in result.stderr


def test_serves_only_the_sandbox_over_http(tmp_path):
    env = _env(tmp_path)
    assert _manage(env, "migrate", "--noinput").returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Wait for the server to listen (it starts Django first: seconds, longer on a loaded machine).
        started = time.monotonic()
        while time.monotonic() - started < 90:
            if server.poll() is not None:
                pytest.fail(f"the sandbox exited early: {server.stderr.read().decode()[-2000:]}")
            try:
                requests.get(f"{base}/sandbox/hubspot/_control/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {creds.HUBSPOT_TOKEN}"
        upsert = session.post(
            f"{base}/sandbox/hubspot/crm/v3/objects/contacts/batch/upsert",
            timeout=5,
            json={"inputs": [{"id": "http@x.com", "idProperty": "email", "properties": {}}]},
        )
        assert upsert.status_code == 200 and upsert.json()["results"][0]["new"] is True
        assert upsert.headers["X-HubSpot-RateLimit-Max"] == "100"
        # keep-alive, as a real CRM: a length and no "Connection: close"
        assert int(upsert.headers["Content-Length"]) == len(upsert.content)
        assert upsert.headers.get("Connection", "").lower() != "close"
        assert session.get(f"{base}/sandbox/hubspot/account-info/v3/details", timeout=5).status_code == 200
        with pytest.raises(requests.ReadTimeout):
            session.get(
                f"{base}/sandbox/hubspot/account-info/v3/details",
                timeout=0.5,
                headers={"X-Sandbox-Fault": "latency=2s"},
            )
        assert requests.get(f"{base}/api/v1/", timeout=5).status_code == 404  # nothing but /sandbox/
        big = requests.post(
            f"{base}/sandbox/brevo/v3/contacts/import",
            headers={"api-key": creds.BREVO_API_KEY},
            json={
                "jsonBody": [
                    {"email": f"b{i}@x.com", "attributes": {"FIRSTNAME": "x" * 100}} for i in range(12_000)
                ],
                "listIds": [1],
            },
            timeout=30,
        )
        assert big.status_code == 202  # over the web app's 1 MB body cap, within Brevo's 10 MB
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_server_sends_without_waiting_for_acks():
    """Nagle's algorithm held every response body ~40 ms for the client's delayed ACK."""
    import socket

    from django.core.servers.basehttp import WSGIRequestHandler

    from sandbox.management.commands.sandbox import NoDelayWSGIServer

    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    client = socket.create_connection(server.server_address)
    try:
        accepted, _ = server.get_request()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted.close()
    finally:
        client.close()
        server.server_close()
