import pytest

from integrations import registry
from tests.crm_sync.pull.paged import PagedConnector
from tests.integrations.factories import CrmConnectionFactory


@pytest.fixture
def paged():
    """The paged test CRM, registered as kind "paged" for the test."""
    PagedConnector.reset()
    with registry.register_temporarily(PagedConnector):
        yield PagedConnector
    PagedConnector.reset()


@pytest.fixture
def connection(org, paged):
    return CrmConnectionFactory(
        organization=org,
        kind="paged",
        base_url="https://paged.invalid",
        credentials={"api_key": "pk-secret"},
        conflict_strategy="remote_wins",
    )


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.SYNC_PULL_RETRY_MAX_WAIT_SECONDS = 0
