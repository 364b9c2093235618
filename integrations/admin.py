"""Admin of CRM connections: a setup form per CRM kind (integrations/setup_forms.py); credentials
never shown (only which are set, and when), new ones accepted write-only."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.template.response import TemplateResponse

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from contacts.models import Event
from integrations import registry
from integrations.models import CrmConnection
from integrations.selectors import connection_uses_env_credentials, credentials_masked
from integrations.services import (
    RULE_EVENTS,
    connection_circuit_close,
    connection_create,
    connection_delete,
    connection_update,
)
from integrations.setup_forms import (
    FORM_MODEL_FIELDS,
    CrmConnectionForm,
    connection_setup_form,
    setup_fieldsets,
)


@admin.register(CrmConnection)
class CrmConnectionAdmin(OrganizationScopedAdmin):
    form = CrmConnectionForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "kind",
        "organization",
        "enabled",
        "sync_direction",
        "contact_rule",
        "circuit_state",
        "batch_size",
        "updated_at",
    ]
    list_filter = ["kind", "enabled", "sync_direction", "contact_rule", "circuit_state", "organization"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [
        "credentials_status",
        "circuit_state",
        "circuit_reason",
        "circuit_opened_at",
        "quota_exhausted_until",
        "quota_exhausted_reason",
        "account_time_zone",
        "pull_cursors",
        "created_at",
        "updated_at",
    ]
    actions = ["close_circuit"]
    # The sections only the change page shows, after the setup form's (setup_fieldsets).
    status_fieldsets = [
        (
            "Circuit and cursors",
            {"fields": ["circuit_state", "circuit_reason", "circuit_opened_at", "pull_cursors"]},
        ),
        (
            "Daily quota",
            {"fields": ["quota_exhausted_until", "quota_exhausted_reason", "account_time_zone"]},
        ),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]
    # The credential test a save runs first (None: saved untested); crm_sync's admin sets it.
    credentials_try = None

    def _kind(self, request, obj=None) -> str | None:
        """The kind being set up: the connection's, else ?kind= of the add page (None: not chosen)."""
        if obj is not None:
            return obj.kind
        kind = request.GET.get("kind", "")
        return kind if kind in registry.kinds() else None

    def get_fieldsets(self, request, obj=None):
        kind = self._kind(request, obj)
        if kind is None:
            return [(None, {"fields": ["organization", "name"]})]
        fieldsets = setup_fieldsets(kind=kind, change=obj is not None)
        return fieldsets + self.status_fieldsets if obj is not None else fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        kind = self._kind(request, obj)
        if kind is not None:
            kwargs["form"] = connection_setup_form(kind=kind, credentials_try=type(self).credentials_try)
        return super().get_form(request, obj, change=change, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Django wraps this view in one transaction; here the form calls the CRM (the credential
        test, its property list), which must not happen inside an open transaction (a row lock or,
        on SQLite, the whole database held for a network round trip). save_model writes through
        the services, each atomic on its own."""
        return self._changeform_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Pick the CRM kind first: each kind has its own credentials and settings."""
        kind = self._kind(request)
        if kind is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return TemplateResponse(
                request,
                "admin/integrations/crmconnection/choose_kind.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Add a CRM connection: which CRM?",
                    "opts": self.model._meta,
                    "kinds": [
                        (name, cls.display_name, sorted(c.value for c in cls.capabilities))
                        for name, cls in sorted(
                            registry.connectors().items(), key=lambda item: item[1].display_name
                        )
                    ],
                },
            )
        display = registry.get_connector_class(kind).display_name
        context = {"title": f"Add a {display} connection", **(extra_context or {})}
        return super().add_view(request, form_url=form_url, extra_context=context)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == RULE_EVENTS:
            events = Event.objects.select_related("organization").order_by("organization__name", "name")
            if not request.user.is_superuser:
                events = events.filter(organization__in=self.member_organizations(request))
            kwargs["queryset"] = events
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is not None:
            readonly += ["organization", "kind"]
        return readonly

    @admin.display(description="Stored credentials")
    def credentials_status(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        masked = credentials_masked(obj.credentials)
        if masked:
            changed = obj.credentials_changed_at
            when = f"{changed:%Y-%m-%d %H:%M:%S} UTC" if changed else "an unknown time"
            return f"{', '.join(f'{key}: {value}' for key, value in masked.items())}; last changed {when}"
        if connection_uses_env_credentials(connection=obj):
            return "none stored; using the environment's"
        return "none"

    def save_model(self, request, obj, form, change):
        """Writes go through the services (validation, audit); the form validated, tested the
        credentials (unless told not to) and checked the mapping's targets against the CRM."""
        actor = Actor.for_user(request.user)
        values = {name: form.cleaned_data[name] for name in FORM_MODEL_FIELDS if name in form.cleaned_data}
        if RULE_EVENTS in values:
            values[RULE_EVENTS] = list(values[RULE_EVENTS])
        values["field_mapping"] = obj.field_mapping
        values["settings"] = obj.settings
        credentials = form.credentials_change
        with transaction.atomic():
            if change:
                saved = connection_update(connection=obj, actor=actor, credentials=credentials, **values)
            else:
                saved = connection_create(
                    organization=form.cleaned_data["organization"],
                    kind=obj.kind,
                    actor=actor,
                    credentials=credentials,
                    **values,
                )
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        if form.tested is not None:
            self.message_user(
                request, f"{saved}: credentials tested: {form.tested.message.rstrip('.')}.", messages.SUCCESS
            )
        elif form.cleaned_data.get("skip_credential_test"):
            self.message_user(request, f"{saved}: saved without testing the credentials.", messages.WARNING)

    def save_related(self, request, form, formsets, change):
        """The events were set by the service in save_model (cleared when the rule does not use them)."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        connection_delete(connection=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.for_user(request.user)
        for connection in queryset.select_related("organization"):
            connection_delete(connection=connection, actor=actor)

    @admin.action(description="Close the circuit (resume syncing)")
    def close_circuit(self, request, queryset):
        actor = Actor.for_user(request.user)
        closed = sum(
            connection_circuit_close(connection=c, actor=actor)
            for c in queryset.select_related("organization")
        )
        self.message_user(request, f"{closed} connection(s) resumed.", messages.SUCCESS)
