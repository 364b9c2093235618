"""The REST connector's three auth types over mocked HTTP: API key, JWT login/refresh, OAuth2."""

import json
import time

import pytest
from django.db import connection as db_connection
from responses import matchers

from integrations.errors import CrmAuthError
from integrations.models import CrmConnection
from integrations.registry import connector_for

BASE = "https://crm.example.test"
CONTACTS = f"{BASE}/api/v1/contacts"
EMPTY = {"data": []}


def jwt_settings(**auth):
    return {"auth": {"type": "jwt", **auth}}


class TestApiKey:
    def test_header_and_format_are_configurable(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"api_key": "key-0123456789"},
            settings={"auth": {"type": "api_key", "header": "X-API-Key", "format": "{key}"}},
        )
        mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"X-API-Key": "key-0123456789"})]
        )
        pages = list(connector_for(connection).pull_contacts(since=None))
        assert pages[0].records == []

    def test_default_is_a_bearer_authorization_header(self, make_connection, mocked_responses):
        connection = make_connection(base_url=BASE, credentials={"api_key": "key-0123456789"})
        mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer key-0123456789"})]
        )
        list(connector_for(connection).pull_contacts(since=None))

    def test_missing_key_is_an_auth_error_without_a_call(self, make_connection, mocked_responses):
        connection = make_connection(base_url=BASE, credentials={})
        with pytest.raises(CrmAuthError):
            list(connector_for(connection).pull_contacts(since=None))
        assert len(mocked_responses.calls) == 0


class TestJwt:
    LOGIN = f"{BASE}/auth/login"
    REFRESH = f"{BASE}/auth/refresh"

    @pytest.fixture
    def connection(self, make_connection):
        return make_connection(
            base_url=BASE,
            credentials={"username": "ada", "password": "pw-secret-123"},
            settings=jwt_settings(username_field="email"),
        )

    def test_logs_in_once_and_reuses_the_token(self, connection, mocked_responses):
        login = mocked_responses.post(
            self.LOGIN,
            json={"access_token": "jwt-access-1111", "refresh_token": "jwt-refresh-1111", "expires_in": 3600},
            match=[matchers.json_params_matcher({"email": "ada", "password": "pw-secret-123"})],
        )
        data = mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer jwt-access-1111"})]
        )
        connector = connector_for(connection)
        list(connector.pull_contacts(since=None))
        list(connector.pull_contacts(since=None))
        # A second connector (another worker) finds the stored token and does not log in again.
        list(connector_for(CrmConnection.objects.get(pk=connection.pk)).pull_contacts(since=None))
        assert login.call_count == 1
        assert data.call_count == 3

    def test_token_is_stored_back_encrypted(self, connection, mocked_responses):
        mocked_responses.post(
            self.LOGIN,
            json={"access_token": "jwt-access-2222", "refresh_token": "jwt-refresh-2222", "expires_in": 60},
        )
        mocked_responses.get(CONTACTS, json=EMPTY)
        list(connector_for(connection).pull_contacts(since=None))
        stored = CrmConnection.objects.get(pk=connection.pk).token_state
        assert stored["access_token"] == "jwt-access-2222"
        assert stored["refresh_token"] == "jwt-refresh-2222"
        with db_connection.cursor() as cursor:
            cursor.execute(
                "SELECT token_state FROM integrations_crmconnection WHERE id = %s", [connection.pk]
            )
            raw = str(cursor.fetchone()[0])
        assert "jwt-access-2222" not in raw
        assert "jwt-refresh-2222" not in raw

    def test_refreshes_before_expiry_by_the_clock(self, connection, mocked_responses):
        mocked_responses.post(
            self.LOGIN,
            json={"access_token": "jwt-access-3333", "refresh_token": "jwt-refresh-3333", "expires_in": 3600},
        )
        refresh = mocked_responses.post(
            self.REFRESH,
            json={"access_token": "jwt-access-4444", "expires_in": 3600},
            match=[matchers.json_params_matcher({"refresh_token": "jwt-refresh-3333"})],
        )
        first = mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer jwt-access-3333"})]
        )
        second = mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer jwt-access-4444"})]
        )
        connector = connector_for(connection)
        list(connector.pull_contacts(since=None))
        # 3,450 s later the token still has 150 s to live, inside the refresh margin: refresh first.
        now = time.time()
        connector.client.auth.clock = lambda: now + 3450
        list(connector.pull_contacts(since=None))
        assert refresh.call_count == 1
        assert first.call_count == 1
        assert second.call_count == 1
        # The refresh kept the refresh token the CRM did not rotate.
        assert CrmConnection.objects.get(pk=connection.pk).token_state["refresh_token"] == "jwt-refresh-3333"

    def test_refused_refresh_falls_back_to_login(self, connection, mocked_responses):
        connection.token_state = {
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "expires_at": time.time() - 10,
            "lifetime": 3600,
        }
        connection.save()
        mocked_responses.post(self.REFRESH, status=401, json={"message": "refresh token expired"})
        login = mocked_responses.post(
            self.LOGIN, json={"access_token": "jwt-access-5555", "expires_in": 3600}
        )
        mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer jwt-access-5555"})]
        )
        list(connector_for(connection).pull_contacts(since=None))
        assert login.call_count == 1

    def test_a_401_is_an_auth_error_not_a_relogin_loop(self, connection, mocked_responses):
        login = mocked_responses.post(
            self.LOGIN, json={"access_token": "jwt-access-6666", "expires_in": 3600}
        )
        data = mocked_responses.get(CONTACTS, status=401, json={"message": "token revoked"})
        with pytest.raises(CrmAuthError, match="token revoked"):
            list(connector_for(connection).pull_contacts(since=None))
        assert login.call_count == 1
        assert data.call_count == 1

    def test_wrong_password_is_an_auth_error(self, connection, mocked_responses):
        mocked_responses.post(self.LOGIN, status=401, json={"message": "invalid credentials"})
        with pytest.raises(CrmAuthError, match="invalid credentials"):
            list(connector_for(connection).pull_contacts(since=None))
        assert CrmConnection.objects.get(pk=connection.pk).token_state == {}

    def test_absolute_login_url(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"username": "ada", "password": "pw-secret-123"},
            settings=jwt_settings(login_path="https://auth.example.test/login", refresh_path=""),
        )
        mocked_responses.post("https://auth.example.test/login", json={"token": "jwt-access-7777"})
        mocked_responses.get(CONTACTS, json=EMPTY)
        list(connector_for(connection).pull_contacts(since=None))


