"""Factories of the integrations app."""

import factory

from integrations.models import CrmConnection
from tests.factories import OrganizationFactory


class CrmConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrmConnection

    organization = factory.SubFactory(OrganizationFactory)
    kind = "hubspot"
    name = factory.Sequence(lambda n: f"connection-{n}")
    enabled = True
    base_url = "https://api.hubapi.com"
    credentials = factory.LazyFunction(lambda: {"access_token": "pat-na1-secret-token-1234"})
    batch_size = 100

    class Params:
        oauth = factory.Trait(
            credentials=factory.LazyFunction(
                lambda: {
                    "client_id": "client-id-1",
                    "client_secret": "client-secret-abcdef",
                    "refresh_token": "refresh-token-xyz-123",
                }
            )
        )
        circuit_open = factory.Trait(circuit_state="open", circuit_reason="auth failed")
