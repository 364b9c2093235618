"""Fixtures for every test: organizations, API clients with real keys, service switches, no network.

Services: a test marked `requires_postgres` / `requires_redis` skips when the service is
absent, but fails under REQUIRE_SERVICES=1 (CI), so CI can never skip one silently.
"""

import gc
import os
import socket
import threading
import time

import pytest
import responses
from django.db import connection
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from accounts.models import Scope
from accounts.services import api_key_create
from integrations.http import sessions_close_all
from tests.factories import OrganizationFactory
from tests.live_requests import RequestsInFlight

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# Property tests check behaviour, not speed: on a loaded machine Hypothesis's per-example deadline
# and its "data generation is slow" health check fail a test whose assertions all hold.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def _missing_service(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def redis_url() -> str | None:
    for name in ("CELERY_BROKER_URL", "CACHE_URL", "REDIS_URL"):
        value = os.environ.get(name, "")
        if value.startswith("redis://"):
            return value
    return None


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("requires_postgres") and connection.vendor != "postgresql":
        _missing_service("this test needs PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("requires_redis"):
        url = redis_url()
        if url is None:
            _missing_service("this test needs Redis (set CELERY_BROKER_URL=redis://...)")
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.RedisError as exc:
            _missing_service(f"Redis at {url} is not reachable: {exc}")


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server, stopped only once its keep-alive threads have gone.

    A connector's pooled HTTP session keeps its connection to the server open, and the
    server's thread for it waits for the next request. Left alone, those threads ended after
    the server had stopped sharing SQLite's in-memory connection with them, and each printed a
    traceback at the end of the run. Closing the sessions (and collecting unpooled ones) ends
    the threads while sharing is still allowed.
    """
    yield live_server
    sessions_close_all()
    gc.collect()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name for thread in threading.enumerate()
    ):
        time.sleep(0.05)


# How long a live-server test may leave the server working after it ends (a hung sandbox
# request). Longer fails the test: shorten the sandbox's timeout_seconds in it instead.
LIVE_SERVER_GRACE_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _live_server_settles(request):
    """A live-server test ends only once the server has answered all it was sent (see
    tests/live_requests.py). pytest-django's database fixtures are set up before this one,
    so the wait comes before their teardown."""
    if "live_server" not in request.fixturenames:
        yield
        return
    with RequestsInFlight() as in_flight:
        yield
        if not in_flight.wait_idle(timeout=LIVE_SERVER_GRACE_SECONDS):
            pytest.fail(
                f"The live server was still answering this test's requests {LIVE_SERVER_GRACE_SECONDS:.0f} s "
                "after it ended; shorten the sandbox's timeout_seconds in the test."
            )


_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or "/" in host):
        raise OSError(f"Tests may not reach the network ({host}); use responses or the sandbox.")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Connector unit tests use `responses`; integration tests reach the sandbox on loopback only."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def make_api_client(db):
    """Return a factory: `make_api_client(org, scopes=["read"])` → APIClient with a real key."""

    def make(organization, scopes=tuple(Scope.values), **kwargs):
        api_key, raw_key = api_key_create(
            organization=organization, name="test", scopes=list(scopes), **kwargs
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        client.api_key = api_key
        client.raw_key = raw_key
        return client

    return make


@pytest.fixture
def api_client(org, make_api_client):
    """A client whose key has every scope in `org`."""
    return make_api_client(org)


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def mocked_responses():
    """`responses` that fails the test when a registered mock is never called."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
