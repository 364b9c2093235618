"""Admin of CRM connections: credentials never shown (only which are set, and when), new ones accepted."""

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from contacts.models import Event
from core.errors import ApplicationError
from core.parsers import json_loads_bounded
from integrations.models import CrmConnection
from integrations.selectors import connection_uses_env_credentials, credentials_masked
from integrations.services import (
    EDITABLE_FIELDS,
    RULE_EVENTS,
    connection_check,
    connection_circuit_close,
    connection_create,
    connection_delete,
    connection_update,
    contact_rule_check,
    contact_rule_events_resolve,
    credentials_rebind_check,
)


def _formfield(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class CrmConnectionForm(forms.ModelForm):
    """`new_credentials` is a JSON object merged into the stored credentials; it is never pre-filled."""

    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='JSON, e.g. {"access_token": "..."}. Merged into the stored credentials; '
        '"" removes a field. Leave empty to keep them.',
    )

    class Meta:
        model = CrmConnection
        formfield_callback = _formfield
        fields = ["organization", "kind", *EDITABLE_FIELDS]

    def clean_new_credentials(self):
        raw = self.cleaned_data.get("new_credentials", "").strip()
        if not raw:
            return None
        try:
            value = json_loads_bounded(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object of field → value.")
        return value

    def _post_clean(self):
        """Apply the services' rules here, so a rejected value is a form error, never a 500 on save."""
        super()._post_clean()
        if self.errors:
            return
        try:
            events = self.cleaned_data.get(RULE_EVENTS) or []
            if events and self.instance.organization_id is not None:
                organization = self.instance.organization
                events = contact_rule_events_resolve(organization=organization, events=list(events))
            contact_rule_check(connection=self.instance, events=list(events))
            connection_check(self.instance)
            if self.instance.pk:
                credentials_rebind_check(
                    stored=CrmConnection.objects.get(pk=self.instance.pk),
                    changed=self.instance,
                    credentials=self.cleaned_data.get("new_credentials"),
                )
        except ApplicationError as exc:
            aliases = {"credentials": "new_credentials"}
            fields = [
                aliases.get(name, name) for name in exc.details if aliases.get(name, name) in self.fields
            ]
            self.add_error(fields[0] if fields else None, exc.message)


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
    fieldsets = [
        (None, {"fields": ["organization", "kind", "name", "enabled", "base_url"]}),
        ("Credentials", {"fields": ["credentials_status", "new_credentials"]}),
        (
            "Sync",
            {
                "fields": [
                    name
                    for name in EDITABLE_FIELDS
                    if name not in ("name", "enabled", "base_url") and not name.startswith("contact_rule")
                ]
            },
        ),
        (
            "Contacts auto-sync takes",
            {"fields": ["contact_rule", "contact_rule_tag", "contact_rule_subtype", RULE_EVENTS]},
        ),
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
        """Writes go through the services (validation, audit); the form only collects values."""
        actor = Actor.for_user(request.user)
        values = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if RULE_EVENTS in values:
            values[RULE_EVENTS] = list(values[RULE_EVENTS])
        credentials = form.cleaned_data.get("new_credentials")
        with transaction.atomic():
            if change:
                saved = connection_update(connection=obj, actor=actor, credentials=credentials, **values)
            else:
                saved = connection_create(
                    organization=form.cleaned_data["organization"],
                    kind=form.cleaned_data["kind"],
                    actor=actor,
                    credentials=credentials,
                    **values,
                )
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

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
