"""The one HTTP client under every connector.

    client = CrmHttpClient.for_connection(connection, auth=Bearer(token),
                                          error_message=my_message_extractor)
    response = client.post("/crm/v3/objects/contacts/batch/upsert", json=body)
    response.status, response.data (parsed JSON or None), response.headers

What every call gets:
- a pooled requests.Session per connection (cached per process, keyed by the connection's
  id and updated_at, so an edited connection gets a fresh session);
- (connect, read) timeouts (CRM_HTTP_CONNECT_TIMEOUT / CRM_HTTP_READ_TIMEOUT, or
  connection.settings["connect_timeout"/"read_timeout"]);
- urllib3 retries only of failed *connections* (the request was never sent), and only for
  idempotent methods; nothing else is retried here: backoff belongs to the sync layer;
- the connection's rate limiter (`limiter=` picks a named one, e.g. "search"; None skips)
  and daily quota, adapted from the response's rate-limit headers, paused on 429;
- a 429's policy, read by the connector's `rate_policy(body)` (HubSpot's policyName): a
  rolling window waits Retry-After, else the window the headers or the policy give; a daily
  quota holds the connection until the CRM's daily reset (integrations/holds.py), and while
  that hold stands every call is refused here, before the CRM is asked;
- auth headers from an AuthStrategy (integrations/auth.py);
- one translation of failures into integrations.errors (TRANSLATION table below), with the
  CRM's own message taken by the connector's `error_message(body, response)` extractor;
- a log line per call (method, redacted URL, status, ms, remaining budget) and exception
  text that passed through core.logging.redact with the connection's secret values.

A non-2xx status raises; pass `ok=(409,)` to receive a status as a response instead.
Connectors needing a different category for a CRM-specific body pass `classify=`.
"""

from __future__ import annotations

import contextvars
import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from urllib3.util.retry import Retry

from core import jsontext
from core.logging import redact, redact_data
from integrations import outbound
from integrations.auth import AuthStrategy, NoAuth
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmLocked,
    CrmNotFound,
    CrmRateLimited,
    CrmTargetRefused,
    CrmTimeout,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.holds import QuotaHold
from integrations.metrics import http_call_observe
from integrations.ratelimit import (
    DailyQuota,
    RateLimiter,
    RateObservation,
    RatePolicy,
    next_daily_reset,
    parse_rate_limit_headers,
)

logger = logging.getLogger("integrations.http")


@dataclass
class CallMeter:
    """Calls sent and 429s received while it is active (call_metering), for a run's counts."""

    calls: int = 0
    rate_limited: int = 0


_meter: contextvars.ContextVar[CallMeter | None] = contextvars.ContextVar("crm_call_meter", default=None)


@contextmanager
def call_metering() -> Iterator[CallMeter]:
    """Count the CRM calls made in this context (this thread), whichever connector makes them."""
    meter = CallMeter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
LOCKED_RETRY_AFTER = 2.0  # HubSpot 423: "locks last for 2 seconds"

# status → error class. Anything else: 5xx → unavailable, other 4xx → validation.
TRANSLATION: dict[int, type[CrmError]] = {
    400: CrmValidationError,
    401: CrmAuthError,
    403: CrmAuthError,
    404: CrmNotFound,
    408: CrmTimeout,
    409: CrmConflict,
    410: CrmNotFound,
    413: CrmValidationError,
    414: CrmValidationError,
    422: CrmValidationError,
    423: CrmLocked,
    429: CrmRateLimited,
    477: CrmUnavailable,  # HubSpot "migration in progress", with Retry-After
}


@dataclass
class CrmResponse:
    status: int
    headers: Mapping[str, str]
    data: Any
    text: str
    elapsed_ms: float
    url: str


