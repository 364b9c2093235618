"""Property sync runs against an in-memory CRM: plan, create / update / skip, retries, failures, locking."""

import pytest

from accounts.actors import Actor
from core.errors import Conflict, NotFound, Unprocessable
from integrations.connectors.base import RemoteProperty
from integrations.errors import CrmAuthError, CrmRateLimited, CrmUnavailable
from properties.models import PropertySyncResult, PropertySyncRun
from properties.sync_requests import property_sync_dry_run, property_sync_now
from properties.sync_services import property_sync_claim
from tests.properties.factories import PropertyDefinitionFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def _sync(org, sync_type="contacts", crm="fakecrm"):
    return property_sync_now(organization=org, crm=crm, sync_type=sync_type, actor=SYSTEM)


def _statuses(outcome):
    return {result.name: result.sync_status for result in outcome.results}


@pytest.fixture
def definitions(org):
    return [
        PropertyDefinitionFactory(organization=org, name="company_size", select=True),
        PropertyDefinitionFactory(organization=org, name="services", multi=True),
        PropertyDefinitionFactory(organization=org, name="budget", number=True),
    ]


def test_first_run_creates_in_one_batch_then_second_run_only_lists(org, fake_crm, definitions, waits):
    # when
    [outcome] = _sync(org)
    # then
    assert _statuses(outcome) == {"company_size": "created", "services": "created", "budget": "created"}
    assert fake_crm.calls == ["list:contacts", "create:contacts:3"]
    assert outcome.run.status == "completed"
    assert all(result.remote_id.startswith("prop-") for result in outcome.results)
    # when: nothing changed
    fake_crm.calls.clear()
    [second] = _sync(org)
    # then
    assert fake_crm.calls == ["list:contacts"]
    assert _statuses(second) == {"company_size": "skipped", "services": "skipped", "budget": "skipped"}
    assert second.run.api_calls == 1
    assert waits == []


def test_changed_definition_is_updated_with_its_differences(org, fake_crm, definitions, waits):
    _sync(org)
    definition = definitions[0]
    definition.label = "Company size (employees)"
    definition.options = [
        *definition.options,
        {"label": "Huge", "value": "huge", "display_order": 2, "hidden": False},
    ]
    definition.save()
    fake_crm.calls.clear()
    # when
    [outcome] = _sync(org)
    # then
    assert _statuses(outcome)["company_size"] == "updated"
    assert fake_crm.calls == ["list:contacts", "update:contacts:company_size"]
    result = PropertySyncResult.objects.get(run=outcome.run, name="company_size")
    assert set(result.differences) == {"label", "options"}
    assert result.differences["label"] == {"local": "Company size (employees)", "crm": "Company Size"}
    assert fake_crm.properties["contacts"]["company_size"].label == "Company size (employees)"


def test_crm_defined_property_is_never_touched(org, fake_crm, waits):
    fake_crm.add("contacts", RemoteProperty(name="email", label="Email", type="string", crm_defined=True))
    PropertyDefinitionFactory(organization=org, name="email", label="E-mail address")
    # when
    [outcome] = _sync(org)
    # then
    assert _statuses(outcome) == {"email": "skipped"}
    assert fake_crm.calls == ["list:contacts"]
    assert fake_crm.properties["contacts"]["email"].label == "Email"


def test_missing_group_is_created_once_before_creating(org, fake_crm, waits):
    PropertyDefinitionFactory(organization=org, name="a_field", group_name="event_details")
    PropertyDefinitionFactory(organization=org, name="b_field", group_name="event_details")
    [outcome] = _sync(org)
    assert fake_crm.calls == ["list:contacts", "group:contacts:event_details", "create:contacts:2"]
    assert outcome.run.status == "completed"


def test_type_change_is_refused_and_not_attempted(org, fake_crm, waits):
    fake_crm.add("contacts", RemoteProperty(name="budget", label="Budget", type="string", field_type="text"))
    PropertyDefinitionFactory(organization=org, name="budget", label="Budget", number=True)
    PropertyDefinitionFactory(organization=org, name="notes_extra")
    # when
    [outcome] = _sync(org)
    # then
    assert _statuses(outcome) == {"budget": "failed", "notes_extra": "created"}
    assert fake_crm.calls == ["list:contacts", "create:contacts:1"]
    assert outcome.run.status == "partial"
    failed = PropertySyncResult.objects.get(run=outcome.run, name="budget")
    assert failed.error_category == "refused"
    assert "different type" in failed.error


def test_rename_is_refused_in_the_plan(org, fake_crm):
    fake_crm.add(
        "contacts", RemoteProperty(name="old_name", label="Event size", type="string", field_type="text")
    )
    PropertyDefinitionFactory(organization=org, name="event_size", label="Event size")
    plans = property_sync_dry_run(organization=org, crm="fakecrm", sync_type="contacts")
    [change] = plans["contacts"].changes
    assert change.action == "refused"
    assert "old_name" in change.reason


def test_dry_run_plans_and_changes_nothing(org, fake_crm, definitions):
    fake_crm.add(
        "contacts", RemoteProperty(name="budget", label="Old label", type="number", field_type="number")
    )
    # when
    plans = property_sync_dry_run(organization=org, crm="fakecrm", sync_type="all")
    # then
    assert plans["contacts"].summary() == {"create": 2, "update": 1, "skip": 0, "refused": 0}
    assert plans["leads"].summary() == {"create": 0, "update": 0, "skip": 0, "refused": 0}
    assert plans["contacts"].of("update")[0].differences["label"] == {"local": "Budget", "crm": "Old label"}
    assert fake_crm.calls == ["list:contacts", "list:leads"]
    assert fake_crm.properties["contacts"]["budget"].label == "Old label"
    assert not PropertySyncRun.objects.exists()


