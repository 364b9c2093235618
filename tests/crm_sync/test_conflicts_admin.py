"""The conflicts' admin: list with filters, the side-by-side review page, resolving, staff scoping."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import AuditEvent
from contacts.models import Contact
from crm_sync.models import SyncConflict, SyncStatus
from crm_sync.services.conflicts import conflict_record
from crm_sync.services.merge import FieldConflict
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory
from tests.factories import MembershipFactory, UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/crm_sync/syncconflict/"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def staff_client(org, codenames=("view_syncconflict", "change_syncconflict")):
    user = UserFactory()
    MembershipFactory(user=user, organization=org)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def make_conflict(connection, **conflicts):
    contact = ContactFactory(
        organization=connection.organization, first_name="Anne", phone="+1 555 0101", tags=["a"]
    )
    ContactSyncStateFactory(connection=connection, contact=contact, complete=True)
    return conflict_record(
        contact=contact,
        connection=connection,
        conflicts=conflicts
        or {
            "first_name": FieldConflict(base="Ann", local="Anne", remote="Annie"),
            "phone": FieldConflict(base="+1 555 0100", local="+1 555 0101", remote="+1 555 0199"),
            "tags": FieldConflict(base=[], local=["a"], remote=["b"]),
        },
        remote_updated_at=None,
    )


def test_the_list_shows_conflicts_and_filters_them(superuser_client, connection):
    open_one, done = make_conflict(connection), make_conflict(connection)
    SyncConflict.objects.filter(pk=done.pk).update(status="resolved")
    page = superuser_client.get(CHANGELIST).content.decode()
    assert open_one.contact.email in page and done.contact.email in page
    assert "first_name, phone, tags" in page
    page = superuser_client.get(CHANGELIST, {"status__exact": "open"}).content.decode()
    assert open_one.contact.email in page and done.contact.email not in page


def test_the_review_page_shows_base_local_and_remote_side_by_side(superuser_client, connection):
    conflict = make_conflict(connection)
    response = superuser_client.get(f"{CHANGELIST}{conflict.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Ann",
        "Anne",
        "Annie",
        "+1 555 0100",
        "+1 555 0199",
        "[&quot;b&quot;]",
        'name="choice__phone"',
        "Resolve",
    ):
        assert text in page, text


def test_resolving_per_field_with_a_custom_value_from_the_review_page(superuser_client, connection):
    conflict = make_conflict(connection)
    response = superuser_client.post(
        f"{CHANGELIST}{conflict.pk}/change/",
        {
            "choice__first_name": "remote",
            "choice__phone": "custom",
            "custom__phone": "+1 555 0123",
            "choice__tags": "custom",
            "custom__tags": '["a", "b"]',
        },
    )
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.status == "resolved"
    assert conflict.resolution["tags"] == {"choice": "custom", "value": ["a", "b"]}
    contact = Contact.objects.get(pk=conflict.contact_id)
    assert (contact.first_name, contact.phone, contact.tags) == ("Annie", "+1 555 0123", ["a", "b"])
    assert AuditEvent.objects.filter(action="sync.conflict_resolved", actor_type="user").exists()
    assert conflict.contact.sync_states.get().sync_status == SyncStatus.QUEUED
    # The resolved conflict's page shows the resolution and no form.
    page = superuser_client.get(f"{CHANGELIST}{conflict.pk}/change/").content.decode()
    assert "custom: +1 555 0123" in page and 'value="Resolve"' not in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"choice__first_name": "remote", "choice__phone": "local"}, "Choose local, remote or custom."),
        (
            {
                "choice__first_name": "remote",
                "choice__phone": "local",
                "choice__tags": "custom",
                "custom__tags": "[a",
            },
            "Not valid JSON.",
        ),
        (
            {
                "choice__first_name": "custom",
                "custom__first_name": "x" * 200,
                "choice__phone": "local",
                "choice__tags": "local",
            },
            "Not resolved",
        ),
    ],
)
def test_a_bad_choice_is_shown_on_the_page_and_changes_nothing(superuser_client, connection, data, message):
    conflict = make_conflict(connection)
    response = superuser_client.post(f"{CHANGELIST}{conflict.pk}/change/", data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == "open"
    assert Contact.objects.get(pk=conflict.contact_id).first_name == "Anne"


def test_staff_see_and_resolve_only_their_organizations_conflicts(org, other_org, connection):
    mine = make_conflict(connection)
    theirs = make_conflict(CrmConnectionFactory(organization=other_org))
    client = staff_client(org)
    page = client.get(CHANGELIST).content.decode()
    assert mine.contact.email in page and theirs.contact.email not in page
    response = client.get(f"{CHANGELIST}{theirs.pk}/change/")
    assert response.status_code == 302  # the admin's "does not exist" redirect
    client.post(f"{CHANGELIST}{theirs.pk}/change/", {"choice__first_name": "remote"})
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_staff_with_view_permission_only_cannot_resolve(org, connection):
    conflict = make_conflict(connection)
    client = staff_client(org, codenames=("view_syncconflict",))
    page = client.get(f"{CHANGELIST}{conflict.pk}/change/").content.decode()
    assert 'value="Resolve"' not in page
    response = client.post(
        f"{CHANGELIST}{conflict.pk}/change/",
        {"choice__first_name": "remote", "choice__phone": "remote", "choice__tags": "remote"},
    )
    assert response.status_code == 403
    conflict.refresh_from_db()
    assert conflict.status == "open"