class IdempotentConnectRetry(Retry):
    """Retry failed connection attempts of idempotent methods; raise everything else at once."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if method is not None and method.upper() not in IDEMPOTENT_METHODS:
            exhausted = self.new(total=0, connect=0)
            return Retry.increment(exhausted, method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def new_session() -> requests.Session:
    retries = settings.CRM_HTTP_CONNECT_RETRIES
    retry = IdempotentConnectRetry(
        total=retries,
        connect=retries,
        read=False,  # a read timeout surfaces as ReadTimeout (category "timeout"), never retried here
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.2,
        allowed_methods=IDEMPOTENT_METHODS,
        raise_on_status=False,
    )
    session = requests.Session()
    # No proxy or .netrc from the environment: a proxy would hide the peer address the outbound
    # check needs, and .netrc could add credentials nobody configured for this connection.
    session.trust_env = False
    adapter = outbound.OutboundAdapter(pool_connections=4, pool_maxsize=16, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": "crm-sync-hub/1.0", "Accept": "application/json"})
    return session


_sessions: dict[int, tuple[Any, requests.Session]] = {}
_sessions_lock = threading.Lock()


def session_for(connection) -> requests.Session:
    """The pooled session of a saved connection (a new one when the connection changed)."""
    if not getattr(connection, "pk", None):
        return new_session()
    version = getattr(connection, "updated_at", None)
    with _sessions_lock:
        cached = _sessions.get(connection.pk)
        if cached and cached[0] == version:
            return cached[1]
        if cached:
            cached[1].close()
        session = new_session()
        _sessions[connection.pk] = (version, session)
        return session


def sessions_close_all() -> int:
    """Close every pooled session and its kept-alive connections; return how many were open.

    The CRM's side sees its connections end now rather than when the process exits (the test
    suite's live server needs its keep-alive threads gone before it stops).
    """
    with _sessions_lock:
        sessions = [session for _, session in _sessions.values()]
        _sessions.clear()
    for session in sessions:
        session.close()
    return len(sessions)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def default_error_message(body: Any, response: requests.Response | None) -> str:
    """A CRM's message from the usual error shapes: {message}, {error}, {errors:[...]}, text."""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            if isinstance(first, dict):
                return str(first.get("message") or first)
            return str(first)
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    if response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return "no message"


def error_class_for(status: int) -> type[CrmError]:
    if status in TRANSLATION:
        return TRANSLATION[status]
    if status >= 500:
        return CrmUnavailable
    return CrmValidationError


