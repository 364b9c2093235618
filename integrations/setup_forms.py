"""The connection setup form of the admin: one form per CRM kind, tested before it is saved.

Per kind: its credential fields (write-only: never rendered back, kept when left blank), its
settings as named fields (integrations/setup.py), and its field mapping as rows of local field →
CRM property, the property picked from the CRM's own list (integrations/crm_properties.py).
Never a JSON text box.

Saving a new connection, or one whose credentials, base URL or settings changed, first runs the
connector's credential test (the same code as the *Test credentials* action, injected by the
admin as `credentials_try`); a failure is a form error and nothing is saved. "Save without
testing" exists for an operator who must store a connection while its CRM is down, or who
deliberately stores credentials the CRM refuses today. A mapping's new targets are checked
against the CRM's property list either way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.db import models
from django.utils.html import format_html, format_html_join

from core.api import validation_details
from core.errors import ApplicationError, InvalidInput
from integrations.connectors.base import Capability
from integrations.crm_properties import (
    PropertyCatalog,
    connection_trial,
    crm_property_catalog,
    field_mapping_targets_check,
)
from integrations.models import CrmConnection
from integrations.registry import get_connector_class
from integrations.services import (
    EDITABLE_FIELDS,
    RULE_EVENTS,
    connection_check,
    contact_rule_check,
    contact_rule_events_resolve,
    credentials_rebind_check,
    credentials_validate,
)
from integrations.setup import (
    CREDENTIAL_LABELS,
    setting_default,
    setting_specs,
    settings_apply,
    settings_initial,
)

# Contact fields a mapping may send (besides custom properties): what a push carries.
CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "subtype",
    "status",
    "tags",
)
MAPPING_EXTRA_ROWS = 3
MAPPING_MAX_ROWS = 500
# Model fields the form edits as they are; field_mapping and settings have their own fields.
FORM_MODEL_FIELDS = [name for name in EDITABLE_FIELDS if name not in ("field_mapping", "settings")]


def _formfield(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class FieldMappingWidget(forms.Widget):
    """Rows of (local field, CRM property): a text input with suggestions, then a select of the
    CRM's properties (or a text input when the CRM has no list to pick from)."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.catalog: PropertyCatalog | None = None
        self.local_names: list[str] = list(CONTACT_FIELDS)
        self.note = ""
        # Typed names (suggested from the list) rather than a pick: before the CRM can be read.
        self.free_text = False

    def _text_mode(self) -> bool:
        catalog = self.catalog
        return self.free_text or catalog is None or not catalog.listed or not catalog.properties

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MAPPING_MAX_ROWS)
        except (TypeError, ValueError):
            count = 0
        return [
            (str(data.get(f"{name}-{i}-local", "")).strip(), str(data.get(f"{name}-{i}-remote", "")).strip())
            for i in range(count)
        ]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data

    def _remote_input(self, name: str, index: int, remote: str):
        catalog = self.catalog
        field_name = f"{name}-{index}-remote"
        if self._text_mode():
            return format_html(
                '<input type="text" name="{}" value="{}" list="{}-remotes" maxlength="200" '
                'aria-label="CRM property" class="mapping-remote">',
                field_name,
                remote,
                name,
            )
        options = [format_html('<option value="">{}</option>', "— not sent —")]
        names = catalog.names
        if remote and remote not in names:
            options.append(
                format_html(
                    '<option value="{}" selected>{} (not in {})</option>',
                    remote,
                    remote,
                    catalog.display_name,
                )
            )
        for prop_name, label in catalog.properties:
            shown = label if label == prop_name else f"{label} ({prop_name})"
            options.append(
                format_html(
                    '<option value="{}"{}>{}</option>',
                    prop_name,
                    " selected" if prop_name == remote else "",
                    shown,
                )
            )
        return format_html(
            '<select name="{}" aria-label="CRM property" class="mapping-remote">{}</select>',
            field_name,
            format_html_join("", "{}", ((option,) for option in options)),
        )

    def render(self, name, value, attrs=None, renderer=None):
        rows = list(value.items()) if isinstance(value, dict) else list(value or [])
        rows = [(local, remote or "") for local, remote in rows]
        rows += [("", "")] * MAPPING_EXTRA_ROWS
        crm = self.catalog.display_name if self.catalog else "CRM"
        body = format_html_join(
            "",
            '<tr><td><input type="text" name="{}-{}-local" value="{}" list="{}-locals" maxlength="200" '
            'aria-label="Local field" class="mapping-local"></td><td>{}</td></tr>',
            (
                (name, index, local, name, self._remote_input(name, index, remote))
                for index, (local, remote) in enumerate(rows)
            ),
        )
        locals_list = format_html_join("", '<option value="{}">', ((n,) for n in self.local_names))
        remote_names = (self.catalog.properties if self.catalog else []) if self._text_mode() else []
        remotes_list = format_html_join("", '<option value="{}">{}</option>', remote_names)
        notes = [text for text in (self.catalog.message if self.catalog else "", self.note) if text]
        note_html = format_html_join("", '<p class="help mapping-note">{}</p>', ((text,) for text in notes))
        return format_html(
            '<div class="mapping-editor" id="{}-editor">{}'
            '<input type="hidden" name="{}-rows" value="{}">'
            "<table><thead><tr><th>Local field</th><th>{} property</th></tr></thead><tbody>{}</tbody></table>"
            '<datalist id="{}-locals">{}</datalist><datalist id="{}-remotes">{}</datalist></div>',
            name,
            note_html,
            name,
            len(rows),
            crm,
            body,
            name,
            locals_list,
            name,
            remotes_list,
        )


