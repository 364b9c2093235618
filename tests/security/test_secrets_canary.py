"""The secrets canary: a known credential goes through a full sync against the sandbox HubSpot
(connection created by the API, credentials tested, property definitions synced, contacts pushed,
then a failing push and a failing test once the CRM stops accepting it), and is then searched for
in every API response, every admin page, every log line, every stored error and audit event, and
every byte of every table.

One exception, by design: the sandbox's own configuration (sandbox_sandboxconfig, and its admin
page) lists the tokens the emulated CRM accepts, as the real HubSpot must know a token to check it.
That is the CRM's side of the wire, off in production; the sandbox's request log (our side's
requests as the CRM saw them) is searched like the rest.
"""

import base64
import io
import logging
import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import get_resolver

from accounts.models import AuditEvent
from crm_sync.models import ContactSyncState
from crm_sync.services.push import push_connection_drain
from integrations import registry
from integrations.models import CrmConnection
from sandbox.config import config_update
from tests.factories import UserFactory
from tests.properties.factories import PropertyDefinitionFactory
from tests.security.test_isolation import _fill, _group_names, _walk

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz]

UNIQUE = uuid.uuid4().hex
CANARY = "pat-na1-canary-" + UNIQUE  # a HubSpot private-app token, unique per run
SANDBOX_OWN_TABLES = {"sandbox_sandboxconfig"}


def forms(secret: str) -> list[str]:
    """The secret as it could leak: whole, base64-encoded (as in a Basic header), or any 12 characters
    of its random part (a "masked" tail or head; 12 random hex characters never occur by chance)."""
    windows = [UNIQUE[i : i + 12] for i in range(len(UNIQUE) - 11)]
    return [secret, base64.b64encode(secret.encode()).decode(), *windows]


def assert_clean(text: str, where: str):
    for variant in forms(CANARY):
        assert variant not in text, f"the canary credential appeared in {where}"


