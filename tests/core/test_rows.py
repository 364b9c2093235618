"""core.rows: instances from hand-written statements, equal to what the ORM loads."""

import pytest
from django.db import connection as db_connection

from core.rows import load_by_pk
from integrations.models import CrmConnection
from tests.integrations.factories import CrmConnectionFactory

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db]


def test_load_by_pk_equals_the_orm_field_by_field(org, django_assert_num_queries):
    made = CrmConnectionFactory(
        organization=org, credentials={"access_token": "tok-123456"}, settings={"rate_tier": "free", "n": [1]}
    )
    loaded = load_by_pk(CrmConnection, made.pk, connection=db_connection)
    stored = CrmConnection.objects.get(pk=made.pk)
    with django_assert_num_queries(0):  # every column is loaded
        for field in CrmConnection._meta.concrete_fields:
            assert getattr(loaded, field.attname) == getattr(stored, field.attname), field.name
    assert loaded.credentials == {"access_token": "tok-123456"}  # decrypted by its field
    assert loaded.updated_at.utcoffset() is not None
    assert not loaded._state.adding and loaded._state.db == "default"
    loaded.name = "renamed"
    loaded.save(update_fields=["name"])
    assert CrmConnection.objects.get(pk=made.pk).name == "renamed"


def test_load_by_pk_of_a_missing_row_is_none():
    assert load_by_pk(CrmConnection, 987654321, connection=db_connection) is None
