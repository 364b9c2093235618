"""POST /api/v1/<crm>/properties/sync/<type> and GET .../status/<type>: seed shapes and error bodies."""

import pytest

from accounts.actors import Actor
from integrations.connectors.base import RemoteProperty
from integrations.errors import CrmAuthError, CrmRateLimited
from properties.models import PropertySyncRun
from properties.selectors import PERIODIC_TASK_NAME
from properties.sync_services import property_sync_claim
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def definitions(org):
    PropertyDefinitionFactory(organization=org, name="company_size", select=True)
    PropertyDefinitionFactory(organization=org, name="budget", number=True)
    PropertyDefinitionFactory(
        organization=org, object_type="leads", name="project_category", group_name="leadinformation"
    )


def test_sync_contacts_returns_the_seed_shape(api_client, fake_crm, definitions, waits):
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["object_type"] == "contacts"
    assert data["sync_status"] == "completed"
    assert (data["synced_properties"], data["failed_properties"]) == (2, 0)
    assert data["sync_details"] == {"created": 2, "updated": 0, "skipped": 0, "errors": 0}
    entry = next(item for item in data["properties"] if item["name"] == "company_size")
    assert entry["sync_status"] == "created"
    assert entry["label"] == "Company Size"
    assert entry["fakecrm_property_id"] == entry["remote_id"] and entry["remote_id"]
    assert data["summary"]["sync_duration"].endswith("s")


def test_sync_all_then_status(api_client, fake_crm, definitions, waits):
    response = api_client.post("/api/v1/fakecrm/properties/sync/all")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["sync_status"] == "completed"
    assert data["contacts"]["status"] == "success"
    assert sorted(data["contacts"]["properties"]) == ["budget", "company_size"]
    assert data["leads"]["synced_properties"] == 1
    assert data["summary"]["total_synced"] == 3
    # status
    status = api_client.get("/api/v1/fakecrm/properties/sync/status/all").json()["data"]
    assert status["sync_type"] == "all"
    assert status["last_sync"]["status"] == "completed"
    assert (status["last_sync"]["total_properties"], status["last_sync"]["successful"]) == (3, 3)
    assert status["contacts"]["properties_synced"] == 2
    assert status["leads"]["status"] == "completed"
    assert status["next_scheduled_sync"] is not None  # the data migration's daily schedule


def test_status_before_any_run_and_without_schedule(api_client, fake_crm):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME).update(enabled=False)
    data = api_client.get("/api/v1/fakecrm/properties/sync/status/contacts").json()["data"]
    assert data["last_sync"] is None
    assert data["contacts"]["status"] is None
    assert data["next_scheduled_sync"] is None
    assert "leads" not in data


def test_dry_run_returns_the_plan_and_writes_nothing(api_client, fake_crm, definitions):
    fake_crm.add("contacts", RemoteProperty(name="budget", label="Budget", type="string", field_type="text"))
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts?dry_run=true")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["dry_run"] is True
    plan = data["contacts"]
    assert [change["name"] for change in plan["create"]] == ["company_size"]
    assert [change["name"] for change in plan["refused"]] == ["budget"]
    assert plan["refused"][0]["differences"] == {"type": {"local": "number", "crm": "string"}}
    assert fake_crm.calls == ["list:contacts"]
    assert not PropertySyncRun.objects.exists()


def test_partial_failure_is_207_with_counts_and_each_failure(api_client, fake_crm, definitions, waits):
    fake_crm.reject["budget"] = "Property already exists with different type"
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 207
    body = response.json()
    assert body["code"] == "partial_sync_failure"
    assert body["error"] == "Partial sync failure"
    details = body["details"]
    assert (details["successful_properties"], details["failed_properties"]) == (1, 1)
    assert details["failures"] == [
        {
            "property": "budget",
            "object_type": "contacts",
            "error": "Property already exists with different type",
            "category": "validation",
        }
    ]
    assert details["data"]["sync_status"] == "partial"


def test_rate_limit_outlasting_retries_is_429_with_retry_after(
    api_client, fake_crm, definitions, waits, settings
):
    settings.PROPERTIES_SYNC_MAX_RETRIES = 1
    fake_crm.failures["list_properties"] = [
        CrmRateLimited("limit", retry_after=5),
        CrmRateLimited("limit", retry_after=7),
    ]
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json()["details"]["retry_after"] == 7
    assert response.json()["code"] == "crm_rate_limited"
    assert PropertySyncRun.objects.get().status == "failed"


def test_crm_auth_error_is_502_with_the_crms_message(api_client, fake_crm, definitions, waits):
    fake_crm.failures["list_properties"] = [CrmAuthError("The token is invalid", status=401)]
    response = api_client.post("/api/v1/fakecrm/properties/sync/all")
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "crm_auth"
    assert body["details"]["message"] == "The token is invalid"
    assert body["details"]["crm_status"] == 401


def test_invalid_stored_definitions_are_400_naming_the_property(api_client, fake_crm, org):
    PropertyDefinitionFactory(
        organization=org, name="bad", type="enumeration", field_type="select", options=[]
    )
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 400
    details = response.json()["details"]
    assert details["property_name"] == "bad"
    assert details["validation_errors"] == ["An enumeration needs at least one option."]
    assert fake_crm.calls == []


def test_running_sync_is_409(api_client, fake_crm, definitions, org):
    property_sync_claim(organization=org, crm="fakecrm", object_types=["contacts"], actor=Actor.system())
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 409
    assert response.json()["code"] == "sync_in_progress"
    status = api_client.get("/api/v1/fakecrm/properties/sync/status/contacts").json()["data"]
    assert status["contacts"]["status"] == "in_progress"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/nosuchcrm/properties/sync/all", 404, "unknown_crm"),
        ("/api/v1/fakecrm/properties/sync/everything", 404, "unknown_sync_type"),
        ("/api/v1/fakecrm/properties/sync/deals", 404, "unsupported_object_type"),
    ],
)
def test_bad_paths(api_client, fake_crm, url, status, code):
    response = api_client.post(url)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_no_connection_is_422(api_client, fake_crm):
    fake_crm.connection.enabled = False
    fake_crm.connection.save()
    response = api_client.post("/api/v1/fakecrm/properties/sync/contacts")
    assert response.status_code == 422
    assert response.json()["code"] == "no_connection"


def test_sync_needs_admin_scope_status_needs_read(make_api_client, org, fake_crm):
    client = make_api_client(org, scopes=["read", "write", "sync"])
    assert client.post("/api/v1/fakecrm/properties/sync/contacts").status_code == 403
    assert client.get("/api/v1/fakecrm/properties/sync/status/contacts").status_code == 200
    assert not PropertySyncRun.objects.exists()


def test_status_shows_only_the_callers_organization(make_api_client, other_org, fake_crm, definitions, waits):
    make_api_client(fake_crm.connection.organization).post("/api/v1/fakecrm/properties/sync/contacts")
    data = make_api_client(other_org).get("/api/v1/fakecrm/properties/sync/status/contacts").json()["data"]
    assert data["last_sync"] is None