def test_rate_limit_mid_run_is_retried_after_retry_after(org, fake_crm, definitions, waits):
    fake_crm.failures["create_properties"] = [CrmRateLimited("slow down", status=429, retry_after=2)]
    [outcome] = _sync(org)
    assert outcome.run.status == "completed"
    assert waits == [2.0]
    assert fake_crm.calls == ["list:contacts", "create:contacts:3", "create:contacts:3"]
    assert outcome.run.api_calls == 3


def test_retriable_error_without_retry_after_backs_off_exponentially(
    org, fake_crm, definitions, waits, settings
):
    settings.PROPERTIES_SYNC_BACKOFF_BASE_SECONDS = 1.0
    fake_crm.failures["list_properties"] = [CrmUnavailable("down"), CrmUnavailable("down")]
    [outcome] = _sync(org)
    assert outcome.run.status == "completed"
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_rate_limit_outlasting_the_retries_fails_the_run(org, fake_crm, definitions, waits, settings):
    settings.PROPERTIES_SYNC_MAX_RETRIES = 2
    fake_crm.failures["list_properties"] = [CrmRateLimited("limit", retry_after=1) for _ in range(3)]
    [outcome] = _sync(org)
    assert outcome.run.status == "failed"
    assert outcome.run.error_category == "rate_limited"
    assert isinstance(outcome.fatal, CrmRateLimited)
    assert waits == [1.0, 1.0]
    assert not PropertySyncResult.objects.exists()


def test_long_retry_after_is_not_waited_for(org, fake_crm, definitions, waits, settings):
    settings.PROPERTIES_SYNC_MAX_WAIT_SECONDS = 30
    fake_crm.failures["list_properties"] = [CrmRateLimited("daily limit", retry_after=3600)]
    [outcome] = _sync(org)
    assert outcome.run.status == "failed"
    assert waits == []


def test_auth_error_fails_the_run_without_retrying(org, fake_crm, definitions, waits):
    fake_crm.failures["list_properties"] = [CrmAuthError("token expired", status=401)]
    [outcome] = _sync(org)
    assert outcome.run.status == "failed"
    assert outcome.run.error_category == "auth"
    assert fake_crm.calls == ["list:contacts"]


def test_per_property_failures_make_a_partial_run(org, fake_crm, definitions, waits):
    fake_crm.reject["services"] = "Options are invalid"
    [outcome] = _sync(org)
    assert _statuses(outcome) == {"company_size": "created", "services": "failed", "budget": "created"}
    assert outcome.run.status == "partial"
    assert (outcome.run.created_count, outcome.run.failed_count) == (2, 1)


def test_all_syncs_contacts_and_leads(org, fake_crm, definitions, waits):
    PropertyDefinitionFactory(organization=org, object_type="leads", name="project_category", group_name="")
    outcomes = _sync(org, "all")
    assert [outcome.run.object_type for outcome in outcomes] == ["contacts", "leads"]
    assert len({outcome.run.batch_id for outcome in outcomes}) == 1
    assert "project_category" in fake_crm.properties["leads"]
    assert "group:leads:leadinformation" in fake_crm.calls


def test_a_second_sync_while_one_is_active_is_409_and_creates_nothing(org, fake_crm, definitions):
    property_sync_claim(organization=org, crm="fakecrm", object_types=["leads"], actor=SYSTEM)
    with pytest.raises(Conflict) as excinfo:
        _sync(org, "all")
    assert excinfo.value.code == "sync_in_progress"
    assert excinfo.value.details["object_type"] == "leads"
    assert PropertySyncRun.objects.count() == 1
    assert fake_crm.calls == []
    # another object type is independent
    [outcome] = _sync(org, "contacts")
    assert outcome.run.status == "completed"


def test_a_stale_active_run_no_longer_blocks(org, fake_crm, definitions, settings):
    settings.PROPERTIES_SYNC_STALE_AFTER_SECONDS = 0
    [stale] = property_sync_claim(organization=org, crm="fakecrm", object_types=["contacts"], actor=SYSTEM)
    [outcome] = _sync(org)
    stale.refresh_from_db()
    assert stale.status == "failed" and stale.error_category == "abandoned"
    assert outcome.run.status == "completed"


def test_unknown_crm_object_type_or_missing_connection(org, fake_crm):
    with pytest.raises(NotFound) as excinfo:
        _sync(org, crm="nosuchcrm")
    assert excinfo.value.code == "unknown_crm"
    with pytest.raises(NotFound) as excinfo:
        _sync(org, "deals")
    assert excinfo.value.code == "unsupported_object_type"
    fake_crm.connection.enabled = False
    fake_crm.connection.save()
    with pytest.raises(Unprocessable) as excinfo:
        _sync(org)
    assert excinfo.value.code == "no_connection"
    assert not PropertySyncRun.objects.exists()


def test_stored_invalid_definitions_fail_the_run_before_any_call(org, fake_crm, waits):
    PropertyDefinitionFactory(organization=org, name="Bad-Name", type="enumeration", field_type="text")
    [outcome] = _sync(org)
    assert outcome.run.status == "failed"
    assert outcome.run.error_category == "validation"
    assert fake_crm.calls == []
    [problem] = outcome.fatal.problems
    assert problem["property_name"] == "Bad-Name"
    assert set(problem["validation_errors"]) == {"name", "field_type", "options"}
