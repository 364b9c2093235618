"""Auth strategies: token refresh before expiry, stored encrypted, safe under concurrent refresh."""

import base64
import json
import threading

import pytest
from django.db import connection as db_connection
from responses import matchers

from integrations.auth import (
    ApiKeyHeader,
    Basic,
    ConnectionTokenStore,
    JwtLogin,
    MemoryTokenStore,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    jwt_expiry,
)
from integrations.errors import CrmAuthError
from integrations.http import CrmHttpClient
from integrations.models import CrmConnection
from tests.integrations.factories import CrmConnectionFactory

BASE = "https://crm.example.com"
TOKEN_URL = f"{BASE}/oauth/v1/token"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_with(auth) -> CrmHttpClient:
    return CrmHttpClient(crm="test", base_url=BASE, auth=auth)


def test_api_key_header_formats():
    auth = ApiKeyHeader("Authorization", "abc123", format="Token token={key}")
    assert auth.headers(client_with(auth)) == {"Authorization": "Token token=abc123"}


def test_basic_header():
    auth = Basic("user", "pw")
    assert auth.headers(client_with(auth)) == {
        "Authorization": "Basic " + base64.b64encode(b"user:pw").decode()
    }


def test_missing_key_is_an_auth_error():
    auth = ApiKeyHeader("api-key", "")
    with pytest.raises(CrmAuthError):
        auth.headers(client_with(auth))


def test_oauth_refresh_happens_before_expiry_not_on_401(mocked_responses):
    # given: a token valid for 1800 s
    clock = Clock()
    auth = OAuth2RefreshToken(
        token_url=TOKEN_URL, client_id="cid", client_secret="csecret", refresh_token="r1", clock=clock
    )
    mocked_responses.post(
        TOKEN_URL,
        json={"access_token": "a1", "refresh_token": "r2", "expires_in": 1800, "token_type": "bearer"},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "client_id": "cid",
                    "client_secret": "csecret",
                    "refresh_token": "r1",
                }
            )
        ],
    )
    client = client_with(auth)
    # when / then: first call fetches, later calls reuse until the margin (180 s) before expiry
    assert auth.headers(client) == {"Authorization": "Bearer a1"}
    clock.now += 1800 - 181
    assert auth.headers(client) == {"Authorization": "Bearer a1"}
    assert len(mocked_responses.calls) == 1
    # inside the margin: refreshed with the ROTATED refresh token, before the old one lapses
    clock.now += 2
    mocked_responses.post(
        TOKEN_URL,
        json={"access_token": "a2", "expires_in": 1800},
        match=[
            matchers.urlencoded_params_matcher({"refresh_token": "r2"}, allow_blank=False, strict_match=False)
        ],
    )
    assert auth.headers(client) == {"Authorization": "Bearer a2"}
    assert auth.store.load()["refresh_token"] == "r2"  # kept when the CRM does not rotate it


