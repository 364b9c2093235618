"""Auth strategies: how a CrmHttpClient puts credentials on each request.

Every strategy implements `headers(client) -> dict` (called before each request) and
`secrets() -> tuple[str, ...]` (values the client redacts from logs and error text).

Static strategies: ApiKeyHeader (any header, any format: Brevo `api-key: {key}`, Brivity
`Authorization: Token token={key}`), ApiKeyQuery, Bearer (HubSpot private app), Basic (Mautic).

Token strategies (OAuth2RefreshToken, OAuth2ClientCredentials, JwtLogin) fetch a token,
cache it, and fetch again *before* it lapses (from expires_in, or a JWT's exp claim),
never by looping on 401 (HubSpot: "401 is not a valid indicator that a new access token
must be retrieved"). Tokens live in a TokenStore:

- ConnectionTokenStore(connection): CrmConnection.token_state, encrypted at rest. A refresh
  runs inside a transaction holding SELECT ... FOR UPDATE on the connection row, and
  re-reads the stored token first: two workers never both refresh, and the second one
  uses the token the first stored (OAuth refresh tokens may rotate, so a double refresh
  can invalidate the first worker's token).
- MemoryTokenStore(): for an unsaved connection (a credential test before saving).

A token request that the CRM refuses (400/401 invalid_grant...) raises CrmAuthError.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction

from integrations.errors import CrmAuthError, CrmError, CrmValidationError

if TYPE_CHECKING:
    from integrations.http import CrmHttpClient


class AuthStrategy:
    """Base: no credentials."""

    def headers(self, client: CrmHttpClient) -> dict[str, str]:
        return {}

    def params(self, client: CrmHttpClient) -> dict[str, str]:
        return {}

    def secrets(self) -> tuple[str, ...]:
        return ()


class NoAuth(AuthStrategy):
    pass


class ApiKeyHeader(AuthStrategy):
    """`header: format.format(key=...)`, e.g. ApiKeyHeader("api-key", key) or
    ApiKeyHeader("Authorization", token, format="Token token={key}")."""

    def __init__(self, header: str, key: str, *, format: str = "{key}") -> None:  # noqa: A002
        self.header = header
        self.key = key
        self.format = format

    def headers(self, client):
        if not self.key:
            raise CrmAuthError("no API key is configured for this connection", crm=client.crm)
        return {self.header: self.format.format(key=self.key)}

    def secrets(self):
        return (self.key,)


class ApiKeyQuery(AuthStrategy):
    """The key as a query parameter (some REST CRMs); redacted from logged URLs."""

    def __init__(self, param: str, key: str) -> None:
        self.param = param
        self.key = key

    def params(self, client):
        if not self.key:
            raise CrmAuthError("no API key is configured for this connection", crm=client.crm)
        return {self.param: self.key}

    def secrets(self):
        return (self.key,)


class Bearer(AuthStrategy):
    def __init__(self, token: str) -> None:
        self.token = token

    def headers(self, client):
        if not self.token:
            raise CrmAuthError("no access token is configured for this connection", crm=client.crm)
        return {"Authorization": f"Bearer {self.token}"}

    def secrets(self):
        return (self.token,)


class Basic(AuthStrategy):
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def headers(self, client):
        if not self.username:
            raise CrmAuthError("no username is configured for this connection", crm=client.crm)
        raw = f"{self.username}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def secrets(self):
        raw = f"{self.username}:{self.password}".encode()
        return (self.password, base64.b64encode(raw).decode())


# ---------------------------------------------------------------------------------------
# Token stores
# ---------------------------------------------------------------------------------------
class MemoryTokenStore:
    """Token state kept in memory, behind a thread lock."""

    def __init__(self, state: dict | None = None) -> None:
        self._state = dict(state or {})
        self._lock = threading.RLock()

    def load(self) -> dict:
        return dict(self._state)

    def save(self, state: dict) -> None:
        self._state = dict(state)

    @contextlib.contextmanager
    def locked(self):
        with self._lock:
            yield


class ConnectionTokenStore:
    """Token state in CrmConnection.token_state (encrypted), refreshed under a row lock."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def _model(self):
        return type(self.connection)

    def load(self) -> dict:
        if not self.connection.pk:
            return dict(self.connection.token_state or {})
        row = (
            self._model().objects.filter(pk=self.connection.pk).values_list("token_state", flat=True).first()
        )
        return dict(row or {})

    def save(self, state: dict) -> None:
        self.connection.token_state = dict(state)
        if self.connection.pk:
            # update(), not save(): updated_at stays, so pooled sessions keyed on it survive.
            self._model().objects.filter(pk=self.connection.pk).update(token_state=dict(state))

    @contextlib.contextmanager
    def locked(self):
        if not self.connection.pk:
            yield
            return
        if not db_connection.features.has_select_for_update:
            # SQLite: a transaction here would hold the database-wide write lock across the token
            # call and stall every other writer (the in-process sandbox included). Embedded mode
            # runs on one machine, so a file lock serialises refreshes across its processes.
            with _file_lock(f"crm-token-{self.connection.pk}"):
                yield
            return
        with transaction.atomic():
            # Blocks a second worker here until the first has stored its new token.
            list(self._model().objects.select_for_update().filter(pk=self.connection.pk).values_list("pk"))
            yield


