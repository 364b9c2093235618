"""Every demo contact pushes to the sandbox Mautic over real HTTP, multi-checkbox values included.

The demo as a user runs it: the shipped property definitions are synced to Mautic first (so
the custom fields exist and are mapped), then every demo contact is pushed in batches.
"""

import base64
import json
from collections import defaultdict

import jsonschema
import pytest
import requests
from django.urls import Resolver404, resolve

from contacts import demo as contacts_demo
from contacts.models import Contact
from crm_sync.services.payloads import contact_payload_build
from integrations.connectors.mautic import MauticConnector
from integrations.connectors.mautic.mapping import field_alias
from integrations.models import CrmConnection
from properties import demo as properties_demo
from sandbox.models import SandboxRequestLog
from tests.sandbox import mautic_schemas

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server):
    try:
        resolve("/sandbox/mautic/api/contacts")
    except Resolver404:
        pytest.skip("the Mautic sandbox is not mounted at /sandbox/mautic/")
    from sandbox import credentials as creds

    base = f"{live_server.url}/sandbox/mautic"
    requests.post(f"{base}/_control/reset?config=1", timeout=10).raise_for_status()
    # Whole request bodies in the log, so the connector's requests can be checked below.
    requests.put(f"{base}/_control/", json={"options": {"log_body_bytes": 2_000_000}}, timeout=10)
    basic = base64.b64encode(f"{creds.MAUTIC_USERNAME}:{creds.MAUTIC_PASSWORD}".encode()).decode()

    class Sandbox:
        url = base
        credentials = {"username": creds.MAUTIC_USERNAME, "password": creds.MAUTIC_PASSWORD}

        def contact_by_email(self, email):
            response = requests.get(
                f"{base}/api/contacts",
                params={"search": f"email:{email}"},
                headers={"Authorization": f"Basic {basic}"},
                timeout=10,
            )
            response.raise_for_status()
            (contact,) = response.json()["contacts"].values()
            return contact

    return Sandbox()


@pytest.fixture
def synced_connection(api_client, org, sandbox, waits):
    contacts_demo.seed(org)
    properties_demo.seed(org)
    connection = CrmConnection.objects.create(
        organization=org,
        kind="mautic",
        name="sandbox",
        base_url=sandbox.url,
        credentials=sandbox.credentials,
        settings={"read_timeout": 10},
    )
    response = api_client.post("/api/v1/mautic/properties/sync/contacts")
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["sync_details"]["errors"] == 0
    return connection


@pytest.fixture
def waits(monkeypatch):
    from properties import sync_services

    monkeypatch.setattr(sync_services, "sleep", lambda seconds: None)


def _payloads(connection, contacts):
    return [contact_payload_build(contact=contact, connection=connection) for contact in contacts]


def test_every_demo_contact_pushes_and_multiselect_values_are_stored_pipe_joined(sandbox, synced_connection):
    contacts = list(Contact.objects.order_by("pk"))
    multi = [c for c in contacts if len(c.custom_properties.get(contacts_demo.SERVICES_PROPERTY, [])) > 1]
    assert multi, "the demo has contacts with several services checked"
    # when
    results = MauticConnector(synced_connection).push_contacts(_payloads(synced_connection, contacts))
    # then
    failures = {r.contact_id: r.error.message for r in results if not r.ok}
    assert failures == {}
    assert len(results) == len(contacts) and all(r.remote_id for r in results)
    stored = sandbox.contact_by_email(multi[0].email)["fields"]["all"]
    assert stored[field_alias(contacts_demo.SERVICES_PROPERTY)] == "|".join(
        multi[0].custom_properties[contacts_demo.SERVICES_PROPERTY]
    )


def test_the_connectors_requests_have_the_documented_form(sandbox, synced_connection):
    MauticConnector(synced_connection).push_contacts(_payloads(synced_connection, Contact.objects.all()))
    sent = defaultdict(list)
    for entry in SandboxRequestLog.objects.filter(kind="mautic").exclude(method="GET").order_by("pk"):
        sent[(entry.method, entry.path.split("/sandbox/mautic")[-1])].append(json.loads(entry.body))
    assert set(sent) == {("POST", "/api/fields/contact/new"), ("POST", "/api/contacts/batch/new")}
    for body in sent[("POST", "/api/fields/contact/new")]:
        jsonschema.Draft202012Validator(mautic_schemas.FIELD_NEW_REQUEST).validate(body)
    for body in sent[("POST", "/api/contacts/batch/new")]:
        jsonschema.Draft202012Validator(mautic_schemas.BATCH_NEW_REQUEST).validate(body)
    assert sum(len(body) for body in sent[("POST", "/api/contacts/batch/new")]) == Contact.objects.count()


def test_a_value_outside_the_options_fails_that_contact_only(sandbox, synced_connection):
    good, bad = Contact.objects.order_by("pk")[:2]
    bad.custom_properties = {contacts_demo.SERVICES_PROPERTY: ["Shower Trailer", "Hot Tub"]}
    bad.save(update_fields=["custom_properties"])
    # when
    results = MauticConnector(synced_connection).push_contacts(_payloads(synced_connection, [good, bad]))
    # then
    by_id = {r.contact_id: r for r in results}
    assert by_id[str(good.pk)].ok
    failed = by_id[str(bad.pk)]
    assert not failed.ok and failed.error.category == "validation"
    assert "what_service_do_you_need: This value is not valid." in failed.error.message
