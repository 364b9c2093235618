"""The generic REST connector (kind "rest") and the pieces its presets reuse."""

from integrations.connectors.rest.connector import RestConnector

__all__ = ["RestConnector"]
