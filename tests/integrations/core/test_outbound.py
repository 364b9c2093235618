"""Outbound targets (integrations/outbound.py): refused at save, refused again on connect.

The connect-time tests talk to a real HTTP server on 127.0.0.1 (the test settings allow
loopback for the sandbox tests; each test here that needs a refusal empties that list).
"""

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses

from integrations import outbound
from integrations.auth import Bearer
from integrations.errors import CrmAuthError, CrmTargetRefused, CrmValidationError
from integrations.http import CrmHttpClient, new_session

SECRET = "tok-outbound-secret-5678"
ROOT = Path(__file__).resolve().parents[3]

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://169.254.169.254/", "link-local"),
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[::ffff:a9fe:a9fe]/", "link-local"),
    ("https://[::169.254.169.254]/", "link-local"),  # IPv4-compatible IPv6
    ("https://[2002:a9fe:a9fe::1]/", "link-local"),  # 6to4
    ("https://[64:ff9b::10.0.0.1]/", "private"),  # NAT64
    ("https://10.0.0.1/", "private"),
    ("https://172.16.5.4/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://127.0.0.1/", "loopback"),
    ("https://127.8.9.10:8443/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fd12:3456::1]/", "private"),  # unique-local
    ("https://[fec0::1]/", "site-local"),
    ("https://224.0.0.251/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://240.0.0.1/", "240.0.0.1 is a"),  # reserved (Python files it under private)
    ("https://100.64.0.1/", "shared"),
    ("https://2130706433/", "unusual spelling"),  # decimal 127.0.0.1
    ("https://0177.0.0.1/", "unusual spelling"),  # octal
    ("https://0x7f.0.0.1/", "unusual spelling"),  # hex
    ("https://0x7f000001/", "unusual spelling"),
    ("https://127.1/", "unusual spelling"),  # short form
    ("https://2852039166/", "unusual spelling"),  # decimal 169.254.169.254
    ("https://localhost/", "local name"),
    ("https://LocalHost.:5432/", "local name"),
    ("https://db.localhost/", "local name"),
    ("ftp://mautic.example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://mautic.example.com/", "scheme"),
    ("http://mautic.example.com/", "plain http"),
    ("https://user:pw@mautic.example.com/", "user info"),
    ("https:///nohost", "no host"),
]


@pytest.fixture
def no_private_targets(settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    settings.CRM_OUTBOUND_ALLOW_HTTP = False
    settings.CRM_OUTBOUND_EXTRA_HOSTS = []


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_each_refused_form(no_private_targets, url, reason):
    problem = outbound.url_problem(url, kind="mautic")
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://mautic.example.com/", "mautic"),
        ("https://8.8.8.8/", "n8n"),
        ("https://[2606:4700::1111]/", "rest"),
        ("https://[2002:808:808::1]/", "rest"),  # 6to4 of a public address
        ("https://api.hubapi.com", "hubspot"),
        ("https://API.HUBAPI.COM./crm/v3", "hubspot"),
        ("https://api.brevo.com/v3", "brevo"),
        ("https://partner.brivity.example/api", "brivity"),  # REST presets: any public host
        ("https://crm.example.com", "test"),  # a kind the registry lacks: self-hosted rules
    ],
)
def test_public_targets_pass(no_private_targets, url, kind):
    assert outbound.url_problem(url, kind=kind) is None


def test_hosted_crms_keep_to_their_api_hosts(no_private_targets, settings):
    assert "api.hubapi.com" in outbound.url_problem("https://attacker.example/", kind="hubspot")
    assert "api.brevo.com" in outbound.url_problem("https://api.hubapi.com/v3", kind="brevo")
    settings.CRM_OUTBOUND_EXTRA_HOSTS = ["api-eu1.hubapi.com"]
    assert outbound.url_problem("https://api-eu1.hubapi.com/", kind="hubspot") is None


