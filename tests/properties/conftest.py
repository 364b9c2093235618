import pytest

from integrations import registry
from integrations.models import CrmConnection
from properties import sync_services
from tests.properties.fakes import FakeCrm, FakeCrmConnector


@pytest.fixture
def fake_crm(org):
    """A fresh in-memory CRM registered as kind "fakecrm", with an enabled connection for `org`."""
    crm = FakeCrm()
    FakeCrmConnector.crm = crm
    with registry.register_temporarily(FakeCrmConnector):
        crm.connection = CrmConnection.objects.create(organization=org, kind="fakecrm", credentials={})
        yield crm


@pytest.fixture
def waits(monkeypatch):
    """Record the sync's backoff waits instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(sync_services, "sleep", recorded.append)
    return recorded
