"""core.rows.instance_new: rows to insert built without Model.__init__, equal to the constructor's."""

import pytest

from contacts.models import Contact
from core.rows import instance_new


@pytest.mark.parametrize(
    "model_name", ["contacts.Contact", "crm_sync.ContactSyncState", "crm_sync.RemoteRecord"]
)
def test_instance_new_equals_the_models_constructor_field_by_field(model_name):
    from django.apps import apps

    model = apps.get_model(model_name)
    built = instance_new(model, {"organization_id": 7} if hasattr(model, "organization_id") else {})
    reference = model(organization_id=7) if hasattr(model, "organization_id") else model()
    for field in model._meta.concrete_fields:
        if field.primary_key and field.has_default():
            continue  # a generated key: a new one each time (checked below)
        assert getattr(built, field.attname) == getattr(reference, field.attname), field.name
    assert built._state.adding and built._state.db is None


def test_instance_new_calls_callable_defaults_per_instance_and_takes_given_values():

    one = instance_new(Contact, {"organization_id": 1, "email": "a@example.com", "tags": ["x"]})
    two = instance_new(Contact, {"organization_id": 1})
    assert one.pk != two.pk and one.pk is not None  # uuid4 called for each
    assert one.custom_properties == {} and one.custom_properties is not two.custom_properties
    assert (one.email, one.tags, two.tags, two.email) == ("a@example.com", ["x"], [], "")
    assert one.full_name == "" and one.subtype == Contact.Subtype.LEAD
