"""Factories for contacts, events and registrations; organizations stay consistent across SubFactories."""

import factory
from django.utils import timezone

from contacts.models import Contact, Event, Registration
from tests.factories import OrganizationFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    job_title = factory.Faker("job")
    subtype = Contact.Subtype.LEAD
    status = Contact.Status.ACTIVE
    source = Contact.Source.API
    tags = factory.LazyFunction(list)
    custom_properties = factory.LazyFunction(dict)

    class Params:
        customer = factory.Trait(subtype=Contact.Subtype.CUSTOMER)
        unsubscribed = factory.Trait(status=Contact.Status.UNSUBSCRIBED)
        without_email = factory.Trait(email="")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Open house {n}")
    location = factory.Faker("city")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=7))
    ends_at = factory.LazyAttribute(
        lambda o: o.starts_at + timezone.timedelta(hours=2) if o.starts_at else None
    )


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    event = factory.SubFactory(EventFactory)
    contact = factory.SubFactory(ContactFactory, organization=factory.SelfAttribute("..event.organization"))
    registered_at = factory.LazyFunction(timezone.now)
    source = "form"
