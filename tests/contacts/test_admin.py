import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from contacts.models import Contact, Registration
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/contacts/contact/"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


@pytest.fixture
def staff_client(org):
    """A staff member of `org` only, with the contacts permissions."""
    user = UserFactory(is_superuser=False)
    MembershipFactory(user=user, organization=org)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="contacts"))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def _inline_management(client, url: str) -> dict:
    """Management-form data of every inline the page shows (other apps may add inlines)."""
    data = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        formset = inline.formset
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(formset.initial_form_count())
        data[f"{formset.prefix}-INITIAL_FORMS"] = str(formset.initial_form_count())
        for index, form in enumerate(formset.initial_forms):
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                if value is not None:
                    data[f"{formset.prefix}-{index}-{name}"] = getattr(value, "pk", value)
    return data


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("contacts.csv", text.encode(), content_type="text/csv")


def _preview(client, org, text: str):
    response = client.post(
        f"{CHANGELIST}import/",
        {"import_file": _csv(text), "format": "0", "organization": org.pk, "resource": "0"},
    )
    assert response.status_code == 200
    return response


def _confirm(client, preview):
    confirm_form = preview.context["confirm_form"]
    data = {
        name: confirm_form.initial.get(name, field.initial) for name, field in confirm_form.fields.items()
    }
    return client.post(f"{CHANGELIST}process_import/", data, follow=True)


def test_changelist_shows_only_member_organizations_rows(staff_client, org, other_org):
    ContactFactory(organization=org, email="mine@example.com")
    ContactFactory(organization=other_org, email="theirs@example.com")
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"mine@example.com" in response.content
    assert b"theirs@example.com" not in response.content


def test_staff_cannot_open_another_organizations_contact(staff_client, other_org):
    contact = ContactFactory(organization=other_org)
    response = staff_client.get(f"{CHANGELIST}{contact.pk}/change/")
    assert response.status_code == 302  # the admin redirects a missing object to the index


def test_superuser_sees_everything_and_searches(superuser_client, org, other_org):
    ContactFactory(organization=org, email="mine@example.com", company="Initech")
    ContactFactory(organization=other_org, email="theirs@example.com")
    assert b"theirs@example.com" in superuser_client.get(CHANGELIST).content
    response = superuser_client.get(CHANGELIST, {"q": "initech"})
    assert b"mine@example.com" in response.content
    assert b"theirs@example.com" not in response.content
    assert (
        superuser_client.get(CHANGELIST, {"subtype__exact": "lead", "status__exact": "active"}).status_code
        == 200
    )


def test_changelist_query_count_is_constant(superuser_client, org):
    """Other apps extend ContactAdmin (crm_sync adds a column and a filter), so compare 3 and 30 rows."""

    def queries_for_changelist() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert superuser_client.get(CHANGELIST).status_code == 200
        return len(captured)

    ContactFactory.create_batch(3, organization=org)
    with_3 = queries_for_changelist()
    ContactFactory.create_batch(27, organization=org)
    assert queries_for_changelist() == with_3


def test_change_form_shows_registrations_and_audit_history(superuser_client, org, api_client):
    contact_id = api_client.post("/api/v1/contacts/", {"email": "h@example.com"}).json()["id"]
    RegistrationFactory(contact_id=contact_id, event=EventFactory(organization=org, name="Gala Night"))
    response = superuser_client.get(f"{CHANGELIST}{contact_id}/change/")
    assert response.status_code == 200
    assert b"contact.created" in response.content
    assert b"Gala Night" in response.content


