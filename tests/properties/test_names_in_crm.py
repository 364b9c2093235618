"""property_names_in_crm: the defined properties a sync put in one CRM, which a push maps."""

import pytest

from accounts.models import Organization
from properties.models import PropertySyncResult
from properties.selectors import property_names_in_crm
from tests.properties.factories import PropertyDefinitionFactory, PropertySyncRunFactory

pytestmark = pytest.mark.django_db


def _synced(organization, name, action, *, crm="hubspot", object_type="contacts"):
    run = PropertySyncRunFactory(organization=organization, crm=crm, object_type=object_type)
    PropertySyncResult.objects.create(run=run, name=name, sync_status=action)


def test_only_defined_properties_a_sync_created_updated_or_found_in_that_crm(org):
    other = Organization.objects.create(name="Other", slug="other-org")
    for name in ("created", "updated", "found", "failed", "elsewhere", "deals_only", "never", "other_org"):
        PropertyDefinitionFactory(organization=org, name=name)
    PropertyDefinitionFactory(organization=org, name="deal_prop", object_type="deals")
    _synced(org, "created", "created")
    _synced(org, "updated", "updated")
    _synced(org, "found", "skipped")
    _synced(org, "failed", "failed")
    _synced(org, "elsewhere", "created", crm="brevo")
    _synced(org, "deal_prop", "created", object_type="deals")
    _synced(org, "deals_only", "created", object_type="deals")
    _synced(other, "other_org", "created")
    _synced(org, "undefined_here", "created")  # synced once, no longer defined

    assert property_names_in_crm(organization=org, crm="hubspot") == {"created", "updated", "found"}
    assert property_names_in_crm(organization=org.pk, crm="brevo") == {"elsewhere"}
    assert property_names_in_crm(organization=org, crm="hubspot", object_type="deals") == {"deal_prop"}
    assert property_names_in_crm(organization=other, crm="hubspot") == set()