class FieldMappingField(forms.Field):
    """Rows → {local: remote}; "" as the remote means the field is not sent."""

    widget = FieldMappingWidget

    def to_python(self, value) -> dict[str, str]:
        mapping: dict[str, str] = {}
        errors = []
        for local, remote in value or []:
            if not local and not remote:
                continue
            if not local:
                errors.append(f"{remote}: name the local field it takes its value from.")
            elif local in mapping:
                errors.append(f"{local} is mapped twice; keep one row.")
            elif len(local) > 200 or len(remote) > 200:
                errors.append(f"{local[:50]}: names are at most 200 characters.")
            else:
                mapping[local] = remote
        if errors:
            raise forms.ValidationError(errors)
        return mapping


def mapping_rows(*, kind: str, overrides: dict) -> dict[str, str]:
    """What the rows show: the connector's default mapping with the connection's overrides on top
    ("" for a default field the connection does not send)."""
    rows = dict(get_connector_class(kind).default_field_mapping)
    for local, remote in (overrides or {}).items():
        rows[local] = remote or ""
    return rows


def mapping_overrides(*, kind: str, rows: dict[str, str]) -> dict[str, str | None]:
    """The rows as stored overrides: only what differs from the connector's default mapping
    (null removes a default). A default field with no row keeps its default."""
    defaults = get_connector_class(kind).default_field_mapping
    overrides: dict[str, str | None] = {}
    for local, remote in rows.items():
        if local in defaults:
            if remote != defaults[local]:
                overrides[local] = remote or None
        elif remote:
            overrides[local] = remote
    return overrides


def _setting_field(kind: str, spec) -> forms.Field:
    default = setting_default(kind, spec)
    shown_default = "" if default in (None, "") else f"Default: {default}. "
    help_text = f"{shown_default}{spec.help}".strip()
    common = {"required": False, "label": spec.label, "help_text": help_text}
    if spec.type == "bool":
        return forms.BooleanField(**common)
    if spec.type == "choice":
        blank = f"Default ({default})" if default not in (None, "") else "—"
        choices = [("", blank), *((value, value or "(none)") for value in spec.choices if value != "")]
        return forms.ChoiceField(choices=choices, **common)
    if spec.type == "int":
        return forms.IntegerField(min_value=spec.min_value, max_value=spec.max_value, **common)
    if spec.type == "float":
        return forms.FloatField(min_value=spec.min_value, max_value=spec.max_value, **common)
    if spec.type == "int_list":
        return IntListField(**common)
    return forms.CharField(
        max_length=500, widget=forms.TextInput(attrs={"placeholder": default or ""}), **common
    )


class IntListField(forms.CharField):
    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return []
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Whole numbers separated by commas.") from None