class CrmHttpClient:
    """See the module docstring. Subclass per CRM for endpoints; construct per use."""

    def __init__(
        self,
        *,
        crm: str,
        base_url: str,
        auth: AuthStrategy | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        quota: DailyQuota | None = None,
        secrets: Iterable[str] = (),
        error_message: Callable[[Any, requests.Response | None], str] | None = None,
        classify: Callable[[int, Any], type[CrmError] | None] | None = None,
        rate_policy: Callable[[Any], RatePolicy | None] | None = None,
        hold: QuotaHold | None = None,
        default_headers: Mapping[str, str] | None = None,
        credentials_hosts: Iterable[str] | None = None,
    ) -> None:
        self.crm = crm
        self.base_url = base_url.rstrip("/")
        self.auth = auth or NoAuth()
        self.session = session or new_session()
        self.timeout = timeout or (settings.CRM_HTTP_CONNECT_TIMEOUT, settings.CRM_HTTP_READ_TIMEOUT)
        self.limiters = dict(limiters or {})
        self.quota = quota
        self._secrets = tuple(s for s in secrets if isinstance(s, str) and s)
        self.error_message = error_message or default_error_message
        self.classify = classify
        self.rate_policy = rate_policy
        self.hold = hold
        self.default_headers = dict(default_headers or {})
        # Hosts the credentials may go to (None: unbound); see integrations/outbound.py.
        self.credentials_hosts = frozenset(credentials_hosts) if credentials_hosts is not None else None

    @classmethod
    def for_connection(
        cls,
        connection,
        *,
        base_url: str | None = None,
        auth: AuthStrategy | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        quota: DailyQuota | None = None,
        credentials: Mapping[str, Any] | None = None,
        **kwargs,
    ):
        """A client for `connection`: its pooled session, timeouts and secret values.

        `credentials` (default: the connection's effective credentials) only feeds redaction;
        every string value in it is scrubbed from logs and error text. Extra headers a CRM (or
        a sandbox's fault injection) needs come from connection.settings["headers"].
        """
        from integrations.selectors import (
            connection_base_url,
            connection_credentials,
            connection_credentials_hosts,
        )

        creds = connection_credentials(connection=connection) if credentials is None else credentials
        conf = connection.settings or {}
        timeout = (
            float(conf.get("connect_timeout", settings.CRM_HTTP_CONNECT_TIMEOUT)),
            float(conf.get("read_timeout", settings.CRM_HTTP_READ_TIMEOUT)),
        )
        return cls(
            crm=connection.kind,
            base_url=base_url if base_url is not None else connection_base_url(connection=connection),
            auth=auth,
            session=session_for(connection),
            timeout=timeout,
            limiters=limiters,
            quota=quota,
            hold=kwargs.pop("hold", None) or QuotaHold(connection, crm=connection.kind),
            secrets=[v for v in _flatten_strings(creds)],
            default_headers={
                **dict(conf.get("headers") or {}),
                **dict(kwargs.pop("default_headers", None) or {}),
            },
            credentials_hosts=connection_credentials_hosts(connection=connection),
            **kwargs,
        )

    # -- redaction ------------------------------------------------------------------------
    def secrets(self) -> tuple[str, ...]:
        return self._secrets + tuple(self.auth.secrets())

    def redact(self, text: str) -> str:
        return redact(text, secrets=self.secrets())

    # -- requests -------------------------------------------------------------------------
    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def get(self, path: str, **kwargs) -> CrmResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> CrmResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> CrmResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> CrmResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> CrmResponse:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        limiter: str | None = "default",
        ok: Iterable[int] = (),
        timeout: tuple[float, float] | None = None,
        authenticate: bool = True,
        count_quota: bool = True,
        expect_json: bool = True,
    ) -> CrmResponse:
        """Send one request; return a CrmResponse for 2xx (and `ok` statuses), else raise CrmError.

        With expect_json (default) a 2xx body that is not JSON raises CrmUnavailable;
        with expect_json=False, `data` is the parsed JSON when it parses, else None (`text` holds it).
        """
        method = method.upper()
        url = self.url(path)
        if self.hold is not None:
            self.hold.check()
        if count_quota and self.quota is not None:
            self.quota.consume()
        bucket = self.limiters.get(limiter) if limiter else None
        if bucket is not None:
            bucket.acquire()
        all_headers = dict(self.default_headers)
        all_params = dict(params or {})
        if authenticate:
            self._check_credentials_host(url)
            all_headers.update(self.auth.headers(self))
            all_params.update(self.auth.params(self))
        all_headers.update(headers or {})
        return self._send(
            method, url, params=all_params or None, json=json, data=data, headers=all_headers,
            timeout=timeout or self.timeout, ok=frozenset(ok), bucket=bucket, expect_json=expect_json,
        )  # fmt: skip

    def token_request(self, url: str, *, data=None, json=None, headers=None) -> Any:
        """POST to a token endpoint: no auth, no rate limiter; returns the parsed JSON."""
        url = self.url(url)
        self._check_credentials_host(url)
        response = self._send(
            "POST", url, params=None, json=json, data=data, headers=dict(headers or {}),
            timeout=self.timeout, ok=frozenset(), bucket=None, expect_json=True,
        )  # fmt: skip
        return response.data

    def _check_credentials_host(self, url: str) -> None:
        """Refuse to send the credentials to a host they were not given for."""
        if self.credentials_hosts is None:
            return
        host = outbound.url_host(url)
        if host not in self.credentials_hosts:
            raise CrmTargetRefused(
                self.redact(
                    f"the credentials were given for {', '.join(sorted(self.credentials_hosts))}, not "
                    f"{host or url}; enter them again for the new address"
                ),
                crm=self.crm,
            )

    def _send(
        self, method, url, *, params, json, data, headers, timeout, ok, bucket, expect_json
    ) -> CrmResponse:
        if json is not None:
            # Serialised here rather than by requests: orjson is several times faster on a
            # batch of 100 contacts, and the body is the same JSON.
            data = jsontext.dumps_bytes(json)
            if not any(name.lower() == "content-type" for name in headers):
                headers = {**headers, "Content-Type": "application/json"}
        problem = outbound.url_problem(url, kind=self.crm)
        if problem:
            error = CrmTargetRefused(self.redact(f"refused to call {url}: {problem}"), crm=self.crm)
            self._log(method, url, params, None, 0.0, error=error)
            raise error
        started = time.monotonic()
        meter = _meter.get()
        if meter is not None:
            meter.calls += 1
        try:
            # Never follow a redirect: it would carry the credentials to a host nobody checked.
            raw = self.session.request(
                method, url, params=params, data=data, headers=headers, timeout=timeout,
                allow_redirects=False,
            )  # fmt: skip
        except outbound.OutboundRefused as exc:
            elapsed = (time.monotonic() - started) * 1000
            error = CrmTargetRefused(self.redact(f"refused to connect: {exc.reason}"), crm=self.crm)
            self._log(method, url, params, None, elapsed, error=error)
            raise error from None
        except requests.RequestException as exc:
            elapsed = (time.monotonic() - started) * 1000
            error = self._error_for_exception(exc)
            self._log(method, url, params, None, elapsed, error=error)
            raise error from None
        elapsed = (time.monotonic() - started) * 1000

        observation = parse_rate_limit_headers(raw.headers)
        if observation is not None:
            if bucket is not None:
                bucket.observe(observation)
            if self.quota is not None:
                self.quota.observe(observation)

        if raw.is_redirect:
            error = self._error_for_redirect(raw)
            self._log(method, url, params, raw, elapsed, error=error)
            raise error

        body, parse_failed = _parse_body(raw)
        if 200 <= raw.status_code < 300 or raw.status_code in ok:
            if parse_failed and not expect_json:
                body = None
            elif parse_failed:
                error = CrmUnavailable(
                    self.redact(f"the CRM answered HTTP {raw.status_code} with a body that is not JSON"),
                    status=raw.status_code,
                    body=self.redact(raw.text[:500]),
                    crm=self.crm,
                )
                self._log(method, url, params, raw, elapsed, error=error)
                raise error
            self._log(method, url, params, raw, elapsed)
            return CrmResponse(
                status=raw.status_code,
                headers=raw.headers,
                data=body,
                text=raw.text,
                elapsed_ms=elapsed,
                url=url,
            )

        error = self._error_for_response(raw, body)
        if meter is not None and raw.status_code == 429:
            meter.rate_limited += 1
        if isinstance(error, CrmRateLimited):
            self._rate_limit_policy_apply(error, body, observation)
            self._rate_limited(error, bucket)
        self._log(method, url, params, raw, elapsed, error=error)
        raise error

    def _rate_limited(self, error: CrmRateLimited, bucket: RateLimiter | None) -> None:
        """Stop where the CRM said: the whole connection until a daily reset, else this limiter's window."""
        if error.daily:
            if self.hold is not None:
                self.hold.hold(until=error.resets_at, reason=error.message)
            return
        if bucket is not None:
            bucket.penalize(error.retry_after or bucket.window)

    # -- translation ----------------------------------------------------------------------
    def _error_for_response(self, raw: requests.Response, body: Any) -> CrmError:
        status = raw.status_code
        cls = (self.classify(status, body) if self.classify else None) or error_class_for(status)
        try:
            message = self.error_message(body, raw)
        except Exception:  # noqa: BLE001 - a surprising body must not hide the error itself
            message = default_error_message(body, raw)
        retry_after = retry_after_seconds(raw.headers.get("Retry-After"))
        if cls is CrmLocked and retry_after is None:
            retry_after = LOCKED_RETRY_AFTER
        return cls(
            self.redact(message or f"HTTP {status}"),
            status=status,
            retry_after=retry_after,
            body=redact_data(body, secrets=self.secrets()),
            crm=self.crm,
        )

    def _rate_limit_policy_apply(
        self, error: CrmRateLimited, body: Any, observation: RateObservation | None
    ) -> None:
        """Say on a 429 which limit was hit (`rate_policy`) and how long that one lasts.

        A daily quota lasts until the CRM's daily reset; a rolling window, Retry-After when the
        CRM sent one, else the window its headers give, else the policy's own.
        """
        try:
            policy = self.rate_policy(body) if self.rate_policy else None
        except Exception:  # noqa: BLE001 - an unreadable body is a plain 429, as before
            policy = None
        if policy is None:
            return
        error.policy = policy.name
        if policy.daily:
            now = timezone.now()
            resets_at = self.hold.reset_time(now=now) if self.hold is not None else next_daily_reset(now=now)
            error.resets_at = resets_at
            error.retry_after = max(1.0, round((resets_at - now).total_seconds()))
            return
        if error.retry_after is None and observation is not None:
            error.retry_after = observation.reset_after or observation.window
        if error.retry_after is None:
            error.retry_after = policy.window

    def _error_for_redirect(self, raw: requests.Response) -> CrmError:
        """A redirect is a wrong base URL (or a hostile one): name the target, send nothing there."""
        target = raw.headers.get("Location", "")[:500] or "(no Location header)"
        return CrmValidationError(
            self.redact(
                f"the CRM answered HTTP {raw.status_code} redirecting to {target}; redirects are "
                "not followed with credentials, so set the connection's base_url to the final address"
            ),
            status=raw.status_code,
            crm=self.crm,
        )

    def _error_for_exception(self, exc: requests.RequestException) -> CrmError:
        text = self.redact(f"{exc.__class__.__name__}: {exc}")
        if isinstance(exc, requests.ConnectTimeout):
            return CrmUnavailable(f"could not connect to the CRM in time ({text})", crm=self.crm)
        if isinstance(exc, requests.Timeout):
            return CrmTimeout(f"the CRM did not answer within {self.timeout[1]:g}s ({text})", crm=self.crm)
        if isinstance(exc, requests.ConnectionError):
            return CrmUnavailable(f"could not reach the CRM ({text})", crm=self.crm)
        return CrmUnavailable(f"request to the CRM failed ({text})", crm=self.crm)

    # -- logging --------------------------------------------------------------------------
    def _log(self, method, url, params, raw, elapsed, *, error: CrmError | None = None) -> None:
        shown = url
        if params:
            shown += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        shown = self.redact(shown)
        remaining = raw.headers.get("X-HubSpot-RateLimit-Remaining") if raw is not None else None
        remaining = remaining or (raw.headers.get("x-sib-ratelimit-remaining") if raw is not None else None)
        status = raw.status_code if raw is not None else "-"
        if elapsed:  # a call was made (a refused target never left the process)
            http_call_observe(
                crm=self.crm,
                method=method,
                status=raw.status_code if raw is not None else None,
                seconds=elapsed / 1000,
            )
        extra = f" remaining={remaining}" if remaining is not None else ""
        if error is None:
            logger.info("%s %s %s -> %s in %.0f ms%s", self.crm, method, shown, status, elapsed, extra)
        else:
            logger.warning(
                "%s %s %s -> %s in %.0f ms%s: %s", self.crm, method, shown, status, elapsed, extra, error
            )


def _parse_body(raw: requests.Response) -> tuple[Any, bool]:
    """(parsed JSON or None for an empty body, whether a non-empty body failed to parse)."""
    text = raw.text
    if not text or not text.strip():
        return None, False
    try:
        return jsonlib.loads(text), False
    except ValueError:
        return text, True


# Credential fields that name an account rather than prove it: not secrets, and often ordinary
# words ("admin", "sandbox") that must not be blanked in every logged URL.
IDENTITY_CREDENTIAL_KEYS = frozenset({"username", "user", "login", "email", "account", "account_id"})


def _flatten_strings(value) -> Iterable[str]:
    if isinstance(value, str):
        if len(value) >= 4:
            yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in IDENTITY_CREDENTIAL_KEYS:
                continue
            yield from _flatten_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flatten_strings(item)
