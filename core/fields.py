"""A model field whose value is encrypted at rest with Fernet (MultiFernet for key rotation).

FIELD_ENCRYPTION_KEYS lists the keys: the first encrypts, every one decrypts, so adding
a new key in front and running `manage.py reencrypt_fields` rotates without downtime.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


class RawCiphertext(str):
    """A token that is already encrypted: written as is (key rotation writes these)."""


class EncryptedJSONField(models.TextField):
    """A JSON value (dict of credentials, usually) stored as a Fernet token.

    The database only ever holds ciphertext; the Python value is plain JSON. A token no
    key can open raises, rather than silently reading as empty credentials.
    """

    description = "JSON encrypted with Fernet"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        try:
            plain = fernet().decrypt(value.encode())
        except InvalidToken:
            raise ImproperlyConfigured(
                "An encrypted field could not be decrypted with any key in FIELD_ENCRYPTION_KEYS."
            ) from None
        return json.loads(plain)

    def to_python(self, value):
        if isinstance(value, dict | list) or value is None:
            return value
        return json.loads(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, RawCiphertext):
            return str(value)
        return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def value_to_string(self, obj):
        # Serialisation (dumpdata, fixtures) never sees the secret.
        return ""


def rotate_token(token: str) -> str:
    """Re-encrypt one stored token with the first key."""
    return fernet().rotate(token.encode()).decode()
