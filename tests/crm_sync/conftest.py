import pytest

from integrations import registry
from tests.crm_sync.scripted import ScriptedConnector
from tests.integrations.factories import CrmConnectionFactory


@pytest.fixture
def scripted():
    """The scripted connector, registered as kind "scripted" for the test."""
    ScriptedConnector.reset()
    with registry.register_temporarily(ScriptedConnector):
        yield ScriptedConnector
    ScriptedConnector.reset()


@pytest.fixture
def connection(org, scripted):
    return CrmConnectionFactory(
        organization=org,
        kind="scripted",
        base_url="https://scripted.invalid",
        credentials={"api_key": "sk-live-should-not-leak"},
        retry_base_seconds=10,
        retry_cap_seconds=600,
        max_retries=3,
        push_interval_seconds=60,
    )
