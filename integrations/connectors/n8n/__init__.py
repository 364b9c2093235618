"""n8n connector: contact batches posted to a Webhook node."""

from .connector import N8nConnector

__all__ = ["N8nConnector"]
