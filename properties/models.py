import uuid

from django.core.exceptions import ValidationError
from django.db import models

from properties import rules


class ObjectType(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    LEADS = "leads", "Leads"
    DEALS = "deals", "Deals"


class PropertyType(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    BOOL = "bool", "Boolean"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    ENUMERATION = "enumeration", "Enumeration"


class PropertyDefinition(models.Model):
    """A custom property (field) of one object type, defined once and pushed to every CRM.

    The rules (name pattern, type/field-type pairs, options) are HubSpot's, the strictest
    of the CRMs we sync with; they live in properties.rules so the API, the admin and
    the JSON loader all report the same errors.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="property_definitions"
    )
    object_type = models.CharField(max_length=16, choices=ObjectType.choices, default=ObjectType.CONTACTS)
    name = models.CharField(max_length=rules.NAME_MAX_LENGTH)
    label = models.CharField(max_length=rules.LABEL_MAX_LENGTH)
    type = models.CharField(max_length=16, choices=PropertyType.choices)
    field_type = models.CharField(max_length=32, choices=[(value, value) for value in rules.FIELD_TYPES])
    group_name = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    # [{label, value, display_order, hidden}], unique by value.
    options = models.JSONField(default=list, blank=True)
    display_order = models.IntegerField(
        default=-1, help_text="-1 places it after the positive ones (HubSpot)."
    )
    hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["object_type", "display_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "object_type", "name"], name="uniq_property_definition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.name}"

    def clean(self) -> None:
        values = rules.definition_normalize(self.as_rule_data(), object_type=self.object_type)
        self.options, self.group_name = values["options"], values["group_name"]
        errors = rules.definition_errors(values)
        if errors:
            raise ValidationError(errors)

    def as_rule_data(self) -> dict:
        return {
            "object_type": self.object_type,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "field_type": self.field_type,
            "group_name": self.group_name,
            "description": self.description,
            "options": self.options,
            "display_order": self.display_order,
            "hidden": self.hidden,
        }


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (SyncStatus.PENDING, SyncStatus.IN_PROGRESS)


class PropertySyncRun(models.Model):
    """One push of an organization's definitions of one object type to one CRM.

    At most one run per (organization, crm, object type) is pending or in progress: the
    partial unique constraint makes a second start fail in the database, on every
    backend, whatever the timing (a check in code alone would race).
    """

    class Trigger(models.TextChoices):
        API = "api", "API"
        SCHEDULE = "schedule", "Schedule"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    crm = models.CharField(max_length=32, help_text="Connector kind, e.g. hubspot.")
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    # Runs started by one request ("all") share a batch id.
    batch_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.API)
    actor_label = models.CharField(max_length=200, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    error_category = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "crm", "object_type"],
                condition=models.Q(status__in=["pending", "in_progress"]),
                name="uniq_active_property_sync_run",
            )
        ]
        indexes = [models.Index(fields=["organization", "crm", "object_type", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.crm} {self.object_type} sync #{self.pk} ({self.status})"

    @property
    def synced_count(self) -> int:
        return self.created_count + self.updated_count + self.skipped_count


class PropertySyncResult(models.Model):
    """What one run did with one property: created, updated (with the differences), skipped or failed."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(PropertySyncRun, on_delete=models.CASCADE, related_name="results")
    name = models.CharField(max_length=rules.NAME_MAX_LENGTH)
    label = models.CharField(max_length=rules.LABEL_MAX_LENGTH, blank=True)
    sync_status = models.CharField(max_length=16, choices=Action.choices)
    remote_id = models.CharField(max_length=200, blank=True)
    differences = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_category = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.sync_status}"
