from tests.integrations.rest.support import _registry_and_limits, make_connection  # noqa: F401
