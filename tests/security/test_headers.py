"""Production headers: HSTS, the Content-Security-Policy and pages that work under it, check --deploy."""

import base64
import hashlib
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from core.security_headers import csp_header_value
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
HASHED_HANDLERS = ("onSelectToggleChange(event)", 'document.getElementById("logoutForm").submit()')


class _ScriptsAndHandlers(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' scripts would block."""

    def __init__(self):
        super().__init__()
        self.inline_scripts: list[str] = []
        self.script_sources: list[str] = []
        self.handlers: list[str] = []
        self._in_inline = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(value or "")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.handlers.append(value)
        if tag == "script":
            if attributes.get("src"):
                self.script_sources.append(attributes["src"])
            elif (attributes.get("type") or "text/javascript") not in ("application/json",):
                self._in_inline = True
                self.inline_scripts.append("")

    def handle_data(self, data):
        if self._in_inline and data.strip():
            self.inline_scripts[-1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline = False


def assert_runs_under_the_csp(response):
    assert response.status_code == 200, response.status_code
    assert response["Content-Security-Policy"] == csp_header_value(django_settings.SECURE_CSP)
    page = _ScriptsAndHandlers()
    page.feed(response.content.decode())
    assert page.inline_scripts == [], "an inline script the CSP blocks"
    allowed_handlers = set(HASHED_HANDLERS)  # hashed in SECURE_CSP's script-src
    assert set(page.handlers) <= allowed_handlers, page.handlers
    for source in page.script_sources:
        assert source.startswith("/static/") or not re.match(r"^[a-z]+:|^//", source), source


@pytest.fixture
def staff_client(org):
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/contacts/contact/",
        "/admin/contacts/contact/add/",
        "/admin/contacts/contact/import/",
        "/admin/contacts/contact/export/",
        "/admin/integrations/crmconnection/add/",
        "/admin/integrations/crmconnection/add/?kind=hubspot",
        "/admin/accounts/organization/add/",
        "/admin/django_celery_beat/periodictask/add/",
        "/api/v1/",
        "/api/v1/contacts/",
        "/api/docs/",
        "/api/docs/?script=",
    ],
)
def test_pages_run_under_the_csp(staff_client, path):
    response = staff_client.get(path, HTTP_ACCEPT="text/html")
    if path.endswith("?script="):  # Swagger UI's start-up script: a file, same origin
        assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()
        return
    assert_runs_under_the_csp(response)


def test_the_login_pages_run_under_the_csp():
    assert_runs_under_the_csp(Client().get("/admin/login/"))
    assert_runs_under_the_csp(Client().get("/api-auth/login/"))


def _digest(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def test_the_hashed_handlers_are_the_libraries_current_ones():
    """The CSP allows two inline handlers by hash; if a library changes one, this fails."""
    import import_export
    import rest_framework

    export = Path(import_export.__file__).parent / "templates/admin/import_export/export.html"
    tags = Path(rest_framework.__file__).parent / "templatetags/rest_framework.py"
    found = set(re.findall(r'onchange="([^"]+)"', export.read_text()))
    found |= set(re.findall(r"onclick='([^']+)'", tags.read_text()))
    assert found == set(HASHED_HANDLERS)
    assert {_digest(h) for h in found} <= set(django_settings.SECURE_CSP["script-src"])


def test_csp_forbids_framing_plugins_and_foreign_scripts(settings):
    policy = settings.SECURE_CSP
    assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_api_json_responses_carry_the_headers(api_client):
    response = api_client.get("/api/v1/contacts/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_hsts_is_sent_over_https_when_configured(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = Client().get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in Client().get("/healthz")  # never over plain http


def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "API_DOCS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 20 + "-production-like-secret-key-for-the-deploy-check-0123456789",
        FIELD_ENCRYPTION_KEYS="q1QCJ3o6x6B9Qd1iLvQ3qg5u0Cq3w7b0w8Zf0D6yJ2E=",
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        **extra,
    )
    return env


def _manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Each is explained in docs/operations.md ("check --deploy"); a new warning fails this test.
EXPLAINED_DEPLOY_WARNINGS = {"security.W008", "security.W021"}


def test_check_deploy_with_production_settings_leaves_only_explained_warnings(tmp_path):
    result = _manage("check", "--deploy", env=_production_env(VAR_DIR=str(tmp_path)))
    output = result.stdout + result.stderr
    found = set(re.findall(r"\((\w+\.[EW]\d+)\)", output))
    assert found == EXPLAINED_DEPLOY_WARNINGS, output
    operations = (BASE_DIR / "docs/operations.md").read_text()
    assert all(code in operations for code in found)


def test_production_defaults_turn_hsts_on_and_the_embedded_default_off(tmp_path):
    code = "from django.conf import settings; print(settings.SECURE_HSTS_SECONDS, settings.DEBUG)"
    production = _manage("shell", "-c", code, env=_production_env(VAR_DIR=str(tmp_path)))
    assert production.stdout.split()[-2:] == ["31536000", "False"], production.stderr
    embedded_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    embedded_env.update(DJANGO_SETTINGS_MODULE="config.settings.base", VAR_DIR=str(tmp_path))
    embedded = _manage("shell", "-c", code, env=embedded_env)
    assert embedded.stdout.split()[-2:] == ["0", "True"], embedded.stderr


# ---- API schema and docs: public or not by API_DOCS_PUBLIC ----------------------------------
def test_schema_and_docs_are_public_by_default():
    assert Client().get("/api/schema/").status_code == 200
    assert Client().get("/api/docs/").status_code == 200


def test_private_schema_needs_a_key_or_a_staff_session(settings, make_api_client, org):
    settings.API_DOCS_PUBLIC = False
    assert Client().get("/api/schema/").status_code in (401, 403)
    assert Client().get("/api/docs/").status_code in (401, 403)
    assert make_api_client(org, scopes=["read"]).get("/api/schema/").status_code == 200
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get("/api/docs/").status_code == 200
    assert staff.get("/api/schema/").status_code == 200
    not_staff = Client()
    not_staff.force_login(UserFactory(is_staff=False))
    assert not_staff.get("/api/schema/").status_code == 403
