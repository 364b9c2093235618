"""The connection setup form of the admin: a form per CRM kind, tested before it is saved.

Form rendering is checked for every registered kind; saving goes over real HTTP to the sandbox
CRMs (pytest-django's live server), as an operator's browser would make the server do.
"""

import re

import pytest
from django.test import Client

from accounts.models import AuditEvent
from integrations import registry
from integrations.models import CrmConnection
from integrations.setup import setting_specs
from sandbox import credentials as sandbox_credentials
from tests.factories import UserFactory
from tests.integrations.factories import CrmConnectionFactory

ADD_URL = "/admin/integrations/crmconnection/add/"
SECRET = "pat-na1-never-shown-7a5c9e"


def change_url(connection) -> str:
    return f"/admin/integrations/crmconnection/{connection.pk}/change/"


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def hubspot_data(org, base_url, **overrides):
    """A HubSpot setup form as a browser posts it (mapping rows: first_name → firstname)."""
    data = {
        "organization": org.pk,
        "name": "main",
        "enabled": "on",
        "base_url": base_url,
        "credential__access_token": sandbox_credentials.HUBSPOT_TOKEN,
        "batch_size": 100,
        "push_interval_seconds": 60,
        "pull_interval_seconds": 300,
        "retry_base_seconds": 30,
        "retry_cap_seconds": 3600,
        "max_retries": 8,
        "conflict_strategy": "latest_timestamp",
        "auto_sync": "on",
        "sync_direction": "both",
        "contact_rule": "all",
        "mapping-rows": 1,
        "mapping-0-local": "first_name",
        "mapping-0-remote": "firstname",
        "setting__pull_archived": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------------------------------------
# Rendering: one form per kind, secrets write-only, never a JSON box
# ---------------------------------------------------------------------------------------------
def test_add_asks_for_the_kind_first(superuser_client):
    page = superuser_client.get(ADD_URL).content.decode()
    for kind, cls in registry.connectors().items():
        assert f'href="?kind={kind}"' in page and cls.display_name in page


@pytest.mark.parametrize("kind", registry.kinds())
def test_each_kind_has_its_own_fields_and_no_json_text_box(superuser_client, kind):
    page = superuser_client.get(f"{ADD_URL}?kind={kind}").content.decode()
    cls = registry.get_connector_class(kind)
    assert f"Add a {cls.display_name} connection" in page
    for name in cls.credential_fields:
        assert re.search(rf'<input type="password" name="credential__{name}"', page), name
    for spec in setting_specs(kind):
        assert f'name="{spec.field_name}"' in page, spec.path
    assert 'name="mapping-rows"' in page
    assert "<textarea" not in page
    assert 'name="settings"' not in page and 'name="field_mapping"' not in page
    assert 'name="new_credentials"' not in page
    other_kinds = [k for k in registry.kinds() if k != kind]
    only_theirs = {
        name
        for other in other_kinds
        for name in registry.get_connector_class(other).credential_fields
        if name not in cls.credential_fields
    }
    for name in only_theirs:
        assert f'name="credential__{name}"' not in page


def test_a_stored_secret_is_never_rendered_back(org, superuser_client, mocked_responses):
    connection = CrmConnectionFactory(
        organization=org, credentials={"access_token": SECRET}, settings={"rate_tier": "professional"}
    )
    mocked_responses.get(
        "https://api.hubapi.com/crm/v3/properties/contacts",
        json={"results": [{"name": "firstname", "label": "First Name", "type": "string"}]},
    )
    page = superuser_client.get(change_url(connection)).content.decode()
    assert SECRET not in page and SECRET[-6:] not in page
    field = re.search(r'<input type="password" name="credential__access_token"[^>]*>', page).group(0)
    assert "value=" not in field
    assert "Set; leave blank to keep it." in page
    # Its settings as fields, its mapping picked from the CRM's list.
    assert re.search(r'<option value="professional" selected>', page)
    assert '<option value="firstname" selected>First Name (firstname)</option>' in page


def test_a_crm_without_a_property_list_says_so(org, superuser_client):
    connection = CrmConnectionFactory(
        organization=org,
        kind="n8n",
        base_url="https://n8n.example.com/webhook/abc",
        credentials={"signing_secret": "s" * 32},
    )
    page = superuser_client.get(change_url(connection)).content.decode()
    assert "publishes no property list" in page
    assert 'class="mapping-remote">' not in page or '<input type="text" name="mapping-0-remote"' in page


def test_an_unreadable_property_list_is_a_clear_message(org, superuser_client, mocked_responses):
    connection = CrmConnectionFactory(organization=org)
    mocked_responses.get("https://api.hubapi.com/crm/v3/properties/contacts", status=503, json={})
    page = superuser_client.get(change_url(connection)).content.decode()
    assert "property list is unavailable" in page
    # The built-in properties can still be picked.
    assert '<option value="firstname"' in page


# ---------------------------------------------------------------------------------------------
# Saving against the sandbox over real HTTP
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
class TestSavingAgainstTheSandbox:
    @pytest.fixture
    def base(self, live_server):
        return f"{live_server.url}/sandbox/hubspot"

    def test_good_credentials_are_tested_then_saved(self, org, superuser_client, base):
        data = hubspot_data(org, base, setting__rate_tier="professional")
        response = superuser_client.post(f"{ADD_URL}?kind=hubspot", data, follow=True)
        page = response.content.decode()
        assert response.redirect_chain, page[:3000]
        connection = CrmConnection.objects.get(name="main")
        assert connection.kind == "hubspot" and connection.base_url == base
        assert connection.credentials == {"access_token": sandbox_credentials.HUBSPOT_TOKEN}
        assert connection.settings == {"rate_tier": "professional"}
        assert connection.field_mapping == {}  # first_name → firstname is the default
        assert "credentials tested" in page
        assert sandbox_credentials.HUBSPOT_TOKEN not in page

    def test_bad_credentials_are_a_form_error_and_nothing_is_saved(self, org, superuser_client, base):
        data = hubspot_data(org, base, **{"credential__access_token": "pat-na1-wrong-token"})
        response = superuser_client.post(f"{ADD_URL}?kind=hubspot", data)
        page = response.content.decode()
        assert response.status_code == 200
        assert "Credential test failed (invalid)" in page and "Invalid HubSpot credentials" in page
        assert "pat-na1-wrong-token" not in page  # a secret typed in is not rendered back either
        assert not CrmConnection.objects.exists()
        assert not AuditEvent.objects.filter(action="crm_connection.created").exists()

    def test_save_without_testing_stores_them_with_a_warning(self, org, superuser_client, base):
        data = hubspot_data(
            org, base, credential__access_token="pat-na1-wrong-token", skip_credential_test="on"
        )
        response = superuser_client.post(f"{ADD_URL}?kind=hubspot", data, follow=True)
        assert "saved without testing the credentials" in response.content.decode()
        assert CrmConnection.objects.get(name="main").credentials == {"access_token": "pat-na1-wrong-token"}

    def test_a_mapping_to_a_property_the_crm_lacks_is_refused(self, org, superuser_client, base):
        data = hubspot_data(org, base, **{"mapping-0-local": "job_title", "mapping-0-remote": "no_such_prop"})
        response = superuser_client.post(f"{ADD_URL}?kind=hubspot", data)
        page = response.content.decode()
        assert response.status_code == 200
        assert "HubSpot has no contact property no_such_prop" in page
        assert not CrmConnection.objects.exists()

    def test_the_change_page_picks_from_the_crms_list_and_keeps_blank_secrets(
        self, org, superuser_client, base
    ):
        superuser_client.post(f"{ADD_URL}?kind=hubspot", hubspot_data(org, base))
        connection = CrmConnection.objects.get(name="main")
        page = superuser_client.get(change_url(connection)).content.decode()
        # The sandbox's own properties, by label and name.
        assert '<option value="jobtitle">Job Title (jobtitle)</option>' in page
        assert '<option value="lifecyclestage">' in page
        rows = int(re.search(r'name="mapping-rows" value="(\d+)"', page).group(1))
        data = hubspot_data(org, base, credential__access_token="", **{"mapping-rows": rows})
        data.pop("organization")
        data.update({"mapping-0-local": "job_title", "mapping-0-remote": "lifecyclestage"})
        response = superuser_client.post(change_url(connection), data)
        assert response.status_code == 302, response.content.decode()[:3000]
        connection.refresh_from_db()
        assert connection.field_mapping["job_title"] == "lifecyclestage"
        assert connection.credentials == {"access_token": sandbox_credentials.HUBSPOT_TOKEN}

        data.update({"mapping-0-remote": "favourite_colour"})
        response = superuser_client.post(change_url(connection), data)
        assert response.status_code == 200
        assert "HubSpot has no contact property favourite_colour" in response.content.decode()
        connection.refresh_from_db()
        assert connection.field_mapping["job_title"] == "lifecyclestage"

    def test_a_base_url_the_outbound_rules_refuse_is_a_form_error(self, org, superuser_client, settings):
        response = superuser_client.post(
            f"{ADD_URL}?kind=hubspot", hubspot_data(org, "https://169.254.169.254/latest")
        )
        assert response.status_code == 200 and "link-local" in response.content.decode()
        settings.CRM_ALLOWED_PRIVATE_TARGETS = []
        response = superuser_client.post(
            f"{ADD_URL}?kind=hubspot", hubspot_data(org, "http://127.0.0.1:9/sandbox/hubspot")
        )
        assert response.status_code == 200 and "base_url is not allowed" in response.content.decode()
        assert not CrmConnection.objects.exists()


# ---------------------------------------------------------------------------------------------
# The API refuses the same mappings
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
class TestTheApiChecksMappings:
    URL = "/api/v1/connections/"

    def create(self, api, base, **fields):
        body = {
            "kind": "hubspot",
            "name": "api",
            "base_url": base,
            "credentials": {"access_token": sandbox_credentials.HUBSPOT_TOKEN},
            **fields,
        }
        return api.post(self.URL, body, format="json")

    def test_create_with_an_unknown_property_is_a_422_naming_it(self, org, api_client, live_server):
        base = f"{live_server.url}/sandbox/hubspot"
        response = self.create(api_client, base, field_mapping={"job_title": "nope_prop", "phone": "phone"})
        assert response.status_code == 422, response.content
        body = response.json()
        assert body["code"] == "unknown_crm_properties"
        assert "nope_prop" in body["error"]
        assert body["details"] == {"field_mapping.job_title": ["HubSpot has no property 'nope_prop'."]}
        assert not CrmConnection.objects.exists()

    def test_update_checks_the_new_mapping_and_keeps_the_old_one_on_refusal(
        self, org, api_client, live_server
    ):
        base = f"{live_server.url}/sandbox/hubspot"
        created = self.create(api_client, base, field_mapping={"job_title": "jobtitle"})
        assert created.status_code == 201, created.content
        url = f"{self.URL}{created.json()['id']}/"
        refused = api_client.patch(url, {"field_mapping": {"company": "not_there"}}, format="json")
        assert refused.status_code == 422 and "not_there" in refused.json()["error"]
        assert CrmConnection.objects.get().field_mapping == {"job_title": "jobtitle"}
        accepted = api_client.patch(url, {"field_mapping": {"company": "lifecyclestage"}}, format="json")
        assert accepted.status_code == 200, accepted.content
        assert CrmConnection.objects.get().field_mapping == {"company": "lifecyclestage"}

    def test_an_unreadable_list_refuses_what_it_cannot_check(self, org, api_client, live_server):
        base = f"{live_server.url}/sandbox/hubspot"
        response = self.create(
            api_client,
            base,
            credentials={"access_token": "pat-na1-not-accepted"},
            field_mapping={"job_title": "custom_thing", "first_name": "firstname"},
        )
        assert response.status_code == 422
        assert response.json()["code"] == "crm_properties_unavailable"
        assert list(response.json()["details"]) == ["field_mapping.job_title"]


def test_a_crm_without_a_property_list_accepts_any_name(org, api_client):
    response = api_client.post(
        "/api/v1/connections/",
        {
            "kind": "n8n",
            "base_url": "https://n8n.example.com/webhook/abc",
            "credentials": {"signing_secret": "s" * 32},
            "field_mapping": {"first_name": "given"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content


# ---------------------------------------------------------------------------------------------
# Settings as fields, credentials kept or removed, names unique (no CRM needed: saved untested)
# ---------------------------------------------------------------------------------------------
def untested(data: dict) -> dict:
    return {**data, "skip_credential_test": "on"}


def test_settings_fields_change_only_what_they_name(org, superuser_client):
    connection = CrmConnectionFactory(
        organization=org,
        kind="brevo",
        base_url="https://api.brevo.com/v3",
        credentials={"api_key": "xkeysib-secret-1"},
        settings={"headers": {"X-Team": "blue"}, "page_size": 500},
    )
    data = untested(
        {
            "name": connection.name,
            "enabled": "on",
            "base_url": connection.base_url,
            "batch_size": 100,
            "push_interval_seconds": 60,
            "pull_interval_seconds": 300,
            "retry_base_seconds": 30,
            "retry_cap_seconds": 3600,
            "max_retries": 8,
            "conflict_strategy": "latest_timestamp",
            "sync_direction": "both",
            "contact_rule": "all",
            "mapping-rows": 0,
            "setting__tier": "advanced",
            "setting__page_size": "",
            "setting__import_list_ids": "3, 7",
            "credentials_clear": [],
        }
    )
    response = superuser_client.post(change_url(connection), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    connection.refresh_from_db()
    # Headers are not a named setting: kept as they were; a blank page size returns to the default.
    assert connection.settings == {
        "headers": {"X-Team": "blue"},
        "tier": "advanced",
        "import_list_ids": [3, 7],
    }
    assert connection.credentials == {"api_key": "xkeysib-secret-1"}  # blank: kept

    response = superuser_client.post(change_url(connection), {**data, "credentials_clear": ["api_key"]})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.credentials == {}


def test_a_rest_setting_the_connector_refuses_is_an_error_beside_its_field(org, superuser_client):
    data = untested(
        {
            "organization": org.pk,
            "name": "crm",
            "enabled": "on",
            "base_url": "https://crm.example.com",
            "credential__api_key": "k-1",
            "batch_size": 50,
            "push_interval_seconds": 60,
            "pull_interval_seconds": 300,
            "retry_base_seconds": 30,
            "retry_cap_seconds": 3600,
            "max_retries": 8,
            "conflict_strategy": "latest_timestamp",
            "sync_direction": "both",
            "contact_rule": "all",
            "mapping-rows": 0,
            "setting__auth__format": "Bearer",
            "setting__endpoints__contacts": "/contacts",
        }
    )
    response = superuser_client.post(f"{ADD_URL}?kind=rest", data)
    page = response.content.decode()
    assert response.status_code == 200
    field = page.split('class="form-row errors field-setting__auth__format"')[1][:600]
    assert "The format must contain {key}" in field
    assert not CrmConnection.objects.exists()

    response = superuser_client.post(f"{ADD_URL}?kind=rest", {**data, "setting__auth__format": "Token {key}"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert CrmConnection.objects.get().settings == {
        "auth": {"format": "Token {key}"},
        "endpoints": {"contacts": "/contacts"},
    }


def test_a_taken_name_is_a_form_error(org, superuser_client):
    CrmConnectionFactory(organization=org, name="main")
    data = untested(hubspot_data(org, "https://api.hubapi.com", **{"mapping-rows": 0}))
    response = superuser_client.post(f"{ADD_URL}?kind=hubspot", data)
    assert response.status_code == 200
    assert "already has a HubSpot connection named" in response.content.decode()
    assert CrmConnection.objects.count() == 1


def test_mapping_rows_that_contradict_each_other_are_refused(org, superuser_client):
    data = untested(
        hubspot_data(
            org,
            "https://api.hubapi.com",
            **{"mapping-rows": 3, "mapping-1-local": "first_name", "mapping-1-remote": "lastname"},
        )
    )
    data.update({"mapping-2-local": "", "mapping-2-remote": "phone"})
    page = superuser_client.post(f"{ADD_URL}?kind=hubspot", data).content.decode()
    assert "first_name is mapped twice" in page and "phone: name the local field" in page
    assert not CrmConnection.objects.exists()


def test_the_test_credentials_action_tests_the_selected_connection(org, superuser_client, mocked_responses):
    from responses import matchers

    CrmConnectionFactory(organization=org, name="a-good", credentials={"access_token": "pat-good"})
    bad = CrmConnectionFactory(organization=org, name="b-bad", credentials={"access_token": "pat-bad"})
    mocked_responses.get(
        "https://api.hubapi.com/account-info/v3/details",
        status=401,
        json={"status": "error", "message": "Authentication credentials not found."},
        match=[matchers.header_matcher({"Authorization": "Bearer pat-bad"})],
    )
    response = superuser_client.post(
        "/admin/integrations/crmconnection/",
        {"action": "test_credentials", "_selected_action": [str(bad.pk)]},
        follow=True,
    )
    assert "b-bad: invalid: Invalid HubSpot credentials" in response.content.decode()


def test_choosing_a_kind_needs_the_add_permission(org):
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(ADD_URL).status_code == 403
