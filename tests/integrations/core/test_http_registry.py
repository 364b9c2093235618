"""The HTTP client (translation, redaction, sessions) and the connector registry."""

import logging

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from integrations import registry
from integrations.auth import ApiKeyQuery, Bearer
from integrations.connectors.base import Capability, Connector
from integrations.errors import CrmConflict, CrmNotFound, CrmUnavailable, CrmValidationError
from integrations.http import CrmHttpClient, IdempotentConnectRetry, session_for, sessions_close_all
from tests.integrations.factories import CrmConnectionFactory

BASE = "https://crm.example.com"
SECRET = "super-secret-token-9876"


def client(**kw) -> CrmHttpClient:
    return CrmHttpClient(crm="test", base_url=BASE, auth=Bearer(SECRET), **kw)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, CrmValidationError),
        (422, CrmValidationError),
        (404, CrmNotFound),
        (409, CrmConflict),
        (503, CrmUnavailable),
    ],
)
def test_status_translation(mocked_responses, status, cls):
    mocked_responses.get(f"{BASE}/x", status=status, json={"message": "nope"})
    with pytest.raises(cls) as exc:
        client().get("/x")
    assert exc.value.message == "nope" and exc.value.status == status


def test_ok_statuses_are_returned_not_raised(mocked_responses):
    mocked_responses.post(f"{BASE}/x", status=409, json={"message": "exists"})
    assert client().post("/x", ok=(409,)).data == {"message": "exists"}


def test_secrets_are_redacted_from_exception_text_body_and_logs(mocked_responses, caplog):
    # given: a CRM that echoes the token back in its error body
    mocked_responses.get(
        f"{BASE}/x", status=401, json={"message": f"token {SECRET} is invalid", "echo": {"apikey": SECRET}}
    )
    mocked_responses.get(f"{BASE}/y", body=requests.exceptions.ConnectionError(f"failed for ?key={SECRET}"))
    c = CrmHttpClient(crm="test", base_url=BASE, auth=ApiKeyQuery("key", SECRET))
    caplog.set_level(logging.INFO, logger="integrations.http")
    # when
    with pytest.raises(Exception) as first:
        c.get("/x")
    with pytest.raises(CrmUnavailable) as second:
        c.get("/y")
    # then
    for exc in (first.value, second.value):
        assert SECRET not in str(exc) and SECRET not in exc.message and SECRET not in repr(exc.body)
    assert caplog.records, "every call is logged"
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_connect_retry_is_only_for_idempotent_methods():
    retry = IdempotentConnectRetry(total=2, connect=2, read=0, status=0, other=0, allowed_methods={"GET"})
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    error = NewConnectionError(None, "refused")
    assert retry.increment(method="GET", url="/", error=error).connect == 1
    with pytest.raises(MaxRetryError):
        retry.increment(method="POST", url="/", error=error)


@pytest.mark.django_db
def test_session_is_pooled_per_connection_until_it_changes(org):
    connection = CrmConnectionFactory(organization=org)
    first = session_for(connection)
    assert session_for(connection) is first
    connection.name = "renamed"
    connection.save()
    assert session_for(connection) is not first


@pytest.mark.django_db
def test_closing_all_sessions_closes_them_and_pools_afresh(org, monkeypatch):
    sessions_close_all()  # what earlier tests pooled, really closed
    closed = []
    monkeypatch.setattr(requests.Session, "close", lambda self: closed.append(self))
    one, two = CrmConnectionFactory(organization=org), CrmConnectionFactory(organization=org)
    pooled = {session_for(one), session_for(two)}

    assert sessions_close_all() == 2

    assert set(closed) == pooled
    assert session_for(one) not in pooled
    assert sessions_close_all() == 1


def test_unknown_crm_lists_valid_kinds():
    with pytest.raises(registry.UnknownCrm) as exc:
        registry.get_connector_class("salesforce")
    assert exc.value.code == "unknown_crm" and exc.value.status_code == 400
    assert "hubspot" in exc.value.details["valid"]


class _Honest(Connector):
    kind = "honest"
    display_name = "Honest"
    capabilities = frozenset({Capability.TEST_CREDENTIALS})

    def test_credentials(self):
        raise NotImplementedError


class _Liar(Connector):
    kind = "liar"
    display_name = "Liar"
    capabilities = frozenset({Capability.PUSH_CONTACTS})


class _Hidden(Connector):
    kind = "hidden"
    display_name = "Hidden"

    def pull_contacts(self, *, since, cursor=None):
        raise NotImplementedError


def test_register_temporarily_adds_and_removes():
    with registry.register_temporarily(_Honest):
        assert registry.get_connector_class("honest") is _Honest
        assert "honest" in registry.kinds()
    assert "honest" not in registry.kinds()


@pytest.mark.parametrize("cls", [_Liar, _Hidden])
def test_capabilities_must_match_overridden_methods(cls):
    with pytest.raises(ImproperlyConfigured), registry.register_temporarily(cls):
        pass


def test_a_path_that_does_not_import_is_improperly_configured(settings):
    settings.CRM_CONNECTORS = [*settings.CRM_CONNECTORS, "integrations.connectors.nope.NopeConnector"]
    try:
        with pytest.raises(ImproperlyConfigured):
            registry.reload()
    finally:
        settings.CRM_CONNECTORS = settings.CRM_CONNECTORS[:-1]
        registry.reload()


def test_json_bodies_are_sent_as_compact_utf8_json(mocked_responses):
    mocked_responses.post(f"{BASE}/x", json={"ok": True})
    mocked_responses.post(f"{BASE}/y", json={"ok": True})
    client().post("/x", json={"name": "Zoë", "tags": ["a"]})
    client().post("/y", json={"a": 1}, headers={"content-type": "application/vnd.crm+json"})
    sent, typed = (call.request for call in mocked_responses.calls)
    assert sent.body == '{"name":"Zoë","tags":["a"]}'.encode()
    assert sent.headers["Content-Type"] == "application/json"
    assert typed.headers["Content-Type"] == "application/vnd.crm+json"
