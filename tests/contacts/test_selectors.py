import pytest

from contacts.selectors import contact_list
from core.errors import InvalidInput
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db


def test_contact_list_filters_by_api_names(org, other_org):
    event = EventFactory(organization=org)
    a = ContactFactory(organization=org, email="a@example.com", tags=["vip", "x"], subtype="customer")
    ContactFactory(organization=org, without_email=True)
    ContactFactory(organization=other_org, email="a@example.com", tags=["vip"])
    RegistrationFactory(event=event, contact=a)

    assert list(contact_list(organization=org, filters={"tag": "vip"})) == [a]
    assert list(contact_list(organization=org, filters={"has_email": "true", "subtype": "customer"})) == [a]
    assert list(contact_list(organization=org, filters={"event": str(event.pk)})) == [a]
    assert contact_list(organization=org, filters={"has_email": "false"}).count() == 1
    assert contact_list(organization=org).count() == 2


def test_contact_list_refuses_bad_values(org):
    with pytest.raises(InvalidInput) as excinfo:
        contact_list(organization=org, filters={"created_after": "notadate", "subtype": "bogus"})
    assert set(excinfo.value.details) == {"created_after", "subtype"}


def test_tag_match_is_exact_element(org):
    ContactFactory(organization=org, tags=['say "vip"', "vipx"])
    assert contact_list(organization=org, filters={"tag": "vip"}).count() == 0
    assert contact_list(organization=org, filters={"tag": 'say "vip"'}).count() == 1
