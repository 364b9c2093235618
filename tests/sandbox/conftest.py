"""Helpers for the sandbox tests: a Django test client with each CRM's demo credentials."""

import base64

import pytest
from django.test import Client

from sandbox import credentials as creds
from sandbox.config import config_update


@pytest.fixture
def client_():
    return Client()


@pytest.fixture
def hubspot(db):
    # Rate limits are real (5 searches a second...): tests about them switch them back on.
    config_update(kind="hubspot", changes={"rate_limit_enabled": False})
    return Client(HTTP_AUTHORIZATION=f"Bearer {creds.HUBSPOT_TOKEN}")


@pytest.fixture
def brevo(db):
    config_update(kind="brevo", changes={"rate_limit_enabled": False})
    return Client(HTTP_API_KEY=creds.BREVO_API_KEY)


@pytest.fixture
def mautic(db):
    basic = base64.b64encode(f"{creds.MAUTIC_USERNAME}:{creds.MAUTIC_PASSWORD}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {basic}")


@pytest.fixture
def configure(db):
    """configure("hubspot", rate_limits={...}) changes a sandbox's config for the test."""

    def change(kind, **changes):
        return config_update(kind=kind, changes=changes)

    return change