@contextlib.contextmanager
def _file_lock(name: str):
    import fcntl

    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------
# Token strategies
# ---------------------------------------------------------------------------------------
def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (not verified: only used to refresh in time)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return float(exp) if exp else None
    except (IndexError, ValueError, AttributeError):
        return None


class TokenAuth(AuthStrategy):
    """Base of the token strategies: cache, refresh early, store, lock.

    Subclasses implement `obtain(client, state) -> dict` returning the new state
    ({"access_token", "refresh_token"?, "expires_at", "token_type"?}).
    """

    default_lifetime = 300.0  # when the CRM says nothing about expiry

    def __init__(self, *, store=None, clock=time.time) -> None:
        self.store = store if store is not None else MemoryTokenStore()
        self.clock = clock
        self._state: dict = {}

    def refresh_margin(self, state: dict) -> float:
        """Refresh this long before expiry: 10% of the lifetime, at least 30 s, at most 300 s."""
        lifetime = float(state.get("lifetime") or self.default_lifetime)
        return min(300.0, max(30.0, lifetime * 0.1))

    def is_fresh(self, state: dict) -> bool:
        token, expires_at = state.get("access_token"), state.get("expires_at")
        if not token or not expires_at:
            return False
        return float(expires_at) - self.refresh_margin(state) > self.clock()

    def access_token(self, client: CrmHttpClient) -> str:
        if self.is_fresh(self._state):
            return self._state["access_token"]
        state = self.store.load()
        if not self.is_fresh(state):
            with self.store.locked():
                state = self.store.load()  # another worker may have refreshed meanwhile
                if not self.is_fresh(state):
                    state = self.obtain(client, state)
                    self.store.save(state)
        self._state = state
        return state["access_token"]

    def headers(self, client):
        return {"Authorization": f"Bearer {self.access_token(client)}"}

    def token_state_from(self, body: Any, *, previous: dict, client: CrmHttpClient) -> dict:
        """Turn a token endpoint's JSON into stored state."""
        if not isinstance(body, dict):
            raise CrmAuthError("the token endpoint answered without a JSON object", crm=client.crm)
        token = body.get("access_token") or body.get("token") or body.get("access")
        if not token:
            raise CrmAuthError("the token endpoint answered without an access token", crm=client.crm)
        now = self.clock()
        expires_in = body.get("expires_in")
        if expires_in:
            lifetime = float(expires_in)
        else:
            exp = jwt_expiry(token)
            lifetime = (exp - now) if exp else self.default_lifetime
        return {
            "access_token": token,
            "refresh_token": body.get("refresh_token")
            or body.get("refresh")
            or previous.get("refresh_token", ""),
            "token_type": body.get("token_type", "bearer"),
            "expires_at": now + lifetime,
            "lifetime": lifetime,
            "obtained_at": now,
        }

    def _token_call(self, client: CrmHttpClient, url: str, **kwargs) -> Any:
        try:
            return client.token_request(url, **kwargs)
        except (CrmAuthError, CrmValidationError) as exc:
            raise CrmAuthError(
                f"token request refused: {exc.message}", status=exc.status, crm=client.crm
            ) from None

    def secrets(self):
        values = [self._state.get("access_token", ""), self._state.get("refresh_token", "")]
        return tuple(v for v in values if v)