def test_listed_private_targets_and_http(no_private_targets, settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = ["mautic.internal:8080", "10.1.0.0/16", "[fd00::5]"]
    assert outbound.url_problem("http://mautic.internal:8080/", kind="mautic") is None
    assert outbound.url_problem("http://mautic.internal:8081/", kind="mautic") is not None  # other port
    assert outbound.url_problem("https://10.1.2.3/", kind="mautic") is None
    assert outbound.url_problem("https://10.2.0.1/", kind="mautic") is not None
    assert outbound.url_problem("https://[fd00::5]:9000/", kind="rest") is None  # any port
    # A listed target is the operator's choice, even for a hosted CRM (the sandbox does this).
    assert outbound.url_problem("http://mautic.internal:8080/", kind="hubspot") is None
    assert outbound.url_problem("http://crm.example.com/", kind="mautic") is not None
    settings.CRM_OUTBOUND_ALLOW_HTTP = True
    assert outbound.url_problem("http://crm.example.com/", kind="mautic") is None
    assert outbound.url_problem("http://10.9.9.9/", kind="mautic") is not None  # still private


def _settings_value(tmp_path, name: str, **env_overrides) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "CRM_", "SANDBOX_", "PORT", "RUN_ADDR")
        )
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.base", "VAR_DIR": str(tmp_path / "var")})
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    env.update(env_overrides)
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_embedded_default_lists_the_sandbox_address_and_production_nothing(tmp_path):
    assert _settings_value(tmp_path, "CRM_ALLOWED_PRIVATE_TARGETS") == "['127.0.0.1:8000']"
    moved = _settings_value(
        tmp_path, "CRM_ALLOWED_PRIVATE_TARGETS", CRM_SANDBOX_BASE_URL="http://localhost:8100/sandbox"
    )
    assert moved == "['localhost:8100']"
    production = _settings_value(
        tmp_path,
        "CRM_ALLOWED_PRIVATE_TARGETS",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS="q1QCJ3o6x6B9Qd1iLvQ3qg5u0Cq3w7b0w8Zf0D6yJ2E=",
        DJANGO_ALLOWED_HOSTS="crm.example.com",
    )
    assert production == "[]"


# ---------------------------------------------------------------------------------------
# Connect time: a real server on 127.0.0.1
# ---------------------------------------------------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "https://attacker.example/collect?from=crm")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(base_url: str, crm: str = "mautic") -> CrmHttpClient:
    return CrmHttpClient(crm=crm, base_url=base_url, auth=Bearer(SECRET), session=new_session())


def test_a_loopback_address_is_refused_before_anything_is_sent(local_server, settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    settings.CRM_OUTBOUND_ALLOW_HTTP = True  # so only the address decides
    port = local_server.server_address[1]
    with pytest.raises(CrmTargetRefused) as caught:
        _client(f"http://127.0.0.1:{port}").get("/x")
    assert "loopback" in caught.value.message and caught.value.category == "auth"
    assert local_server.seen == []


def test_a_name_resolving_to_loopback_is_refused_at_connect(local_server, settings, monkeypatch):
    """The URL check passes (a public-looking name); the resolved address is what is refused."""
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    settings.CRM_OUTBOUND_ALLOW_HTTP = True
    port = local_server.server_address[1]
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "crm.rebind.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    client = _client(f"http://crm.rebind.example:{port}")
    assert outbound.url_problem(client.base_url, kind="mautic") is None
    with pytest.raises(CrmTargetRefused) as caught:
        client.get("/x")
    assert "crm.rebind.example resolves to 127.0.0.1 is a loopback address" in caught.value.message
    assert local_server.seen == []


def test_every_resolved_address_is_checked_and_only_checked_ones_are_used(
    local_server, settings, monkeypatch
):
    """One public and one private answer: refused, though the first would have been fine. And a
    name resolved once: a second, different answer (rebinding) is never consulted."""
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    settings.CRM_OUTBOUND_ALLOW_HTTP = True
    port = local_server.server_address[1]

    def mixed(host, port_, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port_)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port_)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(CrmTargetRefused, match="10.0.0.7 is a private address"):
        _client(f"http://crm.mixed.example:{port}").get("/x")

    # Listed by name: resolved once to loopback, connected to exactly that address.
    settings.CRM_ALLOWED_PRIVATE_TARGETS = [f"crm.listed.example:{port}"]
    answers = iter(["127.0.0.1", "169.254.169.254"])
    lookups = []

    def rebinding(host, port_, *args, **kwargs):
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    response = _client(f"http://crm.listed.example:{port}").get("/listed")
    assert response.status == 200 and response.data == {"ok": True}
    assert lookups == ["crm.listed.example"]
    assert local_server.seen == [("/listed", f"Bearer {SECRET}")]


