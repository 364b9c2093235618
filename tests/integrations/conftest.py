import pytest

from integrations.ratelimit import _local_backend


@pytest.fixture(autouse=True)
def _fresh_local_limiter():
    """The process-local limiter is module state: start every test from an empty one."""
    _local_backend.reset()
    yield
    _local_backend.reset()