class OAuth2RefreshToken(TokenAuth):
    """OAuth2 refresh_token grant (HubSpot public apps, Mautic OAuth2).

    The first refresh_token comes from the credentials; a rotated one is kept in the store
    and wins from then on.
    """

    def __init__(
        self, *, token_url: str, client_id: str, client_secret: str, refresh_token: str, store=None, **kw
    ) -> None:
        super().__init__(store=store, **kw)
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token

    def obtain(self, client, state):
        refresh_token = state.get("refresh_token") or self.refresh_token
        if not refresh_token:
            raise CrmAuthError("no refresh token is configured for this connection", crm=client.crm)
        body = self._token_call(
            client,
            self.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": refresh_token,
            },
        )
        return self.token_state_from(body, previous={"refresh_token": refresh_token}, client=client)

    def secrets(self):
        return super().secrets() + tuple(v for v in (self.client_secret, self.refresh_token) if v)


class OAuth2ClientCredentials(TokenAuth):
    """OAuth2 client_credentials grant (machine-to-machine: TopProducer preset, REST).

    `client_auth="body"` sends client_id/secret in the form; "basic" in an Authorization header.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        client_auth: str = "body",
        store=None,
        **kw,
    ) -> None:
        super().__init__(store=store, **kw)
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.client_auth = client_auth

    def obtain(self, client, state):
        if not self.client_id or not self.client_secret:
            raise CrmAuthError("client_id and client_secret are required for this connection", crm=client.crm)
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        headers = {}
        if self.client_auth == "basic":
            raw = f"{self.client_id}:{self.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        body = self._token_call(client, self.token_url, data=data, headers=headers)
        return self.token_state_from(body, previous={}, client=client)

    def secrets(self):
        return super().secrets() + tuple(v for v in (self.client_secret,) if v)


class JwtLogin(TokenAuth):
    """Username/password login that returns a JWT, refreshed with its refresh token (seed 002).

    POST login_url {username_field: ..., password_field: ...} → {access_token|token|access,
    refresh_token|refresh, expires_in?}; expiry from expires_in or the JWT's exp claim.
    Before expiry: POST refresh_url {"refresh_token": ...}; if the CRM refuses the refresh,
    log in again (the seed's "fallback re-authentication").
    """

    def __init__(
        self,
        *,
        login_url: str,
        username: str,
        password: str,
        refresh_url: str = "",
        username_field: str = "username",
        password_field: str = "password",  # noqa: S107 - a JSON field name, not a password
        refresh_field: str = "refresh_token",
        store=None,
        **kw,
    ) -> None:
        super().__init__(store=store, **kw)
        self.login_url = login_url
        self.refresh_url = refresh_url
        self.username = username
        self.password = password
        self.username_field = username_field
        self.password_field = password_field
        self.refresh_field = refresh_field

    def obtain(self, client, state):
        refresh_token = state.get("refresh_token")
        if refresh_token and self.refresh_url:
            try:
                body = self._token_call(client, self.refresh_url, json={self.refresh_field: refresh_token})
                return self.token_state_from(body, previous=state, client=client)
            except CrmAuthError:
                pass  # the refresh token expired too: log in again
        if not self.username or not self.password:
            raise CrmAuthError("username and password are required for this connection", crm=client.crm)
        body = self._token_call(
            client,
            self.login_url,
            json={self.username_field: self.username, self.password_field: self.password},
        )
        return self.token_state_from(body, previous={}, client=client)

    def secrets(self):
        return super().secrets() + tuple(v for v in (self.password,) if v)


__all__ = [
    "AuthStrategy",
    "NoAuth",
    "ApiKeyHeader",
    "ApiKeyQuery",
    "Bearer",
    "Basic",
    "TokenAuth",
    "OAuth2RefreshToken",
    "OAuth2ClientCredentials",
    "JwtLogin",
    "MemoryTokenStore",
    "ConnectionTokenStore",
    "jwt_expiry",
    "CrmError",
]
