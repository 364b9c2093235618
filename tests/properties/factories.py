"""Factories of the properties app."""

import factory

from properties.models import PropertyDefinition, PropertySyncRun
from tests.factories import OrganizationFactory


class PropertyDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PropertyDefinition

    organization = factory.SubFactory(OrganizationFactory)
    object_type = "contacts"
    name = factory.Sequence(lambda n: f"custom_field_{n}")
    label = factory.LazyAttribute(lambda o: o.name.replace("_", " ").title())
    type = "string"
    field_type = "text"
    group_name = "contactinformation"
    description = ""
    options = factory.LazyFunction(list)

    class Params:
        select = factory.Trait(
            type="enumeration",
            field_type="select",
            options=[
                {"label": "Small", "value": "small", "display_order": 0, "hidden": False},
                {"label": "Large", "value": "large", "display_order": 1, "hidden": False},
            ],
        )
        multi = factory.Trait(
            type="enumeration",
            field_type="checkbox",
            options=[
                {
                    "label": "Restroom Trailer",
                    "value": "Restroom Trailer",
                    "display_order": 0,
                    "hidden": False,
                },
                {"label": "Porta Potty", "value": "Porta Potty", "display_order": 1, "hidden": False},
                {"label": "Shower Trailer", "value": "Shower Trailer", "display_order": 2, "hidden": False},
            ],
        )
        number = factory.Trait(type="number", field_type="number")
        boolean = factory.Trait(
            type="bool",
            field_type="booleancheckbox",
            options=[
                {"label": "Yes", "value": "true", "display_order": 0, "hidden": False},
                {"label": "No", "value": "false", "display_order": 1, "hidden": False},
            ],
        )
        day = factory.Trait(type="date", field_type="date")
        moment = factory.Trait(type="datetime", field_type="date")


class PropertySyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PropertySyncRun

    organization = factory.SubFactory(OrganizationFactory)
    crm = "hubspot"
    object_type = "contacts"
    status = "completed"