def test_refused_refresh_is_an_auth_error(mocked_responses):
    mocked_responses.post(
        TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "bad token"}
    )
    auth = OAuth2RefreshToken(token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r")
    with pytest.raises(CrmAuthError) as exc:
        auth.headers(client_with(auth))
    assert "bad token" in exc.value.message


def test_client_credentials_basic_client_auth(mocked_responses):
    mocked_responses.post(
        TOKEN_URL,
        json={"access_token": "cc1", "expires_in": 3600},
        match=[
            matchers.header_matcher({"Authorization": "Basic " + base64.b64encode(b"id:sec").decode()}),
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials", "scope": "contacts"}),
        ],
    )
    auth = OAuth2ClientCredentials(
        token_url=TOKEN_URL, client_id="id", client_secret="sec", scope="contacts", client_auth="basic"
    )
    assert auth.headers(client_with(auth)) == {"Authorization": "Bearer cc1"}


def _jwt(exp: float) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.sig"


def test_jwt_login_then_refresh_then_relogin_when_refresh_refused(mocked_responses):
    clock = Clock()
    login, refresh = f"{BASE}/api/v1/auth/login", f"{BASE}/api/v1/auth/refresh"
    first = _jwt(clock.now + 600)
    assert jwt_expiry(first) == clock.now + 600
    mocked_responses.post(
        login,
        json={"access_token": first, "refresh_token": "jr1"},
        match=[matchers.json_params_matcher({"username": "u", "password": "p"})],
    )
    auth = JwtLogin(login_url=login, refresh_url=refresh, username="u", password="p", clock=clock)
    client = client_with(auth)
    assert auth.headers(client) == {"Authorization": f"Bearer {first}"}  # expiry from the exp claim
    # near expiry: refresh with the refresh token
    clock.now += 600 - 30
    second = _jwt(clock.now + 600)
    mocked_responses.post(
        refresh, json={"access_token": second}, match=[matchers.json_params_matcher({"refresh_token": "jr1"})]
    )
    assert auth.headers(client) == {"Authorization": f"Bearer {second}"}
    # the refresh token expired too: the CRM refuses it, so log in again
    clock.now += 600
    third = _jwt(clock.now + 600)
    mocked_responses.post(refresh, status=401, json={"message": "refresh expired"})
    mocked_responses.post(login, json={"access_token": third, "refresh_token": "jr3"})
    assert auth.headers(client) == {"Authorization": f"Bearer {third}"}


@pytest.mark.django_db
def test_refreshed_token_is_stored_encrypted_on_the_connection(org, mocked_responses):
    connection = CrmConnectionFactory(organization=org, oauth=True)
    mocked_responses.post(TOKEN_URL, json={"access_token": "stored-access-token", "expires_in": 1800})
    auth = OAuth2RefreshToken(
        token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r",
        store=ConnectionTokenStore(connection),
    )  # fmt: skip
    auth.headers(client_with(auth))
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT token_state FROM integrations_crmconnection WHERE id = %s", [connection.pk])
        raw = cursor.fetchone()[0]
    assert "stored-access-token" not in raw
    assert CrmConnection.objects.get(pk=connection.pk).token_state["access_token"] == "stored-access-token"


@pytest.mark.django_db
def test_second_worker_rereads_the_stored_token_instead_of_refreshing(org, mocked_responses):
    # given: worker A refreshed and stored a token; worker B still holds nothing in memory
    connection = CrmConnectionFactory(organization=org, oauth=True)
    mocked_responses.post(TOKEN_URL, json={"access_token": "from-a", "expires_in": 1800})
    a = OAuth2RefreshToken(
        token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r",
        store=ConnectionTokenStore(connection),
    )  # fmt: skip
    a.headers(client_with(a))
    b = OAuth2RefreshToken(
        token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r",
        store=ConnectionTokenStore(CrmConnection.objects.get(pk=connection.pk)),
    )  # fmt: skip
    # when
    headers = b.headers(client_with(b))
    # then
    assert headers == {"Authorization": "Bearer from-a"}
    assert len(mocked_responses.calls) == 1


def test_memory_store_concurrent_refresh_fetches_once(mocked_responses):
    barrier = threading.Barrier(4)
    mocked_responses.post(TOKEN_URL, json={"access_token": "shared", "expires_in": 1800})
    store = MemoryTokenStore()
    results = []

    def worker():
        auth = OAuth2RefreshToken(
            token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r", store=store
        )
        barrier.wait()
        results.append(auth.headers(client_with(auth)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"Authorization": "Bearer shared"}] * 4
    assert len(mocked_responses.calls) == 1


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_refreshes_once(mocked_responses):
    """Two workers (threads with their own DB connections) find the token expiring at once.

    PostgreSQL serialises them with a row lock. (SQLite serialises them with a file lock, tested
    below: the test suite's in-memory SQLite shares one cache between threads, where a read that
    meets another thread's write fails at once with "table is locked" instead of waiting as the
    file database of embedded mode does, so this test would only measure the test database.)
    """
    from django.db import connections

    from tests.factories import OrganizationFactory

    connection = CrmConnectionFactory(organization=OrganizationFactory(), oauth=True)
    calls = []

    def token_endpoint(request):
        calls.append(1)
        return 200, {}, json.dumps({"access_token": f"token-{len(calls)}", "expires_in": 1800})

    mocked_responses.add_callback("POST", TOKEN_URL, callback=token_endpoint)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            row = CrmConnection.objects.get(pk=connection.pk)
            auth = OAuth2RefreshToken(
                token_url=TOKEN_URL, client_id="c", client_secret="s", refresh_token="r",
                store=ConnectionTokenStore(row),
            )  # fmt: skip
            barrier.wait()
            results.append(auth.headers(client_with(auth)))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(calls) == 1
    assert results == [{"Authorization": "Bearer token-1"}] * 2


def test_the_embedded_mode_file_lock_lets_one_refresh_in_at_a_time(settings, tmp_path):
    """SQLite has no row locks: a file lock per connection serialises refreshes across processes."""
    from integrations.auth import _file_lock

    settings.VAR_DIR = tmp_path
    events = []
    first_in, release_first = threading.Event(), threading.Event()

    def first():
        with _file_lock("crm-token-7"):
            events.append("first in")
            first_in.set()
            release_first.wait(timeout=10)
            events.append("first out")

    def second():
        first_in.wait(timeout=10)
        with _file_lock("crm-token-7"):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_in.wait(timeout=10)
    threading.Event().wait(0.2)  # the second thread is now waiting on the lock (or about to)
    assert events == ["first in"]
    release_first.set()
    for t in threads:
        t.join(timeout=10)
    assert events == ["first in", "first out", "second in"]
