"""The API's field-mapping check reads the CRM's property list with no transaction open and the
connection's row free: workers keep updating the row meanwhile, and an update whose checked
values changed before the save is refused (409 connection_changed), never saved unchecked."""

import json
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from responses import matchers

from accounts.actors import Actor
from accounts.models import AuditEvent
from core.errors import Conflict
from integrations import services
from integrations.models import CrmConnection
from integrations.services import connection_circuit_open, connection_update
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"
PROPERTIES = "https://api.hubapi.com/crm/v3/properties/contacts"
STORED_TOKEN = "pat-na1-stored-token-1234"
NEW_TOKEN = "pat-na1-new-token-5678"
LISTED = {
    "results": [
        {"name": "firstname", "label": "First name"},
        {"name": "jobtitle", "label": "Job title"},
        {"name": "lifecyclestage", "label": "Lifecycle stage"},
    ]
}


@pytest.fixture
def admin_client(org, make_api_client):
    return make_api_client(org, scopes=["admin"])


@pytest.fixture
def hubspot(org):
    return CrmConnectionFactory(
        organization=org,
        credentials={"access_token": STORED_TOKEN},
        field_mapping={"job_title": "jobtitle"},
    )


def listing(during=None):
    """A `responses` callback answering the property list, after running `during` (the moment
    the check is waiting on the CRM)."""

    def answer(request):
        if during is not None:
            during()
        return 200, {}, json.dumps(LISTED)

    return answer


def updates(connection) -> int:
    return AuditEvent.objects.filter(action="crm_connection.updated", object_id=str(connection.pk)).count()


