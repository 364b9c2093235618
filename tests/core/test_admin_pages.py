"""Every admin page a superuser can open renders, on the demo data (a template or query error fails here)."""

import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client():
    call_command("bootstrap_demo", stdout=io.StringIO())
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_every_changelist_add_and_change_page_renders(superuser_client):
    checked = []
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = superuser_client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        assert changelist.status_code == 200, (info, changelist.status_code)
        first = model_admin.get_queryset(changelist.wsgi_request).first()
        if first is not None:
            change = superuser_client.get(reverse(f"admin:{info[0]}_{info[1]}_change", args=[first.pk]))
            assert change.status_code == 200, (info, "change", change.status_code)
        if model_admin.has_add_permission(changelist.wsgi_request):
            add = superuser_client.get(reverse(f"admin:{info[0]}_{info[1]}_add"))
            assert add.status_code == 200, (info, "add", add.status_code)
        checked.append(info)
    assert ("contacts", "contact") in checked and ("crm_sync", "contactsyncstate") in checked
