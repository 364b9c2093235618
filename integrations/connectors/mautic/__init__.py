"""Mautic REST API connector (self-hosted Mautic 4/5)."""

from .connector import MauticConnector

__all__ = ["MauticConnector"]
