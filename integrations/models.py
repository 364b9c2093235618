"""CrmConnection: one configured CRM of an organization."""

from django.db import models

from contacts.models import Contact
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
    marks only user edits (the pooled HTTP session is keyed on it). `credentials_hosts` binds
    the stored credentials to the hosts the connection pointed at when they were given
    (integrations/outbound.py): empty only for rows older than the binding, until their next
    credentials change.
    """

    class ConflictStrategy(models.TextChoices):
        REMOTE_WINS = "remote_wins", "Remote wins"
        LOCAL_WINS = "local_wins", "Local wins"
        LATEST_TIMESTAMP = "latest_timestamp", "Latest timestamp wins"
        MANUAL_REVIEW = "manual_review", "Manual review"

    class SyncDirection(models.TextChoices):
        PUSH = "push", "Push only (local → CRM)"
        PULL = "pull", "Pull only (CRM → local)"
        BOTH = "both", "Both ways"

    class ContactRule(models.TextChoices):
        """Which contacts auto-sync sends to this CRM on its own (queueing by hand is never limited)."""

        ALL = "all", "All contacts"
        TAG = "tag", "Contacts with a tag"
        SUBTYPE = "subtype", "Contacts of a subtype"
        EVENT_REGISTRANTS = "event_registrants", "Registrants of given events"
        SELECTED = "selected", "Only contacts queued by hand"

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
    credentials_hosts = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Hosts the stored credentials were given for; they are sent to no other host.",
    )
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
    auto_sync = models.BooleanField(
        default=True,
        help_text="Queue a contact whenever it is created or changes and the contact rule takes it.",
    )
    sync_direction = models.CharField(
        max_length=8,
        choices=SyncDirection.choices,
        default=SyncDirection.BOTH,
        help_text="A pull-only connection is never pushed to; a push-only one is never pulled from.",
    )
    contact_rule = models.CharField(
        max_length=20,
        choices=ContactRule.choices,
        default=ContactRule.ALL,
        help_text="Which contacts auto-sync queues for this CRM.",
    )
    contact_rule_tag = models.CharField(
        max_length=100, blank=True, help_text="The tag, when the rule is 'Contacts with a tag'."
    )
    contact_rule_subtype = models.CharField(
        max_length=16,
        blank=True,
        choices=Contact.Subtype.choices,
        help_text="The subtype, when the rule is 'Contacts of a subtype'.",
    )
    contact_rule_events = models.ManyToManyField(
        "contacts.Event",
        blank=True,
        related_name="+",
        help_text="The events, when the rule is 'Registrants of given events'.",
    )
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
    # A CRM's daily quota, once spent, holds every call of the connection until it resets: kept
    # here (not in a worker's memory) so every worker and the API see it. Written with update(),
    # like token_state, so `updated_at` keeps marking user edits only.
    quota_exhausted_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The CRM's daily quota is spent until then."
    )
    quota_exhausted_reason = models.TextField(blank=True, editable=False)
    account_time_zone = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="The CRM account's time zone (learned by the credential test): its daily quota "
        "resets at midnight there. Blank: UTC.",
    )
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

    def quota_held_until(self, now):
        """The end of a daily-quota hold still in force at `now`, else None."""
        until = self.quota_exhausted_until
        return until if until is not None and until > now else None

    @property
    def can_push(self) -> bool:
        return self.sync_direction != self.SyncDirection.PULL

    @property
    def can_pull(self) -> bool:
        return self.sync_direction != self.SyncDirection.PUSH
