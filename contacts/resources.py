"""CSV import and export of contacts (django-import-export).

Import is deduplicated by email within the chosen organization (an existing email updates
that contact; a repeated email in the file updates the row imported before it). A row that
fails validation is rejected, not fatal: it is skipped, and its row number, email and
reasons are listed on the preview page and after the import. Writes go through the
contact services, so imports are audited and announced like any other change.
"""

import json

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets
from import_export.results import RowResult

from accounts.actors import Actor
from contacts.models import Contact
from contacts.services.contacts import contact_create, contact_update
from contacts.validation import email_normalize
from core.errors import ApplicationError

IMPORT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "subtype",
    "status",
    "source",
    "tags",
    "notes",
    "custom_properties",
)


class TagsWidget(widgets.Widget):
    """Tags as one comma-separated cell."""

    def clean(self, value, row=None, **kwargs):
        if value is None or value == "":
            return []
        return [tag.strip() for tag in str(value).split(",") if tag.strip()]

    def render(self, value, obj=None, **kwargs):
        return ", ".join(value or [])


class JSONObjectWidget(widgets.Widget):
    """custom_properties as a JSON object in one cell."""

    def clean(self, value, row=None, **kwargs):
        if value is None or value == "":
            return {}
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError("Not valid JSON.")
        if not isinstance(parsed, dict):
            raise ValueError("Must be a JSON object.")
        return parsed

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value or {}, sort_keys=True)


def _messages(exc: ApplicationError) -> dict[str, list[str]]:
    """Flatten an ApplicationError's details into field → messages for the import report."""
    flat: dict[str, list[str]] = {}
    for field, problems in (exc.details or {}).items():
        if field in ("existing_id",):
            continue
        if isinstance(problems, dict):
            flat[field] = [f"{key}: {'; '.join(map(str, msgs))}" for key, msgs in problems.items()]
        elif isinstance(problems, list):
            flat[field] = [str(p) for p in problems]
        else:
            flat[field] = [str(problems)]
    return flat or {"__all__": [exc.message]}


class ContactResource(resources.ModelResource):
    tags = fields.Field(attribute="tags", column_name="tags", widget=TagsWidget())
    custom_properties = fields.Field(
        attribute="custom_properties", column_name="custom_properties", widget=JSONObjectWidget()
    )

    class Meta:
        model = Contact
        fields = ("id", *IMPORT_FIELDS, "created_at", "updated_at")
        export_order = ("id", *IMPORT_FIELDS, "created_at", "updated_at")
        import_id_fields = ("email",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = False  # the services validate; full_clean would flag the email as taken

    def __init__(self, organization=None, actor: Actor | None = None, **kwargs):
        super().__init__(**kwargs)
        self.organization = organization
        self.actor = actor or Actor.system("import")
        self.rejected_rows: list[dict] = []

    def get_import_fields(self):
        return [self.fields[name] for name in IMPORT_FIELDS if name in self.fields]

    def get_queryset(self):
        queryset = Contact.objects.all()
        if self.organization is not None:
            queryset = queryset.filter(organization=self.organization)
        return queryset

    def before_import_row(self, row, **kwargs):
        if "email" in row:
            row["email"] = email_normalize(row["email"])

    def get_instance(self, instance_loader, row):
        # A row without an email cannot match anyone: it is always a new contact.
        if not row.get("email"):
            return None
        return self.get_queryset().filter(email=row["email"]).first()

    def init_instance(self, row=None):
        return Contact(organization=self.organization, source=Contact.Source.IMPORT)

    def do_instance_save(self, instance, is_create):
        data = {name: getattr(instance, name) for name in IMPORT_FIELDS}
        try:
            if is_create:
                contact = contact_create(organization=self.organization, actor=self.actor, data=data)
                instance.pk = contact.pk
                instance._state.adding = False
            else:
                contact_update(contact=instance, actor=self.actor, data=data)
        except ApplicationError as exc:
            raise ValidationError(_messages(exc))

    def import_row(self, row, instance_loader, **kwargs):
        row_result = super().import_row(row, instance_loader, **kwargs)
        error = row_result.validation_error or (row_result.errors[0].error if row_result.errors else None)
        if error is not None:
            if isinstance(error, ValidationError):
                reasons = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
            else:
                reasons = {"__all__": [str(error)]}
            self.rejected_rows.append(
                {"row": kwargs.get("row_number"), "email": row.get("email") or "", "reasons": reasons}
            )
            row_result.validation_error = None
            row_result.errors = []
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
        return row_result

    def import_data(self, *args, **kwargs):
        self.rejected_rows = []
        result = super().import_data(*args, **kwargs)
        result.rejected_rows = list(self.rejected_rows)
        return result