@pytest.fixture
def log_lines():
    """Every log line as the project's handlers write it (with their redaction filter)."""
    from core.logging import RedactSecretsFilter, RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_a_credential_used_for_a_full_sync_appears_nowhere(live_server, org, make_api_client, log_lines):
    base = f"{live_server.url}/sandbox/hubspot"
    config_update(kind="hubspot", changes={"credentials": {"tokens": [CANARY]}})
    api = make_api_client(org)
    answers: list[tuple[str, str]] = []

    def call(method, path, body=None):
        response = (
            getattr(api, method)(path, body, format="json")
            if body is not None
            else getattr(api, method)(path)
        )
        answers.append((f"{method.upper()} {path} → {response.status_code}", response.content.decode()))
        return response

    # ---- a full sync with the canary ----------------------------------------------------------
    created = call(
        "post",
        "/api/v1/connections/",
        {
            "kind": "hubspot",
            "name": "canary",
            "base_url": base,
            "credentials": {"access_token": CANARY},
            "settings": {"rate_limits": {"default": None}},
        },
    )
    assert created.status_code == 201, created.content
    stored = CrmConnection.objects.get(pk=created.json()["id"])
    assert stored.credentials == {"access_token": CANARY}  # so the searches below could find it
    assert call("post", "/api/v1/admin/test-crm-credentials/", {"crm": "hubspot"}).json()["status"] == "valid"
    tried = call("post", "/api/v1/admin/test-crm-credentials/", {"crm": "hubspot", "api_key": CANARY})
    assert tried.json()["status"] == "valid"
    PropertyDefinitionFactory(
        organization=org, object_type="contacts", name="canary_score", label="Canary score"
    )
    assert call("post", "/api/v1/hubspot/properties/sync/contacts").status_code == 200
    contact_ids = [
        call("post", "/api/v1/contacts/", {"email": f"canary{n}@example.com", "first_name": f"C{n}"}).json()[
            "id"
        ]
        for n in range(3)
    ]
    queued = call("post", "/api/v1/contacts/bulk-queue-sync/", {"crm": "hubspot", "contact_ids": contact_ids})
    assert queued.status_code == 200, queued.content
    push_connection_drain(connection_id=stored.pk, max_seconds=30)
    assert ContactSyncState.objects.filter(connection=stored, sync_status="Complete").count() == 3

    # ---- then the CRM stops accepting it: failures are stored and reported -------------------
    config_update(kind="hubspot", changes={"credentials": {"tokens": ["another-token"]}})
    assert (
        call("post", "/api/v1/admin/test-crm-credentials/", {"crm": "hubspot"}).json()["status"] == "invalid"
    )
    call("patch", f"/api/v1/contacts/{contact_ids[0]}/", {"first_name": "Changed"})
    call("post", f"/api/v1/contacts/{contact_ids[0]}/queue-sync/", {"crm": "hubspot", "force": True})
    push_connection_drain(connection_id=stored.pk, max_seconds=30)
    state = ContactSyncState.objects.get(connection=stored, contact_id=contact_ids[0])
    assert state.sync_status != "Complete" or state.error  # the failure was recorded somewhere

    # ---- every API response ------------------------------------------------------------------------
    values = {
        "pk": str(stored.pk),
        "id": str(stored.pk),
        "contact_id": contact_ids[0],
        "crm": "hubspot",
        "sync_type": "contacts",
        "format": "json",
        "record_id": "1",
        "source": "hubspot",
        "action": "assign",
    }
    for regex, pattern in _walk(get_resolver().url_patterns):
        if not regex.startswith("api/") or "format" in _group_names(regex):
            continue
        path = _fill(regex, {**values, "pk": _pk_for(pattern, stored, contact_ids[0])})
        call("get", path)
    for label, body in answers:
        assert_clean(body, f"the API answer to {label}")

    # ---- every admin page ------------------------------------------------------------------------
    superuser = Client()
    superuser.force_login(UserFactory(is_superuser=True))
    pages = ["/admin/"]
    for model, _model_admin in admin.site._registry.items():
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        if model._meta.db_table in SANDBOX_OWN_TABLES:
            continue
        pages.append(changelist)
        for pk in model._default_manager.values_list("pk", flat=True)[:20]:
            pages.append(f"{changelist}{pk}/change/")
            pages.append(f"{changelist}{pk}/history/")
    for page in pages:
        response = superuser.get(page)
        assert response.status_code in (200, 302), f"{page}: {response.status_code}"
        assert_clean(response.content.decode(), f"the admin page {page}")

    # ---- the setup form: every kind's add page, and forms posted with the canary -----------------
    for kind in registry.kinds():
        page = superuser.get(f"/admin/integrations/crmconnection/add/?kind={kind}")
        assert page.status_code == 200
        assert_clean(page.content.decode(), f"the setup form of {kind}")
    setup = {
        "organization": org.pk,
        "name": "canary-admin",
        "enabled": "on",
        "base_url": base,
        "credential__access_token": CANARY,
        "batch_size": 100,
        "push_interval_seconds": 60,
        "pull_interval_seconds": 300,
        "retry_base_seconds": 30,
        "retry_cap_seconds": 3600,
        "max_retries": 8,
        "conflict_strategy": "latest_timestamp",
        "sync_direction": "both",
        "contact_rule": "all",
        "mapping-rows": 1,
        "mapping-0-local": "job_title",
        "mapping-0-remote": "no_such_property",
    }
    config_update(kind="hubspot", changes={"credentials": {"tokens": [CANARY]}})
    refused = superuser.post("/admin/integrations/crmconnection/add/?kind=hubspot", setup)
    assert refused.status_code == 200 and "no_such_property" in refused.content.decode()
    assert_clean(refused.content.decode(), "the setup form refusing a mapping")
    setup["mapping-0-remote"] = "jobtitle"
    saved = superuser.post("/admin/integrations/crmconnection/add/?kind=hubspot", setup, follow=True)
    assert "credentials tested" in saved.content.decode()
    assert_clean(saved.content.decode(), "the page after saving the setup form")
    admin_made = CrmConnection.objects.get(name="canary-admin")
    assert admin_made.credentials == {"access_token": CANARY}
    edit = superuser.get(f"/admin/integrations/crmconnection/{admin_made.pk}/change/").content.decode()
    assert 'value="jobtitle" selected' in edit  # its mapping, picked from the CRM's list
    assert_clean(edit, "the setup form of a saved connection")
    config_update(kind="hubspot", changes={"credentials": {"tokens": ["another-token"]}})
    failed = superuser.post(
        f"/admin/integrations/crmconnection/{admin_made.pk}/change/",
        {**setup, "base_url": base + "/", "organization": ""},
    )
    assert "Credential test failed" in failed.content.decode()
    assert_clean(failed.content.decode(), "the setup form after a failed credential test")

    # ---- stored errors and audit events --------------------------------------------------------
    for state in ContactSyncState.objects.all():
        assert_clean(f"{state.error} {state.last_request} {state.last_response}", "a sync state")
    for event in AuditEvent.objects.all():
        assert_clean(f"{event.action} {event.changes} {event.actor_label}", f"the audit event {event.action}")

    # ---- every log line ---------------------------------------------------------------------------
    lines = log_lines.getvalue()
    assert "hubspot" in lines.lower() or "/api/v1/" in lines  # the capture saw the run
    assert_clean(lines, "the log")

    # ---- every byte of every table ----------------------------------------------------------------
    assert_clean(database_dump(), "the database")


def _pk_for(pattern, connection_row, contact_id) -> str:
    view = getattr(pattern.callback, "cls", None)
    serializer = getattr(view, "serializer_class", None)
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None:
        return str(connection_row.pk)
    if model is CrmConnection:
        return str(connection_row.pk)
    first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return str(first if first is not None else contact_id)


def database_dump() -> str:
    """Every row of every table but the sandbox's own configuration, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table in SANDBOX_OWN_TABLES:
                continue
            # The table names come from the database's own catalogue.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    chunks.append(str(value))
    dump = "\n".join(chunks)
    assert "canary0@example.com" in dump  # the dump holds the run's rows
    return dump