def test_a_listed_loopback_target_is_reached(local_server, settings):
    port = local_server.server_address[1]
    settings.CRM_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port}"]
    assert _client(f"http://127.0.0.1:{port}").get("/ok").data == {"ok": True}
    settings.CRM_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port + 1}"]  # the wrong port
    with pytest.raises(CrmTargetRefused):
        _client(f"http://127.0.0.1:{port}").get("/ok")


def test_a_redirect_is_an_error_naming_its_target_and_is_not_followed(local_server, settings):
    port = local_server.server_address[1]
    settings.CRM_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port}"]
    with pytest.raises(CrmValidationError) as caught:
        _client(f"http://127.0.0.1:{port}").get("/redirect")
    error = caught.value
    assert error.status == 302 and not error.retriable
    assert "https://attacker.example/collect?from=crm" in error.message
    assert [path for path, _ in local_server.seen] == ["/redirect"]  # asked once, not followed


def test_a_redirect_is_not_followed_under_responses_either():
    """The same through the mocked transport, for each redirect status."""
    for status in (301, 302, 303, 307, 308):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
            mocked.post(
                "https://crm.example.com/token", status=status, headers={"Location": "https://x.example/"}
            )
            mocked.post("https://x.example/", json={"access_token": "stolen"})
            with pytest.raises(CrmValidationError, match="redirecting to https://x.example/"):
                _client("https://crm.example.com").post("/token", json={"a": 1})
            assert [call.request.url for call in mocked.calls] == ["https://crm.example.com/token"]


def test_token_requests_pass_the_same_checks(no_private_targets):
    from integrations.auth import OAuth2ClientCredentials

    auth = OAuth2ClientCredentials(
        token_url="https://169.254.169.254/token", client_id="id", client_secret="s" * 12
    )
    client = CrmHttpClient(crm="rest", base_url="https://crm.example.com", auth=auth, session=new_session())
    with pytest.raises(CrmAuthError, match="link-local"):
        client.get("/contacts")


def test_absolute_urls_on_a_hosted_crm_are_pinned(no_private_targets):
    client = _client("https://api.hubapi.com", crm="hubspot")
    with pytest.raises(CrmTargetRefused, match="api.hubapi.com"):
        client.get("https://attacker.example/crm/v3/objects/contacts")


def test_connect_check_rejects_empty_resolution():
    with pytest.raises(outbound.OutboundRefused):
        outbound.addresses_check(host="x.example", port=443, addresses=[])


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "host:port", "[::1]:x"])
def test_a_malformed_private_target_entry_is_named(settings, entry):
    from django.core.exceptions import ImproperlyConfigured

    settings.CRM_ALLOWED_PRIVATE_TARGETS = [entry]
    with pytest.raises(ImproperlyConfigured, match="CRM_ALLOWED_PRIVATE_TARGETS"):
        outbound.private_entries()


def test_a_long_crm_message_is_cut(no_private_targets):
    from integrations.errors import MESSAGE_MAX_CHARS

    with responses.RequestsMock() as mocked:
        mocked.post("https://crm.example.com/x", status=400, json={"message": "M" * 50_000})
        with pytest.raises(CrmValidationError) as caught:
            _client("https://crm.example.com").post("/x", json={})
    assert len(caught.value.message) == MESSAGE_MAX_CHARS
