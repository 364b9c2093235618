"""An operator sets up a HubSpot connection in a real browser: picks the CRM, types the token, saves
(the credentials are tested against the sandbox first), then maps a field to a property picked from
HubSpot's own list."""

import pytest
from django.contrib.auth import get_user_model

from integrations.models import CrmConnection
from sandbox import credentials as sandbox_credentials

pytestmark = [pytest.mark.slow, pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-setup-password"


@pytest.fixture
def operator(live_server, org):
    get_user_model().objects.create_superuser("setup-admin", "setup@example.com", PASSWORD)
    return live_server.url


def test_an_operator_sets_up_hubspot_and_maps_a_field_from_its_property_list(page, operator, org, screenshot):
    url = operator
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "setup-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.goto(f"{url}/admin/integrations/crmconnection/add/")
    page.click("a[data-kind=hubspot]")
    assert page.locator("h1").inner_text() == "Add a HubSpot connection"
    assert page.locator("textarea").count() == 0
    page.select_option("#id_organization", str(org.pk))
    page.fill("#id_name", "main")
    page.fill("#id_base_url", f"{url}/sandbox/hubspot")

    # A wrong token: the test runs before anything is saved.
    page.fill("#id_credential__access_token", "pat-na1-wrong-token")
    page.click("input[name=_continue]")
    assert "Credential test failed" in page.locator("ul.errorlist.nonfield").inner_text()
    assert not CrmConnection.objects.exists()
    screenshot("connection-setup-refused")

    page.fill("#id_credential__access_token", sandbox_credentials.HUBSPOT_TOKEN)
    page.select_option("#id_setting__rate_tier", "professional")
    page.click("input[name=_continue]")
    assert "credentials tested" in page.locator("ul.messagelist").inner_text()
    connection = CrmConnection.objects.get(name="main")
    assert connection.credentials == {"access_token": sandbox_credentials.HUBSPOT_TOKEN}
    assert sandbox_credentials.HUBSPOT_TOKEN not in page.content()

    # The change page lists HubSpot's own properties: map job_title to one of them.
    row = page.locator(".mapping-editor tr", has=page.locator("input.mapping-local[value=job_title]"))
    select = row.locator("select.mapping-remote")
    labels = select.locator("option").all_inner_texts()
    assert "Lifecycle Stage (lifecyclestage)" in labels
    select.select_option("lifecyclestage")
    page.evaluate("document.querySelector('.field-credential__refresh_token').scrollIntoView()")
    screenshot("connection-setup", docs=True, full_page=False)
    page.click("input[name=_save]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    connection.refresh_from_db()
    assert connection.field_mapping == {"job_title": "lifecyclestage"}
    assert connection.settings == {"rate_tier": "professional"}