# ---------------------------------------------------------------------------------------------
# While the CRM is read: no transaction, no row lock
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_create_reads_the_crm_with_no_transaction_open(admin_client, mocked_responses):
    seen = []
    mocked_responses.add_callback(
        "GET", PROPERTIES, callback=listing(lambda: seen.append(connection.in_atomic_block))
    )
    response = admin_client.post(
        URL,
        {
            "kind": "hubspot",
            "credentials": {"access_token": NEW_TOKEN},
            "field_mapping": {"job_title": "jobtitle"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert seen == [False]


@pytest.mark.django_db(transaction=True)
def test_update_reads_the_crm_with_no_transaction_open(admin_client, hubspot, mocked_responses):
    seen = []
    mocked_responses.add_callback(
        "GET", PROPERTIES, callback=listing(lambda: seen.append(connection.in_atomic_block))
    )
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/", {"field_mapping": {"job_title": "firstname"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert seen == [False]


def _worker_on_the_row(pk, outcome: dict) -> None:
    """What a push or pull worker does meanwhile, on its own database connection: lock the row
    without waiting (NOWAIT fails at once if anyone holds it), then open the circuit."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM integrations_crmconnection WHERE id = %s FOR UPDATE NOWAIT", [pk]
                )
            outcome["locked"] = True
            connection_circuit_open(connection=CrmConnection.objects.get(pk=pk), reason="worker: auth failed")
    except DatabaseError as exc:
        outcome["error"] = repr(exc)
    finally:
        connection.close()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_workers_lock_and_update_the_row_while_the_crm_is_read(admin_client, hubspot, mocked_responses):
    outcome: dict = {}

    def worker_runs():
        thread = threading.Thread(target=_worker_on_the_row, args=(hubspot.pk, outcome))
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()

    mocked_responses.add_callback("GET", PROPERTIES, callback=listing(worker_runs))
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/", {"field_mapping": {"job_title": "lifecyclestage"}}, format="json"
    )
    assert outcome == {"locked": True}
    assert response.status_code == 200, response.content
    saved = CrmConnection.objects.get(pk=hubspot.pk)
    assert saved.field_mapping == {"job_title": "lifecyclestage"}
    # The save re-read the row under its lock: the worker's circuit is kept, not overwritten.
    assert saved.circuit_state == CrmConnection.CircuitState.OPEN
    assert saved.circuit_reason == "worker: auth failed"


# ---------------------------------------------------------------------------------------------
# Checked as it will be saved; a refusal writes nothing
# ---------------------------------------------------------------------------------------------
def test_the_check_reads_the_crm_with_the_new_credentials(admin_client, hubspot, mocked_responses):
    mocked_responses.add(
        "GET",
        PROPERTIES,
        json=LISTED,
        match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_TOKEN}"})],
    )
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/",
        {"credentials": {"access_token": NEW_TOKEN}, "field_mapping": {"job_title": "firstname"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    saved = CrmConnection.objects.get(pk=hubspot.pk)
    assert saved.credentials == {"access_token": NEW_TOKEN}
    assert saved.field_mapping == {"job_title": "firstname"}
    assert updates(hubspot) == 1


def test_a_refused_mapping_writes_nothing(admin_client, hubspot, mocked_responses):
    mocked_responses.add("GET", PROPERTIES, json=LISTED)
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/",
        {
            "name": "renamed",
            "credentials": {"access_token": NEW_TOKEN},
            "field_mapping": {"job_title": "nope"},
        },
        format="json",
    )
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "unknown_crm_properties"
    assert body["details"] == {"field_mapping.job_title": ["HubSpot has no property 'nope'."]}
    saved = CrmConnection.objects.get(pk=hubspot.pk)
    assert saved.field_mapping == {"job_title": "jobtitle"}
    assert saved.credentials == {"access_token": STORED_TOKEN}
    assert saved.name == hubspot.name
    assert updates(hubspot) == 0


def test_an_unchanged_mapping_is_not_checked_again(admin_client, hubspot, mocked_responses):
    """No call registered: `mocked_responses` fails the test on any request to the CRM."""
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/", {"field_mapping": {"job_title": "jobtitle"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert updates(hubspot) == 0


# ---------------------------------------------------------------------------------------------
# The connection changes between the check and the save
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("meanwhile", "field"),
    [
        ({"credentials": {"access_token": "pat-na1-rotated-9999"}}, "credentials"),
        ({"base_url": "https://api.hubapi.com/"}, "base_url"),
        ({"settings": {"pull_archived": False}}, "settings"),
    ],
)
def test_a_checked_value_changed_meanwhile_is_a_409_and_writes_nothing(
    admin_client, hubspot, mocked_responses, meanwhile, field
):
    def change():
        CrmConnection.objects.filter(pk=hubspot.pk).update(**meanwhile)

    mocked_responses.add_callback("GET", PROPERTIES, callback=listing(change))
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/", {"field_mapping": {"job_title": "firstname"}}, format="json"
    )
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "connection_changed"
    assert body["details"]["unchecked"] == [field]
    saved = CrmConnection.objects.get(pk=hubspot.pk)
    assert saved.field_mapping == {"job_title": "jobtitle"}
    assert getattr(saved, field) == meanwhile[field]
    assert updates(hubspot) == 0


def test_changes_the_check_does_not_read_are_kept_and_the_update_saves(
    admin_client, hubspot, mocked_responses
):
    """A rename, a worker's circuit, a mapping the update replaces anyway: none is a conflict."""

    def change():
        CrmConnection.objects.filter(pk=hubspot.pk).update(
            name="renamed meanwhile", field_mapping={"job_title": "lifecyclestage"}
        )
        connection_circuit_open(connection=CrmConnection.objects.get(pk=hubspot.pk), reason="auth failed")

    mocked_responses.add_callback("GET", PROPERTIES, callback=listing(change))
    response = admin_client.patch(
        f"{URL}{hubspot.pk}/", {"field_mapping": {"job_title": "firstname"}}, format="json"
    )
    assert response.status_code == 200, response.content
    saved = CrmConnection.objects.get(pk=hubspot.pk)
    assert saved.field_mapping == {"job_title": "firstname"}
    assert saved.name == "renamed meanwhile"
    assert saved.circuit_state == CrmConnection.CircuitState.OPEN
    assert updates(hubspot) == 1


def test_an_update_empty_when_checked_but_not_when_saved_is_a_409(hubspot, monkeypatch):
    """Nothing to check at first (the mapping was the stored one), then the stored mapping
    changed: saving would restore the old mapping without a check, so it is refused."""
    apply = services._connection_changed
    calls = []

    def changed_after_the_first_read(stored, **kwargs):
        result = apply(stored, **kwargs)
        if not calls:
            CrmConnection.objects.filter(pk=hubspot.pk).update(field_mapping={"job_title": "lifecyclestage"})
        calls.append(result)
        return result

    monkeypatch.setattr(services, "_connection_changed", changed_after_the_first_read)
    checked = []
    with pytest.raises(Conflict) as refused:
        connection_update(
            connection=hubspot,
            actor=Actor.system(),
            before_save=checked.append,
            field_mapping={"job_title": "jobtitle"},
        )
    assert refused.value.code == "connection_changed"
    assert checked == [] and len(calls) == 2
    assert CrmConnection.objects.get(pk=hubspot.pk).field_mapping == {"job_title": "lifecyclestage"}
    assert updates(hubspot) == 0


def test_without_a_check_a_concurrent_change_is_no_conflict(hubspot):
    """Only a before_save check makes the values it judged binding (the admin, the sandbox)."""
    CrmConnection.objects.filter(pk=hubspot.pk).update(credentials={"access_token": "pat-na1-rotated-9999"})
    saved = connection_update(
        connection=hubspot, actor=Actor.system(), field_mapping={"job_title": "firstname"}
    )
    assert saved.field_mapping == {"job_title": "firstname"}
    assert saved.credentials == {"access_token": "pat-na1-rotated-9999"}
