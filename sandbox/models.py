"""The sandbox CRMs' state: a config row per kind, stored objects, issued tokens, rate windows, a request log.

Everything lives in the database so every web process, worker and the standalone
server (`manage.py sandbox`) sees the same state.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    BREVO = "brevo", "Brevo"
    MAUTIC = "mautic", "Mautic"
    N8N = "n8n", "n8n"
    BRIVITY = "brivity", "Brivity"
    TOPPRODUCER = "topproducer", "TopProducer"
    REST = "rest", "Generic REST CRM"


class SandboxConfig(models.Model):
    """How one sandbox CRM behaves: faults, rate limits, accepted credentials, options.

    Probabilities are 0..1 and drawn per request; with `seed` set the draws are
    deterministic (seeded by seed and the kind's request sequence number).
    """

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    error_rate = models.FloatField(default=0.0, help_text="Probability of a 500 in the CRM's error shape.")
    latency_ms = models.PositiveIntegerField(default=0, help_text="Added to every answer.")
    burst_429_rate = models.FloatField(default=0.0, help_text="Probability of a 429 outside the real limit.")
    timeout_rate = models.FloatField(default=0.0, help_text="Probability of hanging for timeout_seconds.")
    timeout_seconds = models.FloatField(default=35.0, help_text="How long a timeout fault hangs (max 120).")
    lock_rate = models.FloatField(default=0.0, help_text="Probability of a 423 Locked.")
    whole_batch_failure_rate = models.FloatField(
        default=0.0, help_text="Probability that a batch with an invalid input fails as a whole."
    )
    rate_limit_enabled = models.BooleanField(default=True)
    rate_limits = models.JSONField(
        default=dict, blank=True, help_text="Buckets: {name: {max, interval_ms, slot_ms}}."
    )
    credentials = models.JSONField(default=dict, blank=True, help_text="Credentials this sandbox accepts.")
    options = models.JSONField(default=dict, blank=True, help_text="Kind-specific behaviour switches.")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Seed for deterministic fault draws.")
    fault_sequence = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"sandbox {self.kind}"


class SandboxRecord(models.Model):
    """One stored object of a sandbox CRM: a contact, a deal, a property definition, a delivery...

    `key` is the object's natural unique key inside (kind, object_type): the lower-cased
    email of a contact, the name of a property, an n8n idempotency key. Its primary key
    is the id the emulated CRM reports.
    """

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_type = models.CharField(max_length=64)
    key = models.CharField(max_length=320, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    archived = models.BooleanField(default=False)
    write_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_type", "key"],
                condition=Q(key__isnull=False),
                name="sandbox_record_unique_key",
            )
        ]
        indexes = [
            models.Index(fields=["kind", "object_type", "updated_at", "id"], name="sandbox_rec_modified"),
            models.Index(fields=["kind", "object_type", "id"], name="sandbox_rec_kind_type_id"),
            # Live records by modified time: what HubSpot's search counts and pages through. The
            # count of every search (its `total`) and the ids of a page deep into a window are
            # then read from the index alone; through the heap, the count of 50,000 records cost
            # PostgreSQL more CPU than the pull applying the page (docs/benchmarks.md, pull).
            models.Index(
                fields=["kind", "object_type", "updated_at", "id"],
                condition=Q(archived=False),
                name="sandbox_rec_live_modified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type} #{self.pk}"


class SandboxToken(models.Model):
    """An access or refresh token the sandbox issued (only its SHA-256 is kept)."""

    class TokenType(models.TextChoices):
        ACCESS = "access", "Access"
        REFRESH = "refresh", "Refresh"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    token_type = models.CharField(max_length=10, choices=TokenType.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.kind} {self.token_type} token for {self.subject}"


class SandboxRateSlot(models.Model):
    """Requests counted in one time slot of one rate-limit bucket (slot_start in epoch ms)."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    bucket = models.CharField(max_length=40)
    slot_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "bucket", "slot_start"], name="sandbox_rate_slot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.bucket}@{self.slot_start}: {self.count}"


class SandboxRequestLog(models.Model):
    """What a sandbox received and answered (credentials redacted, body truncated)."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    query = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField()
    fault = models.CharField(max_length=100, blank=True)
    duration_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["kind", "id"], name="sandbox_log_kind_id")]

    def __str__(self) -> str:
        return f"{self.kind} {self.method} {self.path} → {self.status}"