class CrmConnectionForm(forms.ModelForm):
    """The setup form of one kind (see connection_setup_form). Writes go through the services in
    the admin's save_model; this form validates, tests, and collects `credentials_change`."""

    kind: ClassVar[str] = ""
    credentials_try: ClassVar[Callable | None] = None

    mapping = FieldMappingField(
        required=False,
        label="Field mapping",
        help_text="Local field → CRM property. Pick “— not sent —” to leave a field out.",
    )
    skip_credential_test = forms.BooleanField(
        required=False,
        label="Save without testing the credentials",
        help_text="Only when the CRM is down now, or to store credentials it refuses on purpose: "
        "a connection with bad credentials pauses at its first sync.",
    )

    class Meta:
        model = CrmConnection
        formfield_callback = _formfield
        fields = ["organization", *FORM_MODEL_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.kind or self.instance.kind
        self.instance.kind = kind
        self.connector_class = get_connector_class(kind)
        self.credentials_change: dict[str, Any] | None = None
        self.tested = None
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        for name in self.connector_class.credential_fields:
            field = self.fields.get(f"credential__{name}")
            if field is not None and self.instance.pk:
                field.help_text = "Set; leave blank to keep it." if name in stored else "Not set."
        if not self.instance.pk:
            self.fields.pop("credentials_clear", None)
        elif "credentials_clear" in self.fields:
            self.fields["credentials_clear"].choices = [
                (name, _credential_label(name))
                for name in self.connector_class.credential_fields
                if name in stored
            ]
        for name, value in settings_initial(kind=kind, settings=self.instance.settings or {}).items():
            self.initial.setdefault(name, value)
        self.catalog = self._catalog()
        widget = self.fields["mapping"].widget
        widget.catalog = self.catalog
        widget.local_names = self._local_names()
        if not self.instance.pk and self.catalog.listed:
            widget.free_text = True
            widget.note = (
                f"Names typed here are checked against {self.catalog.display_name}'s property list "
                "with the credentials above when you save; once saved, pick them from that list."
            )
        self.initial.setdefault("mapping", mapping_rows(kind=kind, overrides=self.instance.field_mapping))

    def _catalog(self) -> PropertyCatalog:
        """The stored connection's CRM properties (its live list, cached briefly); before the
        connection exists, only the connector's built-in ones, as suggestions."""
        if self.instance.pk:
            return crm_property_catalog(connection=copy.copy(self.instance))
        catalog = PropertyCatalog(
            kind=self.instance.kind,
            display_name=self.connector_class.display_name,
            listed=Capability.SYNC_PROPERTIES in self.connector_class.capabilities,
        )
        remotes = sorted({remote for remote in self.connector_class.default_field_mapping.values() if remote})
        catalog.properties = [(name, name) for name in remotes]
        return catalog

    def _local_names(self) -> list[str]:
        names = dict.fromkeys([*CONTACT_FIELDS, *self.connector_class.default_field_mapping])
        if self.instance.organization_id:
            from properties.models import PropertyDefinition

            definitions = PropertyDefinition.objects.filter(
                organization_id=self.instance.organization_id, object_type="contacts"
            ).values_list("name", flat=True)
            names.update(dict.fromkeys(definitions))
        return list(names)

    def _credentials_entered(self) -> dict[str, Any] | None:
        change = {
            name: self.cleaned_data[f"credential__{name}"]
            for name in self.connector_class.credential_fields
            if self.cleaned_data.get(f"credential__{name}")
        }
        for name in self.cleaned_data.get("credentials_clear") or []:
            change.setdefault(name, "")
        return change or None

    def _post_clean(self):
        """Apply the services' rules here, so a rejected value is a form error, never a 500 on save;
        then test the credentials and check the mapping against the CRM."""
        super()._post_clean()
        if self.errors:
            return
        instance = self.instance
        stored = CrmConnection.objects.get(pk=instance.pk) if instance.pk else None
        kind = instance.kind
        instance.settings = settings_apply(
            kind=kind, settings=stored.settings if stored else {}, values=self.cleaned_data
        )
        instance.field_mapping = mapping_overrides(kind=kind, rows=self.cleaned_data.get("mapping") or {})
        self.credentials_change = self._credentials_entered()
        try:
            events = self.cleaned_data.get(RULE_EVENTS) or []
            if events and instance.organization_id is not None:
                events = contact_rule_events_resolve(organization=instance.organization, events=list(events))
            contact_rule_check(connection=instance, events=list(events))
            if self.credentials_change:
                credentials_validate(self.credentials_change)
            connection_check(instance)
            self._name_check(instance)
            moved = False
            if stored is not None:
                moved = credentials_rebind_check(
                    stored=stored, changed=instance, credentials=self.credentials_change
                )
        except ApplicationError as exc:
            self._add_service_error(exc)
            return
        draft = self._draft(stored=stored, replace=moved)
        target_changed = (
            stored is None
            or moved
            or self.credentials_change is not None
            or (stored.base_url or "") != (instance.base_url or "")
            or (stored.settings or {}) != (instance.settings or {})
        )
        if target_changed and not self.cleaned_data.get("skip_credential_test"):
            self._test(draft)
            if self.errors:
                return
        if target_changed or (stored.field_mapping or {}) != instance.field_mapping:
            catalog = self.catalog if not target_changed and self.catalog.live else None
            try:
                field_mapping_targets_check(connection=draft, mapping=instance.field_mapping, catalog=catalog)
            except ApplicationError as exc:
                self.add_error("mapping", exc.message)

    def _name_check(self, instance: CrmConnection) -> None:
        """The (organization, kind, name) constraint as a form error: `kind` is not a form field,
        so the model form's own unique check skips it."""
        taken = CrmConnection.objects.filter(
            organization_id=instance.organization_id, kind=instance.kind, name=instance.name
        ).exclude(pk=instance.pk)
        if instance.organization_id is not None and taken.exists():
            raise InvalidInput(
                f"This organization already has a {self.connector_class.display_name} connection "
                f"named {instance.name!r}.",
                code="duplicate_connection",
                details={"name": ["Taken for this CRM."]},
            )

    def _draft(self, *, stored, replace: bool) -> CrmConnection:
        """The connection as saving would make it (merged credentials included), unsaved."""
        draft = copy.copy(self.instance)
        merged = {} if stored is None or replace else dict(stored.credentials or {})
        for name, value in (self.credentials_change or {}).items():
            if value in ("", None):
                merged.pop(name, None)
            else:
                merged[name] = value
        draft.credentials = merged
        return connection_trial(draft)

    def _test(self, draft: CrmConnection) -> None:
        credentials_try = type(self).credentials_try
        if credentials_try is None or Capability.TEST_CREDENTIALS not in self.connector_class.capabilities:
            return
        result = credentials_try(connection=draft)
        self.tested = result
        if result.status != "valid":
            detail = f": {result.error}" if result.error else ""
            self.add_error(
                None,
                f"Credential test failed ({result.status}) — {result.message}{detail}. Nothing was saved. "
                "Fix the credentials or the base URL; or tick “Save without testing the credentials”.",
            )

    def _add_service_error(self, exc: ApplicationError) -> None:
        settings_errors = (exc.details or {}).get("settings")
        if isinstance(settings_errors, dict):
            # The connector's settings serializer: each message beside the field it is about.
            placed = False
            for path, messages in validation_details(settings_errors).items():
                name = "setting__" + path.replace(".", "__")
                text = " ".join(messages)
                if name in self.fields:
                    self.add_error(name, text)
                    placed = True
                else:
                    self.add_error(None, f"{exc.message} {path}: {text}")
                    placed = True
            if placed:
                return
        aliases = {"credentials": None, "settings": None, "field_mapping": "mapping"}
        fields = []
        for name in exc.details or {}:
            target = aliases.get(name, name)
            if target in self.fields:
                fields.append(target)
        self.add_error(fields[0] if fields else None, exc.message)


def _credential_label(name: str) -> str:
    return CREDENTIAL_LABELS.get(name) or name.replace("_", " ").capitalize()


def connection_setup_form(*, kind: str, credentials_try: Callable | None = None) -> type[CrmConnectionForm]:
    """The setup form class of `kind`: its credential fields and its settings as named fields."""
    connector_class = get_connector_class(kind)
    attrs: dict[str, Any] = {
        "kind": kind,
        "credentials_try": staticmethod(credentials_try) if credentials_try else None,
        "__module__": __name__,
    }
    for name in connector_class.credential_fields:
        attrs[f"credential__{name}"] = forms.CharField(
            required=False,
            max_length=4000,
            label=_credential_label(name),
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
    attrs["credentials_clear"] = forms.MultipleChoiceField(
        required=False,
        label="Remove stored",
        widget=forms.CheckboxSelectMultiple,
        choices=[],
        help_text="Stored credential fields to delete.",
    )
    for spec in setting_specs(kind):
        attrs[spec.field_name] = _setting_field(kind, spec)
    return type(f"{connector_class.__name__}SetupForm", (CrmConnectionForm,), attrs)


def setup_fieldsets(*, kind: str, change: bool) -> list[tuple[str | None, dict]]:
    """The setup form's sections for `kind` (readonly ones are added by the admin)."""
    connector_class = get_connector_class(kind)
    first = ["organization", "name", "enabled", "base_url"]
    credentials = [*(["credentials_status"] if change else [])]
    credentials += [f"credential__{name}" for name in connector_class.credential_fields]
    if change:
        credentials.append("credentials_clear")
    sync = [
        name
        for name in FORM_MODEL_FIELDS
        if name not in ("name", "enabled", "base_url") and not name.startswith("contact_rule")
    ]
    return [
        (None, {"fields": first}),
        (f"{connector_class.display_name} credentials", {"fields": credentials}),
        ("Field mapping", {"fields": ["mapping"]}),
        ("Sync", {"fields": sync}),
        (
            "Contacts auto-sync takes",
            {"fields": ["contact_rule", "contact_rule_tag", "contact_rule_subtype", RULE_EVENTS]},
        ),
        (
            f"{connector_class.display_name} settings",
            {"fields": [spec.field_name for spec in setting_specs(kind)]},
        ),
        ("Save", {"fields": ["skip_credential_test"]}),
    ]
