"""Brivity connector (kind "brivity"): the REST connector with Brivity's preset."""

from integrations.connectors.brivity.connector import BrivityConnector

__all__ = ["BrivityConnector"]
