"""CrmConnection: one configured CRM of an organization."""

from django.db import models

from core.fields import EncryptedJSONField


def connector_kind_choices() -> list[tuple[str, str]]:
    """Kinds from the connector registry (a callable, so migrations do not list them)."""
    from integrations.registry import kind_choices

    return kind_choices()


class CrmConnection(models.Model):
    """How to reach one CRM for one organization, and how to sync with it.

    `credentials` is encrypted at rest and never leaves the server (write-only in the API,
    masked in the admin, redacted from logs). `token_state` holds tokens the auth strategy
    obtained (OAuth2, JWT), also encrypted; it is written with update() so `updated_at`
    marks only user edits (the pooled HTTP session is keyed on it).
    """

    class ConflictStrategy(models.TextChoices):
        REMOTE_WINS = "remote_wins", "Remote wins"
        LOCAL_WINS = "local_wins", "Local wins"
        LATEST_TIMESTAMP = "latest_timestamp", "Latest timestamp wins"
        MANUAL_REVIEW = "manual_review", "Manual review"

    class CircuitState(models.TextChoices):
        CLOSED = "closed", "Closed (syncing)"
        OPEN = "open", "Open (paused)"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="crm_connections"
    )
    kind = models.CharField(max_length=32, choices=connector_kind_choices)
    name = models.CharField(max_length=100, default="default")
    enabled = models.BooleanField(default=True)
    credentials = EncryptedJSONField(help_text="Encrypted; never shown again once saved.")
    token_state = EncryptedJSONField(editable=False)
    # What the admin and the API show instead of any part of a secret: that one is set, and since when.
    credentials_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    base_url = models.URLField(
        max_length=500, blank=True, help_text="Blank: the CRM's real API URL (or the environment's)."
    )
    batch_size = models.PositiveIntegerField(default=100, help_text="Capped at the CRM's maximum.")
    push_interval_seconds = models.PositiveIntegerField(default=60)
    pull_interval_seconds = models.PositiveIntegerField(default=300)
    retry_base_seconds = models.PositiveIntegerField(default=30)
    retry_cap_seconds = models.PositiveIntegerField(default=3600)
    max_retries = models.PositiveIntegerField(default=8)
    conflict_strategy = models.CharField(
        max_length=20, choices=ConflictStrategy.choices, default=ConflictStrategy.LATEST_TIMESTAMP
    )
    auto_sync = models.BooleanField(default=True, help_text="Queue a contact again whenever it changes.")
    field_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="Local field or custom property → remote property; over the defaults.",
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Per-CRM options (rate tier, endpoints...)."
    )
    circuit_state = models.CharField(max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED)
    circuit_reason = models.TextField(blank=True)
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    pull_cursors = models.JSONField(
        default=dict, blank=True, help_text="Incremental pull cursor per object type."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization_id", "kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "name"], name="crm_connection_unique_name"
            ),
        ]
        indexes = [models.Index(fields=["organization", "enabled"], name="crm_connection_org_enabled")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"

    @property
    def is_circuit_open(self) -> bool:
        return self.circuit_state == self.CircuitState.OPEN
