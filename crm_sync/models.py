"""Sync state: one row per (contact, connection), and the history of every batch.

The ContactSyncState table is the push queue (STYLE §4.4): workers claim due rows with a
conditional UPDATE, so the broker only carries nudges and a lost message loses nothing.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class SyncStatus(models.TextChoices):
    """The user's view of a contact in one CRM."""

    SELECTED = "Selected"
    QUEUED = "Queued"
    PROCESSING = "Processing"
    COMPLETE = "Complete"
    ERROR = "Error"
    SKIPPED = "Skipped"


class ProcessingStatus(models.TextChoices):
    """The worker's view: Queued rows are the queue, Processing rows are claimed."""

    QUEUED = "Queued"
    PROCESSING = "Processing"
    COMPLETE = "Complete"
    ERROR = "Error"


class Priority(models.IntegerChoices):
    NORMAL = 0, "normal"
    HIGH = 10, "high"


class ContactSyncState(models.Model):
    """Where one contact stands in one CRM, with its own retry budget.

    `due_at` orders the queue (set when queued, moved by backoff and rate limits);
    `next_retry_at` is what the API shows: set only while a retry is scheduled, as the
    seed's retry fields. `requeue_requested` marks a row edited while a worker held it,
    so the newer data is pushed after the in-flight push finishes, never in parallel.
    """

    # No single-column indexes: the unique (contact, connection) constraint serves lookups by
    # contact, and the claim/stats indexes lead with connection. Fewer indexes, faster queue-all.
    # The contact reference is not a database constraint (db_constraint=False): checking it row
    # by row at COMMIT was half of a million-contact queue-all (docs/benchmarks.md). Django
    # still deletes a contact's states with it (on_delete=CASCADE); a state whose contact went
    # some other way (a raw DELETE, a delete racing a queue-all) is an orphan, which a push
    # drops when it claims one and crm_sync.sweep_orphan_states removes hourly.
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="sync_states",
        db_index=False,
        db_constraint=False,
    )
    connection = models.ForeignKey(
        "integrations.CrmConnection",
        on_delete=models.CASCADE,
        related_name="contact_sync_states",
        db_index=False,
    )
    sync_status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.SELECTED)
    processing_status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, null=True, blank=True, default=None
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL, db_default=0)
    remote_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    error = models.TextField(blank=True, default="", db_default="")
    error_category = models.CharField(max_length=32, blank=True, default="", db_default="")
    skip_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    retry_count = models.PositiveIntegerField(default=0, db_default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_retry_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    pushed_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    queued_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    requeue_requested = models.BooleanField(default=False, db_default=False)
    # The last exchange with the CRM for this contact: redacted and size-capped.
    last_request = models.JSONField(null=True, blank=True)
    last_response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "connection"], name="crm_sync_state_unique_contact_connection"
            ),
        ]
        indexes = [
            # The claim query: due Queued rows of one connection, high priority first. Partial,
            # so the index holds only the queue, never the millions of Complete rows.
            models.Index(
                fields=["connection", "-priority", "due_at", "id"],
                name="crm_sync_state_claim",
                condition=Q(processing_status="Queued"),
            ),
            # The reaper: claimed rows by claim time (a handful at any moment).
            models.Index(
                fields=["claimed_at"],
                name="crm_sync_state_processing",
                condition=Q(processing_status="Processing"),
            ),
            # sync-stats: one aggregate by status; the included timestamps let PostgreSQL answer
            # the last_24h counts from the index alone.
            models.Index(
                fields=["connection", "sync_status"],
                name="crm_sync_state_stats",
                include=["last_synced_at", "last_retry_at"],
            ),
            # sync-failures, newest first.
            models.Index(
                fields=["connection", "-last_retry_at"],
                name="crm_sync_state_errors",
                condition=Q(sync_status="Error"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.connection_id}: {self.sync_status}"


class SyncRun(models.Model):
    """One batch pushed (or one pull) for one connection: the history behind the dashboard.

    The sum of `processed` over `duration_ms` of recent runs is the measured throughput
    that sync-status uses to estimate when a queued contact will be processed.
    """

    class Direction(models.TextChoices):
        PUSH = "push"
        PULL = "pull"

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        PARTIAL = "partial"
        FAILED = "failed"
        RATE_LIMITED = "rate_limited"
        RELEASED = "released"

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="sync_runs"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.PUSH)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    worker = models.CharField(max_length=255, blank=True, default="")
    claimed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    retried = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rate_limited = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)
    # Where the time went, milliseconds: claim, payload build, the CRM call, the write-back.
    claim_ms = models.PositiveIntegerField(default=0)
    build_ms = models.PositiveIntegerField(default=0)
    http_ms = models.PositiveIntegerField(default=0)
    write_ms = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["connection", "-finished_at"], name="crm_sync_run_recent")]
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"{self.direction} {self.connection_id} @ {self.started_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.retried + self.skipped + self.unchanged
