import pytest

from contacts import demo
from contacts.models import Contact, Event, Registration

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent(org):
    first = demo.seed(org)
    counts = (Contact.objects.count(), Event.objects.count(), Registration.objects.count())
    assert counts[0] == demo.CONTACT_COUNT
    assert counts[1] == len(demo.EVENTS)
    assert counts[2] > 50
    assert first.startswith(f"{demo.CONTACT_COUNT} contacts")
    second = demo.seed(org)
    assert second.startswith("0 contacts, 0 events, 0 registrations created")
    assert (Contact.objects.count(), Event.objects.count(), Registration.objects.count()) == counts


def test_seed_emails_are_unique_lower_case_and_reserved_domains(org):
    demo.seed(org)
    emails = list(Contact.objects.values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    assert all(e == e.lower() and e.rsplit("@", 1)[1] in demo.DOMAINS for e in emails)


def test_some_demo_contacts_carry_multi_checkbox_values_from_the_shipped_options(org):
    demo.seed(org)
    values = [
        c.custom_properties[demo.SERVICES_PROPERTY]
        for c in Contact.objects.all()
        if demo.SERVICES_PROPERTY in c.custom_properties
    ]
    assert values and any(len(v) > 1 for v in values)
    assert all(set(v) <= set(demo.SERVICES) for v in values)


def test_the_demo_services_are_the_options_of_the_shipped_checkbox_property():
    import json
    from pathlib import Path

    import properties

    entries = json.loads((Path(properties.__file__).parent / "contact.json").read_text(encoding="utf-8"))
    (services,) = [e for e in entries if e["name"] == demo.SERVICES_PROPERTY]
    assert services["fieldType"] == "checkbox"
    assert tuple(option["value"] for option in services["options"]) == demo.SERVICES
