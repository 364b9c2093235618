"""HubSpot CRM v3 connector (connector.py: capabilities; client.py: endpoints; mapping.py: JSON)."""

from integrations.connectors.hubspot.connector import HubSpotConnector

__all__ = ["HubSpotConnector"]