def test_add_through_admin_is_audited_and_normalised(staff_client, org):
    response = staff_client.post(
        f"{CHANGELIST}add/",
        {
            "organization": org.pk,
            "email": "New@Example.com",
            "first_name": "N",
            "subtype": "lead",
            "status": "active",
            "source": "manual",
            "tags": '["a"]',
            "custom_properties": "{}",
            "registrations-TOTAL_FORMS": "0",
            "registrations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert contact.email == "new@example.com"
    assert contact.created_by_user == staff_client.user
    assert AuditEvent.objects.filter(action="contact.created", actor_user=staff_client.user).exists()


def test_admin_refuses_duplicate_email_and_other_org(staff_client, org, other_org):
    ContactFactory(organization=org, email="dup@example.com")
    base = {
        "subtype": "lead",
        "status": "active",
        "source": "manual",
        "tags": "[]",
        "custom_properties": "{}",
        "registrations-TOTAL_FORMS": "0",
        "registrations-INITIAL_FORMS": "0",
    }
    dup = staff_client.post(f"{CHANGELIST}add/", {**base, "organization": org.pk, "email": "DUP@example.com"})
    assert dup.status_code == 200
    assert "email" in dup.context["adminform"].form.errors
    foreign = staff_client.post(
        f"{CHANGELIST}add/", {**base, "organization": other_org.pk, "email": "x@example.com"}
    )
    assert foreign.status_code == 200
    assert "organization" in foreign.context["adminform"].form.errors
    assert Contact.objects.count() == 1


def test_bulk_delete_action_is_audited(superuser_client, org):
    contacts = ContactFactory.create_batch(2, organization=org)
    response = superuser_client.post(
        CHANGELIST, {"action": "delete_selected_contacts", "_selected_action": [str(c.pk) for c in contacts]}
    )
    assert response.status_code == 302
    assert Contact.objects.count() == 0
    assert AuditEvent.objects.filter(action="contact.deleted").count() == 2


def test_event_changelist_has_registration_count_and_is_scoped(staff_client, org, other_org):
    staff_client.user.user_permissions.add(*Permission.objects.filter(codename__endswith="_event"))
    event = EventFactory(organization=org, name="Mine")
    RegistrationFactory.create_batch(3, event=event)
    EventFactory(organization=other_org, name="Theirs-xyz")
    response = staff_client.get("/admin/contacts/event/")
    assert response.status_code == 200
    assert b"Mine" in response.content
    assert b"Theirs-xyz" not in response.content
    assert [e._registration_count for e in response.context["cl"].result_list] == [3]


def test_export_is_scoped_csv(staff_client, org, other_org):
    ContactFactory(organization=org, email="mine@example.com", tags=["a", "b"])
    ContactFactory(organization=other_org, email="theirs@example.com")
    response = staff_client.post(
        f"{CHANGELIST}export/",
        {
            "format": "0",
            "resource": "0",
            **{f"contactresource_{f}": "on" for f in ("email", "tags", "first_name")},
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "mine@example.com" in text
    assert "a, b" in text
    assert "theirs@example.com" not in text


def test_import_dedupes_by_email_and_reports_rejected_rows(staff_client, org, other_org):
    existing = ContactFactory(organization=org, email="old@example.com", first_name="Before")
    ContactFactory(organization=other_org, email="new@example.com", first_name="Other org")
    csv_text = (
        "email,first_name,subtype,tags,custom_properties\n"
        'OLD@example.com,After,customer,"a, b",\n'
        'new@example.com,New,lead,,{"score": 1}\n'
        "NEW@example.com,Newer,lead,,\n"
        "broken,Bad email,lead,,\n"
        "ok@example.com,Bad subtype,bogus,,\n"
        "json@example.com,Bad json,lead,,{not json\n"
        ",No email,prospect,,\n"
    )
    preview = _preview(staff_client, org, csv_text)
    rejected = preview.context["result"].rejected_rows
    assert [r["row"] for r in rejected] == [4, 5, 6]
    assert "email" in rejected[0]["reasons"]
    assert "subtype" in rejected[1]["reasons"]
    assert "custom_properties" in rejected[2]["reasons"]
    assert b"will be rejected" in preview.content
    assert Contact.objects.filter(organization=org).count() == 1  # the preview wrote nothing
    assert not AuditEvent.objects.filter(object_type="contact").exists()

    confirm = _confirm(staff_client, preview)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "3 rows rejected" in page
    existing.refresh_from_db()
    assert (existing.first_name, existing.subtype, existing.tags) == ("After", "customer", ["a", "b"])
    new = Contact.objects.get(organization=org, email="new@example.com")
    assert new.first_name == "Newer"  # the repeated email updated the row imported before it
    assert new.source == "import"
    assert Contact.objects.filter(organization=org, email="", first_name="No email").exists()
    assert Contact.objects.filter(organization=org).count() == 3
    assert Contact.objects.get(organization=other_org).first_name == "Other org"
    assert AuditEvent.objects.filter(action="contact.created", actor_user=staff_client.user).count() == 2


def test_import_into_a_non_member_organization_is_refused(staff_client, other_org):
    response = staff_client.post(
        f"{CHANGELIST}import/",
        {
            "import_file": _csv("email\nx@example.com\n"),
            "format": "0",
            "organization": other_org.pk,
            "resource": "0",
        },
    )
    assert response.status_code == 200
    assert "organization" in response.context["form"].errors
    assert Contact.objects.count() == 0


def test_registration_inline_adds_and_removes_through_services(superuser_client, org):
    contact = ContactFactory(organization=org)
    event = EventFactory(organization=org)
    form = {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": "",
        "company": contact.company,
        "job_title": contact.job_title,
        "subtype": "lead",
        "status": "active",
        "source": "api",
        "tags": "[]",
        "custom_properties": "{}",
        "notes": "",
    }
    url = f"{CHANGELIST}{contact.pk}/change/"
    form.update(_inline_management(superuser_client, url))
    form.update(
        {
            "registrations-TOTAL_FORMS": "1",
            "registrations-0-event": str(event.pk),
            "registrations-0-source": "phone",
        }
    )
    response = superuser_client.post(url, form)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    registration = Registration.objects.get(contact=contact)
    assert registration.source == "phone"
    assert AuditEvent.objects.filter(action="registration.created").exists()