REFRESH_FORM = {
    "grant_type": "refresh_token",
    "client_id": "cid-1",
    "client_secret": "csecret-1",
    "refresh_token": "rt-first",
}


class TestOAuth:
    TOKEN = f"{BASE}/oauth/token"

    def test_client_credentials_token_is_cached(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"client_id": "cid-1", "client_secret": "csecret-1"},
            settings={"auth": {"type": "oauth", "scope": "contacts"}},
        )
        token = mocked_responses.post(
            self.TOKEN,
            json={"access_token": "oauth-access-1", "expires_in": 3600, "token_type": "bearer"},
            match=[
                matchers.urlencoded_params_matcher(
                    {
                        "grant_type": "client_credentials",
                        "client_id": "cid-1",
                        "client_secret": "csecret-1",
                        "scope": "contacts",
                    }
                )
            ],
        )
        data = mocked_responses.get(
            CONTACTS, json=EMPTY, match=[matchers.header_matcher({"Authorization": "Bearer oauth-access-1"})]
        )
        connector = connector_for(connection)
        list(connector.pull_contacts(since=None))
        list(connector.pull_contacts(since=None))
        assert token.call_count == 1
        assert data.call_count == 2

    def test_client_secret_in_a_basic_header(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"client_id": "cid-1", "client_secret": "csecret-1"},
            settings={
                "auth": {"type": "oauth", "client_auth": "basic", "token_url": "https://idp.example.test/t"}
            },
        )
        mocked_responses.post(
            "https://idp.example.test/t",
            json={"access_token": "oauth-access-2", "expires_in": 3600},
            match=[
                matchers.header_matcher({"Authorization": "Basic Y2lkLTE6Y3NlY3JldC0x"}),
                matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
            ],
        )
        mocked_responses.get(CONTACTS, json=EMPTY)
        list(connector_for(connection).pull_contacts(since=None))

    def test_refresh_token_grant_stores_a_rotated_token(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"client_id": "cid-1", "client_secret": "csecret-1", "refresh_token": "rt-first"},
            settings={"auth": {"type": "oauth", "grant_type": "refresh_token"}},
        )
        mocked_responses.post(
            self.TOKEN,
            json={"access_token": "oauth-access-3", "refresh_token": "rt-second", "expires_in": 1800},
            match=[matchers.urlencoded_params_matcher(REFRESH_FORM)],
        )
        mocked_responses.get(CONTACTS, json=EMPTY)
        list(connector_for(connection).pull_contacts(since=None))
        assert CrmConnection.objects.get(pk=connection.pk).token_state["refresh_token"] == "rt-second"

    def test_refused_client_credentials(self, make_connection, mocked_responses):
        connection = make_connection(
            base_url=BASE,
            credentials={"client_id": "cid-1", "client_secret": "wrong-secret"},
            settings={"auth": {"type": "oauth"}},
        )
        mocked_responses.post(self.TOKEN, status=401, json={"error": "invalid_client"})
        with pytest.raises(CrmAuthError, match="invalid_client") as caught:
            list(connector_for(connection).pull_contacts(since=None))
        assert "wrong-secret" not in str(caught.value)
        assert "wrong-secret" not in json.dumps(caught.value.as_dict())
