"""Admin of CRM connections: credentials never shown (only which are set, and when), new ones accepted."""

import json

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from core.errors import ApplicationError
from integrations.models import CrmConnection
from integrations.selectors import connection_uses_env_credentials, credentials_masked
from integrations.services import (
    EDITABLE_FIELDS,
    connection_check,
    connection_circuit_close,
    connection_create,
    connection_delete,
    connection_update,
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
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object of field → value.")
        return value

    def _post_clean(self):
        """Apply the services' rules here, so a rejected value is a form error, never a 500 on save."""
        super()._post_clean()
        if self.errors:
            return
        try:
            connection_check(self.instance)
        except ApplicationError as exc:
            fields = [name for name in exc.details if name in self.fields]
            self.add_error(fields[0] if fields else None, exc.message)


@admin.register(CrmConnection)
class CrmConnectionAdmin(OrganizationScopedAdmin):
    form = CrmConnectionForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "kind", "organization", "enabled", "circuit_state", "batch_size", "updated_at"]
    list_filter = ["kind", "enabled", "circuit_state", "organization"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [
        "credentials_status",
        "circuit_state",
        "circuit_reason",
        "circuit_opened_at",
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
            {"fields": [name for name in EDITABLE_FIELDS if name not in ("name", "enabled", "base_url")]},
        ),
        (
            "Circuit and cursors",
            {"fields": ["circuit_state", "circuit_reason", "circuit_opened_at", "pull_cursors"]},
        ),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]

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
