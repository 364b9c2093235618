"""The admin door: import/export need permissions, filters name only the user's organizations,
the sandbox is for superusers, and organizations are made without a Python shell."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import AuditEvent, Membership, Organization
from contacts.models import Contact
from sandbox.models import SandboxConfig, SandboxRequestLog
from tests.contacts.factories import ContactFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTACTS = "/admin/contacts/contact/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def member(org, *codenames: str, app_label: str = "contacts"):
    user = UserFactory(is_superuser=False)
    MembershipFactory(user=user, organization=org)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )
    return user


def _export(client):
    return client.post(f"{CONTACTS}export/", {"format": "0", "resource": "0", "contactresource_email": "on"})


def _import(client, org):
    upload = SimpleUploadedFile("c.csv", b"email\nnew@example.com\n", content_type="text/csv")
    return client.post(
        f"{CONTACTS}import/", {"import_file": upload, "format": "0", "organization": org.pk, "resource": "0"}
    )


# ---- import / export ---------------------------------------------------------------------
def test_a_staff_user_without_permissions_can_neither_import_nor_export(org):
    ContactFactory(organization=org, email="kept@example.com")
    client = client_for(member(org))
    assert client.get(f"{CONTACTS}export/").status_code == 403
    assert _export(client).status_code == 403
    assert client.get(f"{CONTACTS}import/").status_code == 403
    assert _import(client, org).status_code == 403
    assert not Contact.objects.filter(email="new@example.com").exists()


def test_export_needs_the_view_permission(org):
    ContactFactory(organization=org, email="kept@example.com")
    response = _export(client_for(member(org, "view_contact")))
    assert response.status_code == 200 and "kept@example.com" in response.content.decode()


def test_import_needs_add_and_change(org):
    assert _import(client_for(member(org, "view_contact", "add_contact")), org).status_code == 403
    assert _import(client_for(member(org, "view_contact", "change_contact")), org).status_code == 403
    preview = _import(client_for(member(org, "view_contact", "add_contact", "change_contact")), org)
    assert preview.status_code == 200 and "new@example.com" in preview.content.decode()


def test_the_changelist_offers_import_and_export_only_with_the_permissions(org):
    page = client_for(member(org, "view_contact")).get(CONTACTS).content.decode()
    assert f"{CONTACTS}export/" in page and f"{CONTACTS}import/" not in page


# ---- "By organization" filters -------------------------------------------------------------
@pytest.mark.parametrize(
    "url,app_label",
    [
        (CONTACTS, "contacts"),
        ("/admin/contacts/event/", "contacts"),
        ("/admin/integrations/crmconnection/", "integrations"),
        ("/admin/accounts/auditevent/", "accounts"),
        ("/admin/accounts/organizationapikey/", "accounts"),
        ("/admin/properties/propertydefinition/", "properties"),
        ("/admin/properties/propertysyncrun/", "properties"),
    ],
)
def test_organization_filters_list_only_the_users_organizations(org, other_org, url, app_label):
    secret_name = Organization.objects.create(name="Initech-Confidential", slug="initech")
    second = Organization.objects.create(name="Hooli", slug="hooli")
    user = UserFactory(is_superuser=False)
    MembershipFactory(user=user, organization=org)
    MembershipFactory(user=user, organization=second)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label=app_label))
    page = client_for(user).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    # the filter is there, with the user's own two organizations and no other
    assert f"organization__id__exact={org.pk}" in body and f"organization__id__exact={second.pk}" in body
    assert f"organization__id__exact={other_org.pk}" not in body
    assert other_org.name not in body and secret_name.name not in body
    superuser_page = client_for(UserFactory(is_superuser=True)).get(url).content.decode()
    assert secret_name.name in superuser_page  # superusers see them all


# ---- sandbox admin ---------------------------------------------------------------------------
SANDBOX_PAGES = [
    "/admin/sandbox/",
    "/admin/sandbox/sandboxconfig/",
    "/admin/sandbox/sandboxrecord/",
    "/admin/sandbox/sandboxrequestlog/",
    "/admin/sandbox/sandboxtoken/",
    "/admin/sandbox/sandboxrateslot/",
]


@pytest.mark.parametrize("url", SANDBOX_PAGES)
def test_sandbox_pages_are_for_superusers_only_whatever_the_permissions(org, url):
    staff = member(org, app_label="sandbox")
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="sandbox"))
    assert client_for(staff).get(url).status_code in (403, 404)
    assert client_for(UserFactory(is_superuser=True)).get(url).status_code == 200


def test_staff_cannot_edit_or_delete_sandbox_rows(org):
    config = SandboxConfig.objects.create(kind="hubspot")
    log = SandboxRequestLog.objects.create(kind="hubspot", method="GET", path="/x", status=200)
    staff = member(org)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="sandbox"))
    client = client_for(staff)
    assert client.post(f"/admin/sandbox/sandboxconfig/{config.pk}/change/", {"seed": 9}).status_code == 403
    assert (
        client.post(f"/admin/sandbox/sandboxrequestlog/{log.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert SandboxRequestLog.objects.filter(pk=log.pk).exists()
    index = client.get("/admin/").content.decode()
    assert "/admin/sandbox/" not in index


# ---- creating organizations ---------------------------------------------------------------
def test_create_organization_command_with_an_owner():
    owner = UserFactory(username="founder")
    call_command("create_organization", "--name", "Umbrella Corp", "--owner", "founder")
    organization = Organization.objects.get(slug="umbrella-corp")
    assert organization.name == "Umbrella Corp"
    assert Membership.objects.get(organization=organization).user == owner
    assert Membership.objects.get(organization=organization).role == Membership.Role.OWNER
    assert AuditEvent.objects.filter(organization=organization, action="organization.created").exists()


def test_create_organization_refuses_a_taken_slug_and_an_unknown_owner(org):
    with pytest.raises(CommandError, match="slug"):
        call_command("create_organization", "--name", "Other", "--slug", org.slug)
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_organization", "--name", "Ghostly", "--owner", "ghost")
    assert not Organization.objects.filter(name__in=["Other", "Ghostly"]).exists()


def test_the_admin_creates_an_organization_with_an_owner():
    owner = UserFactory(username="boss")
    client = client_for(UserFactory(is_superuser=True))
    response = client.post(
        "/admin/accounts/organization/add/",
        {
            "name": "Wayne Enterprises",
            "slug": "wayne",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": owner.pk,
            "memberships-0-role": "owner",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    organization = Organization.objects.get(slug="wayne")
    assert Membership.objects.get(organization=organization).user == owner
    assert AuditEvent.objects.filter(organization=organization, action="organization.created").exists()


def test_a_staff_creator_becomes_the_owner_of_the_organization(org):
    staff = member(org, "add_organization", "view_organization", app_label="accounts")
    response = client_for(staff).post(
        "/admin/accounts/organization/add/",
        {"name": "Stark", "slug": "stark", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(organization__slug="stark").user == staff
