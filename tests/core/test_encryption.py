"""The encrypted field on a real model (CRM credentials): ciphertext at rest, key rotation."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core.fields import _fernet_for
from integrations.models import CrmConnection
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

SECRET = {"access_token": "pat-na1-abcdef-123456"}


@pytest.fixture(autouse=True)
def _fresh_fernet():
    _fernet_for.cache_clear()
    yield
    _fernet_for.cache_clear()


def raw_credentials(pk: int) -> str:
    table = connection.ops.quote_name(CrmConnection._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT credentials FROM {table} WHERE id = %s", [pk])  # noqa: S608 - model's own table
        return cursor.fetchone()[0]


def test_round_trip_stores_only_ciphertext(org):
    row = CrmConnectionFactory(organization=org, credentials=SECRET)
    assert "pat-na1" not in raw_credentials(row.pk)
    assert CrmConnection.objects.get(pk=row.pk).credentials == SECRET


def test_key_rotation_reads_old_rows_and_reencrypts(org, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    row = CrmConnectionFactory(organization=org, credentials=SECRET)
    old_token = raw_credentials(row.pk)

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    _fernet_for.cache_clear()
    assert CrmConnection.objects.get(pk=row.pk).credentials == SECRET

    call_command("reencrypt_fields", stdout=io.StringIO())
    new_token = raw_credentials(row.pk)
    assert new_token != old_token
    Fernet(new_key.encode()).decrypt(new_token.encode())  # now readable by the new key alone

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    _fernet_for.cache_clear()
    assert CrmConnection.objects.get(pk=row.pk).credentials == SECRET


def test_a_token_no_key_opens_is_an_error_not_empty_credentials(org, settings):
    row = CrmConnectionFactory(organization=org, credentials=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    _fernet_for.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="could not be decrypted"):
        CrmConnection.objects.get(pk=row.pk)
