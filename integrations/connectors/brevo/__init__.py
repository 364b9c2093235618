"""Brevo (formerly Sendinblue) API v3 connector."""

from .bulk import ImportJob
from .connector import BrevoConnector

__all__ = ["BrevoConnector", "ImportJob"]
