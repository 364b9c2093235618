"""Property sync to the Brevo and Mautic sandboxes (contacts only) over real HTTP."""

import pytest
import requests
from django.urls import Resolver404, resolve

from integrations.models import CrmConnection
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _credentials(kind):
    from sandbox import credentials as c

    return {
        "brevo": ("brevo/v3", {"api_key": c.BREVO_API_KEY}),
        "mautic": ("mautic", {"username": c.MAUTIC_USERNAME, "password": c.MAUTIC_PASSWORD}),
    }[kind]


@pytest.fixture(params=["brevo", "mautic"])
def crm(request, live_server, org):
    kind = request.param
    try:
        resolve(f"/sandbox/{kind}/_control/")
    except Resolver404:
        pytest.skip(f"the {kind} sandbox is not mounted")
    path, credentials = _credentials(kind)
    requests.post(f"{live_server.url}/sandbox/{kind}/_control/reset?config=1", timeout=10).raise_for_status()
    CrmConnection.objects.create(
        organization=org,
        kind=kind,
        base_url=f"{live_server.url}/sandbox/{path}",
        credentials=credentials,
        settings={"rate_limits": {"default": None}},
    )
    return kind


def test_first_run_creates_the_attributes(api_client, org, crm, waits):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    response = api_client.post(f"/api/v1/{crm}/properties/sync/contacts")
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["sync_details"]["created"] == 2


def test_create_then_second_run_writes_nothing(api_client, org, crm, waits):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    first = api_client.post(f"/api/v1/{crm}/properties/sync/contacts")
    assert first.status_code == 200, first.json()
    assert first.json()["data"]["sync_details"]["created"] == 2
    second = api_client.post(f"/api/v1/{crm}/properties/sync/contacts")
    assert second.status_code == 200, second.json()
    assert second.json()["data"]["sync_details"]["skipped"] == 2
