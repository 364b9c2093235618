"""Admin for contacts and events. Saves and deletes go through the services (audited, announced).

ContactAdmin is built to be extended by other apps (crm_sync adds sync-status columns,
filters and actions): list_display, list_filter and actions are plain class attributes,
and the class is importable as contacts.admin.ContactAdmin.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin
from import_export.forms import ConfirmImportForm, ImportForm

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from accounts.models import Organization
from contacts.models import Contact, Event, Registration
from contacts.resources import ContactResource
from contacts.selectors import contact_history
from contacts.services.contacts import (
    EDITABLE_FIELDS,
    contact_create,
    contact_update,
    contact_values_clean,
    contacts_delete_many,
)
from contacts.services.contacts import contact_delete as contact_delete_service
from contacts.services.events import (
    EVENT_FIELDS,
    event_create,
    event_delete,
    event_update,
    registration_create,
    registration_delete,
    registration_update,
)
from contacts.validation import contact_identity_check
from core.errors import ApplicationError

HISTORY_ROWS = 50


def _form_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service's error on the form fields it names (or on the form)."""
    placed = False
    for field, problems in (exc.details or {}).items():
        if field in form.fields:
            messages_ = (
                problems if isinstance(problems, list) else [f"{k}: {v}" for k, v in dict(problems).items()]
            )
            form.add_error(field, [str(m) for m in messages_])
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class ContactAdminForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["organization", *EDITABLE_FIELDS]

    def clean_email(self):
        return (self.cleaned_data.get("email") or "").strip().lower()

    def clean(self):
        """Run the services' checks here so a bad value is a form error, not a failed save."""
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or self.errors:
            return cleaned
        data = {name: cleaned[name] for name in EDITABLE_FIELDS if name in cleaned}
        try:
            contact_values_clean(organization=organization, data=data)
            contact_identity_check(
                email=cleaned.get("email"),
                first_name=cleaned.get("first_name"),
                last_name=cleaned.get("last_name"),
            )
        except ApplicationError as exc:
            _form_errors(self, exc)
        return cleaned

    def validate_unique(self):
        # The conditional email constraint is checked (and reported with the existing id) by the service.
        pass

    def _post_clean(self):
        super()._post_clean()
        email = self.cleaned_data.get("email")
        organization = self.cleaned_data.get("organization") or getattr(self.instance, "organization", None)
        if email and organization is not None:
            taken = Contact.objects.filter(organization=organization, email=email).exclude(
                pk=self.instance.pk
            )
            if taken.exists():
                self.add_error("email", "A contact with this email already exists in the organization.")


class RegistrationInline(admin.TabularInline):
    model = Registration
    extra = 0
    fields = ["event", "registered_at", "source"]
    readonly_fields = ["registered_at"]
    autocomplete_fields = ["event"]
    show_change_link = False


class OrganizationImportForm(ImportForm):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), required=True)


class OrganizationConfirmImportForm(ConfirmImportForm):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all(), widget=forms.HiddenInput)


