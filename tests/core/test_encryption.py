import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, models

from core.fields import EncryptedJSONField, _fernet_for

pytestmark = pytest.mark.django_db(transaction=True)


def raw_value(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test-only names
        return cursor.fetchone()[0]


class Vault(models.Model):  # noqa: DJ008
    """A throwaway table with an encrypted column: the field must work on any model."""

    secret = EncryptedJSONField()

    class Meta:
        app_label = "core"
        db_table = "test_vault"


@pytest.fixture
def secret_row(transactional_db):
    with connection.schema_editor() as editor:
        editor.create_model(Vault)
    yield Vault
    with connection.schema_editor() as editor:
        editor.delete_model(Vault)


def test_round_trip_stores_only_ciphertext(secret_row):
    row = secret_row.objects.create(secret={"token": "pat-na1-abcdef"})
    stored = raw_value("test_vault", "secret", row.pk)
    assert "pat-na1" not in stored
    assert secret_row.objects.get(pk=row.pk).secret == {"token": "pat-na1-abcdef"}


def test_key_rotation_reads_old_rows_and_reencrypts(secret_row, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    row = secret_row.objects.create(secret={"password": "s3cret"})
    old_token = raw_value("test_vault", "secret", row.pk)

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    _fernet_for.cache_clear()
    assert secret_row.objects.get(pk=row.pk).secret == {"password": "s3cret"}

    call_command("reencrypt_fields", stdout=io.StringIO())
    new_token = raw_value("test_vault", "secret", row.pk)
    assert new_token != old_token
    Fernet(new_key.encode()).decrypt(new_token.encode())  # now readable by the new key alone

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    _fernet_for.cache_clear()
    assert secret_row.objects.get(pk=row.pk).secret == {"password": "s3cret"}


def test_a_token_no_key_opens_is_an_error_not_empty_credentials(secret_row, settings):
    row = secret_row.objects.create(secret={"k": "v"})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    _fernet_for.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="could not be decrypted"):
        secret_row.objects.get(pk=row.pk)