@admin.register(Contact)
class ContactAdmin(OrganizationScopedAdmin, ImportExportModelAdmin):
    form = ContactAdminForm
    resource_classes = [ContactResource]
    import_form_class = OrganizationImportForm
    confirm_form_class = OrganizationConfirmImportForm
    import_template_name = "admin/contacts/contact/import.html"
    list_display = [
        "email",
        "full_name",
        "company",
        "subtype",
        "status",
        "source",
        "organization",
        "updated_at",
    ]
    list_filter = ["subtype", "status", "source", "organization", "created_at", "updated_at"]
    search_fields = ["email", "first_name", "last_name", "company"]
    list_select_related = ["organization"]
    list_per_page = 100
    ordering = ["-updated_at"]
    date_hierarchy = "created_at"
    actions = ["delete_selected_contacts"]
    inlines = [RegistrationInline]
    readonly_fields = ["id", "created_at", "updated_at", "created_by", "audit_history"]
    fieldsets = [
        (None, {"fields": ["id", "organization", "email", "first_name", "last_name", "phone"]}),
        ("Work", {"fields": ["company", "job_title"]}),
        ("Classification", {"fields": ["subtype", "status", "source", "tags"]}),
        ("More", {"fields": ["notes", "custom_properties"]}),
        ("Record", {"fields": ["created_at", "updated_at", "created_by"]}),
        ("Audit history", {"fields": ["audit_history"], "classes": ["collapse"]}),
    ]

    # ---- list --------------------------------------------------------------------------
    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: Contact) -> str:
        return obj.full_name

    @admin.display(description="Created by")
    def created_by(self, obj: Contact) -> str:
        return obj.created_by_label or obj.created_by_type

    @admin.display(description="Latest changes")
    def audit_history(self, obj: Contact):
        if obj is None or obj.pk is None:
            return "-"
        events = list(contact_history(contact=obj)[:HISTORY_ROWS])
        if not events:
            return "No audit events."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                    e.action,
                    e.actor_label or e.actor_type,
                    str(e.changes)[:500],
                )
                for e in events
            ),
        )
        url = reverse("admin:accounts_auditevent_changelist") + f"?object_type=contact&q={obj.pk}"
        return format_html(
            "<table><tr><th>When</th><th>What</th><th>Who</th><th>Changes</th></tr>{}</table>"
            '<p><a href="{}">All audit events of this contact</a></p>',
            rows,
            url,
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")  # contacts do not move between organizations
        return readonly

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by the audited bulk delete below
        return actions

    # ---- writes go through the services ---------------------------------------------------
    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
            saved, _ = contact_update(contact=Contact.objects.get(pk=obj.pk), actor=actor, data=data)
        else:
            data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
            data.setdefault("source", Contact.Source.MANUAL)
            saved = contact_create(organization=obj.organization, actor=actor, data=data)
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_formset(self, request, form, formset, change):
        if formset.model is not Registration:
            return super().save_formset(request, form, formset, change)
        actor = Actor.for_user(request.user)
        instances = formset.save(commit=False)
        for registration in formset.deleted_objects:
            registration_delete(registration=registration, actor=actor)
        for registration in instances:
            if registration.pk is None:
                registration_create(
                    event=registration.event,
                    contact=form.instance,
                    actor=actor,
                    source=registration.source or "admin",
                )
            else:
                registration_update(
                    registration=registration, actor=actor, data={"source": registration.source}
                )

    def delete_model(self, request, obj):
        contact_delete_service(contact=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        contacts_delete_many(contacts=queryset, actor=Actor.for_user(request.user))

    @admin.action(permissions=["delete"], description="Delete selected contacts (audited)")
    def delete_selected_contacts(self, request, queryset):
        deleted = contacts_delete_many(contacts=queryset, actor=Actor.for_user(request.user))
        self.message_user(
            request,
            ngettext("%d contact deleted.", "%d contacts deleted.", deleted) % deleted,
            messages.SUCCESS,
        )

    # ---- import / export ------------------------------------------------------------------
    def has_import_permission(self, request):
        # An import both adds and updates contacts (matched by email), so it needs both rights;
        # the library checks only IMPORT_EXPORT_IMPORT_PERMISSION_CODE ("add").
        return super().has_import_permission(request) and self.has_change_permission(request)

    def create_import_form(self, request):
        form = super().create_import_form(request)
        organizations = (
            Organization.objects.all() if request.user.is_superuser else self.member_organizations(request)
        )
        form.fields["organization"].queryset = organizations
        if organizations.count() == 1:
            form.fields["organization"].initial = organizations.first()
        return form

    def create_confirm_form(self, request, import_form=None):
        form = super().create_confirm_form(request, import_form)
        if not request.user.is_superuser:
            form.fields["organization"].queryset = self.member_organizations(request)
        return form

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["organization"] = import_form.cleaned_data["organization"].pk
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        resource_kwargs = super().get_import_resource_kwargs(request, **kwargs)
        form = kwargs.get("form")
        organization = form.cleaned_data.get("organization") if form is not None and form.is_bound else None
        resource_kwargs.update({"organization": organization, "actor": Actor.for_user(request.user)})
        return resource_kwargs

    def get_skip_admin_log(self):
        return True  # the services write the audit trail

    def add_success_message(self, result, request):
        super().add_success_message(result, request)
        rejected = getattr(result, "rejected_rows", [])
        if rejected:
            lines = "; ".join(
                f"row {r['row']} ({r['email'] or 'no email'}): "
                + ", ".join(f"{field}: {' '.join(msgs)}" for field, msgs in r["reasons"].items())
                for r in rejected[:20]
            )
            more = f" … and {len(rejected) - 20} more" if len(rejected) > 20 else ""
            self.message_user(request, f"{len(rejected)} rows rejected: {lines}{more}", messages.WARNING)


@admin.register(Event)
class EventAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "starts_at", "location", "external_id", "registration_count"]
    list_filter = ["organization", "starts_at"]
    search_fields = ["name", "external_id", "location"]
    list_select_related = ["organization"]
    ordering = ["-starts_at"]
    readonly_fields = ["id", "created_at", "updated_at"]
    fields = ["id", "organization", *EVENT_FIELDS, "created_at", "updated_at"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(_registration_count=Count("registrations", distinct=True))
        )

    @admin.display(description="Registrations", ordering="_registration_count")
    def registration_count(self, obj: Event) -> int:
        return obj._registration_count

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
        return readonly

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        try:
            if change:
                data = {name: form.cleaned_data[name] for name in form.changed_data if name in EVENT_FIELDS}
                saved, _ = event_update(event=Event.objects.get(pk=obj.pk), actor=actor, data=data)
            else:
                data = {name: form.cleaned_data[name] for name in EVENT_FIELDS if name in form.cleaned_data}
                saved = event_create(organization=obj.organization, actor=actor, data=data)
        except ApplicationError as exc:
            # Form validation already ran model checks; a race on external_id is all that is left.
            self.message_user(request, exc.message, messages.ERROR)
            raise
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db

    def delete_model(self, request, obj):
        event_delete(event=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.for_user(request.user)
        for event in queryset.select_related("organization"):
            event_delete(event=event, actor=actor)
