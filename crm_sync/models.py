"""Sync state: one row per (contact, connection), and the history of every batch.

The ContactSyncState table is the push queue (STYLE §4.4): workers claim due rows with a
conditional UPDATE, so the broker only carries nudges and a lost message loses nothing.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from core.searchtext import search_text_of

# Where a pulled record's searchable values are, by the first key present (CRMs name them apart).
RECORD_NAME_KEYS = ("name", "dealname", "title", "subject", "full_name", "username")
RECORD_STAGE_KEYS = ("stage", "dealstage", "status", "transaction_status")
RECORD_ADDRESS_KEYS = ("address", "property_address", "street", "city", "state", "zip", "postal_code")


def _scalars(values: dict, keys) -> list[str]:
    return [str(values[k]) for k in keys if isinstance(values.get(k), str | int | float) and values[k] != ""]


def record_search_text(object_type: str, values: dict, email: str = "") -> str:
    """What search matches in a pulled record: a contact's name, email, phone and company; any
    other record's name, stage and address (name first, so a name prefix ranks first)."""
    values = values if isinstance(values, dict) else {}
    if object_type == "contacts":
        return search_text_of(
            *_scalars(values, ("first_name", "last_name")) or _scalars(values, RECORD_NAME_KEYS)[:1],
            email or values.get("email", ""),
            *_scalars(values, ("phone", "company")),
        )
    name = _scalars(values, RECORD_NAME_KEYS)[:1]
    return search_text_of(
        *name, *_scalars(values, RECORD_STAGE_KEYS)[:1], *_scalars(values, RECORD_ADDRESS_KEYS)
    )


def registry_display_name(kind: str) -> str:
    """The CRM's name as people know it ("HubSpot"), the kind itself for an unknown one."""
    from integrations import registry

    try:
        return registry.get_connector_class(kind).display_name
    except registry.UnknownCrm:  # a row of a kind no longer registered still prints
        return kind


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
    # The connection reference is enforced by triggers, not a foreign key constraint (migration
    # crm_sync 0013): checked once per INSERT statement (the inserted rows' distinct connections
    # locked FOR KEY SHARE), not once per row at COMMIT, which was ≈ 2.4 s of a million-contact
    # queue-all. A delete of a connection that still has states fails as the constraint made it.
    connection = models.ForeignKey(
        "integrations.CrmConnection",
        on_delete=models.CASCADE,
        related_name="contact_sync_states",
        db_index=False,
        db_constraint=False,
    )
    sync_status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.SELECTED)
    processing_status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, null=True, blank=True, default=None
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL, db_default=0)
    remote_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    error = models.TextField(blank=True, default="", db_default="")
    error_category = models.CharField(max_length=32, blank=True, default="", db_default="")
    # The CRM's HTTP status of the last failed answer (null: none, or no HTTP answer at all, as
    # a timeout); written by the push write-back with the error, cleared with it on success.
    http_status = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name="HTTP status")
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
    # Two-way sync: per field (local field names and custom property names), the last value both
    # sides agreed on; after a push the values pushed, after a pull the merged values. A field is
    # in conflict only when both sides moved away from it (a timestamp alone cannot tell).
    base_values = models.JSONField(default=dict, blank=True, db_default={})
    # The CRM archived, deleted or merged this record away: local data is kept, only marked.
    remote_archived = models.BooleanField(default=False, db_default=False)
    remote_archived_at = models.DateTimeField(null=True, blank=True)
    merged_into_remote_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    last_pulled_at = models.DateTimeField(null=True, blank=True)
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
            # sync-stats and the dashboard: counts by status, from the index alone. No INCLUDE
            # columns, so PostgreSQL deduplicates its few distinct keys: a million states make
            # ≈ 850 pages instead of ≈ 7,000 (docs/benchmarks.md "bench/queue_all.py").
            models.Index(fields=["connection", "sync_status"], name="crm_sync_state_stats"),
            # sync-stats' last_24h synced: a range of Complete rows. Partial, so queueing (which
            # writes Queued rows) never adds an entry to it.
            models.Index(
                fields=["connection", "last_synced_at"],
                name="crm_sync_state_synced",
                condition=Q(sync_status="Complete"),
            ),
            # sync-failures, newest first.
            models.Index(
                fields=["connection", "-last_retry_at"],
                name="crm_sync_state_errors",
                condition=Q(sync_status="Error"),
            ),
            # Pull matches a pulled contact by the CRM's id first.
            models.Index(
                fields=["connection", "remote_id"],
                name="crm_sync_state_remote_id",
                condition=~Q(remote_id=""),
            ),
        ]

    def __str__(self) -> str:
        # Admin titles and links read "ada@example.com → HubSpot: Error" (select_related avoids a
        # query per row wherever a list shows it).
        try:
            contact = self.contact.email or str(self.contact_id)
        except ObjectDoesNotExist:  # an orphan (the contact reference is no constraint)
            contact = str(self.contact_id)
        crm = registry_display_name(self.connection.kind) if self.connection_id else "?"
        return f"{contact} → {crm}: {self.sync_status}"


class SyncRun(models.Model):
    """One batch pushed, or one pull of one object type, for one connection.

    The sum of `processed` over `duration_ms` of recent push runs is the measured throughput
    that sync-status uses to estimate when a queued contact will be processed. A pull run is
    created `running` when it starts (at most one per connection and object type, a database
    constraint) and finished with its counts; `heartbeat_at` moves with every page, so a run
    left `running` by a killed worker can be told from a live one.
    """

    class Direction(models.TextChoices):
        PUSH = "push"
        PULL = "pull"

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        PARTIAL = "partial"
        FAILED = "failed"
        RATE_LIMITED = "rate_limited"
        RELEASED = "released"
        ABANDONED = "abandoned"

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="sync_runs"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.PUSH)
    # Pulls only: contacts, deals, transactions, or a REST entity name.
    object_type = models.CharField(max_length=64, blank=True, default="", db_default="")
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
    # Pull counts: records read, and what applying them did locally.
    backfill = models.BooleanField(default=False, db_default=False)
    fetched = models.PositiveIntegerField(default=0, db_default=0)
    created = models.PositiveIntegerField(default=0, db_default=0)
    updated = models.PositiveIntegerField(default=0, db_default=0)
    archived = models.PositiveIntegerField(default=0, db_default=0)
    conflicts = models.PositiveIntegerField(default=0, db_default=0)
    error_count = models.PositiveIntegerField(default=0, db_default=0)
    pages = models.PositiveIntegerField(default=0, db_default=0)
    calls = models.PositiveIntegerField(default=0, db_default=0)
    http_429s = models.PositiveIntegerField(default=0, db_default=0)
    cursor_before = models.TextField(blank=True, default="", db_default="")
    cursor_after = models.TextField(blank=True, default="", db_default="")
    # Where the time went, milliseconds: claim, payload build, the CRM call, the write-back.
    claim_ms = models.PositiveIntegerField(default=0)
    build_ms = models.PositiveIntegerField(default=0)
    http_ms = models.PositiveIntegerField(default=0)
    write_ms = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Null while a pull is running.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type"],
                condition=Q(outcome="running"),
                name="crm_sync_run_one_running_pull",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "-finished_at"], name="crm_sync_run_recent"),
            models.Index(fields=["connection", "direction", "-started_at"], name="crm_sync_run_direction"),
            # The dashboard's activity charts: an index-only scan of a month of runs.
            models.Index(
                fields=["connection", "started_at"],
                name="crm_sync_run_activity",
                include=["direction", "succeeded", "failed", "fetched", "error_count"],
            ),
        ]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.direction} {self.connection} @ {self.started_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.retried + self.skipped + self.unchanged


class PullCursor(models.Model):
    """Where the incremental pull of one object type from one connection stands.

    Kept off CrmConnection on purpose: saving the connection row moves its updated_at, which
    re-creates the connection's pooled HTTP session. Written in the same transaction as the
    page it follows, so a worker killed between pages resumes at the next page.
    `cursor` is the connector's opaque page cursor (empty: start a new pass); `since` is the
    modified-since watermark a new pass starts from (the newest remote time applied).
    """

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="pull_cursor_rows"
    )
    object_type = models.CharField(max_length=64)
    cursor = models.TextField(blank=True, default="")
    since = models.DateTimeField(null=True, blank=True)
    # The watermark of the pass in progress: becomes `since` when the pass ends.
    pass_high_water = models.DateTimeField(null=True, blank=True)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    # The pass in progress, across every run that carries it (a backfill the pull task splits at
    # its time budget): begun by a backfill (so it reads everything the CRM holds), and how many
    # records its pages read and left out. A backfill pass that ends having read something and
    # left nothing out marks what it did not return (pull_unseen.py).
    pass_backfill = models.BooleanField(default=False, db_default=False)
    pass_fetched = models.PositiveIntegerField(default=0, db_default=0)
    pass_issues = models.PositiveIntegerField(default=0, db_default=0)
    last_completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "object_type"], name="crm_sync_pull_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.object_type}: {self.cursor or '-'} since {self.since}"


class RemoteRecord(models.Model):
    """A record read from a CRM (deal, transaction, project, task, a pulled contact...): a durable cache.

    Upserted by (connection, object type, remote id). `raw` is the record as the CRM sent it,
    size-capped; `fields` the record mapped to local names. Archived, deleted and merged
    records are marked, never removed: `merged_into_remote_id` points at the survivor.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="remote_records"
    )
    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="remote_records", db_index=False
    )
    object_type = models.CharField(max_length=64)
    remote_id = models.CharField(max_length=255)
    fields = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    email = models.CharField(max_length=254, blank=True, default="")
    display_name = models.CharField(max_length=255, blank=True, default="")
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField()
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    merged_into_remote_id = models.CharField(max_length=255, blank=True, default="")
    # The local contact this record is (a pulled contact) or belongs to (a deal's contact).
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="remote_records",
        db_constraint=False,
    )
    # The CRM's id of that contact, kept so a deal pulled before its contact links up later.
    contact_remote_id = models.CharField(max_length=255, blank=True, default="")
    # record_search_text() of `fields`, kept on write; indexed like Contact.search_text.
    search_text = models.TextField(blank=True, default="", db_default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "remote_id"], name="crm_sync_remote_record_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "object_type", "-remote_updated_at"], name="crm_sync_record_org"
            ),
            models.Index(
                fields=["connection", "object_type", "contact_remote_id"], name="crm_sync_record_contact"
            ),
        ]
        ordering = ["-remote_updated_at", "id"]

    def __str__(self) -> str:
        return f"{self.object_type} {self.remote_id} ({self.connection_id})"

    def save(self, *args, **kwargs):
        self.search_text = record_search_text(self.object_type, self.fields, self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"fields", "email", "object_type"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)


class SyncConflict(models.Model):
    """Fields changed on both sides of one (contact, connection) since they last agreed.

    At most one open conflict per (contact, connection): a later pull with more conflicting
    fields updates the open one. `fields` maps a field name to {"base", "local", "remote"};
    `resolution` maps a field name to {"choice": "local"|"remote"|"custom", "value"}.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="sync_conflicts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    fields = models.JSONField(default=dict)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.JSONField(null=True, blank=True)
    resolved_by_label = models.CharField(max_length=200, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "connection"],
                condition=Q(status="open"),
                name="crm_sync_conflict_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "status", "-created_at"], name="crm_sync_conflict_org_status"
            ),
        ]

    def __str__(self) -> str:
        return f"conflict {self.pk}: {self.contact_id} ↔ {self.connection_id} ({self.status})"


class AlertRule(models.Model):
    """When a connection's operators hear about it, and which of its alerts stand right now.

    One per connection. crm_sync.evaluate_alerts (beat, every minute) measures each condition;
    crossing a threshold sends one alert, clearing it one recovery. `firing` remembers what
    was sent, so a condition that stays crossed for hours is announced once, never per contact
    or per tick.
    """

    class Condition(models.TextChoices):
        ERROR_RATE = "error_rate", "Error rate"
        QUEUE_AGE = "queue_age", "Oldest queued contact"
        PAUSED = "paused", "Paused"
        QUOTA = "quota", "Daily quota"

    connection = models.OneToOneField(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="alert_rule"
    )
    enabled = models.BooleanField(default=True)
    emails = models.TextField(
        blank=True, default="", help_text="Addresses to email, separated by commas or new lines."
    )
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="POSTed a JSON body per alert and recovery; the same outbound rules as a CRM's base URL.",
    )
    error_rate_percent = models.PositiveSmallIntegerField(
        default=20, help_text="Alert when this share of push attempts fails within the window (0: off)."
    )
    error_rate_window_minutes = models.PositiveIntegerField(default=15)
    error_rate_min_attempts = models.PositiveIntegerField(
        default=20, help_text="Fewer attempts in the window say nothing: no error-rate alert."
    )
    queue_age_minutes = models.PositiveIntegerField(
        default=30, help_text="Alert when a contact due for pushing has waited longer than this (0: off)."
    )
    alert_when_paused = models.BooleanField(
        default=True, help_text="Alert when the connection pauses itself (its CRM refused the credentials)."
    )
    quota_used_percent = models.PositiveSmallIntegerField(
        default=90, help_text="Alert when this share of the CRM's daily API limit is used (0: off)."
    )
    firing = models.JSONField(default=dict, blank=True, editable=False)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_delivery_error = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert rule"

    def __str__(self) -> str:
        return f"Alerts for {self.connection}"

    @property
    def recipients(self) -> list[str]:
        return [part.strip() for part in self.emails.replace("\n", ",").split(",") if part.strip()]


class RecordSyncState(models.Model):
    """A local change to a pulled REST record (project, task...) on its way back to the CRM.

    Created by the first PATCH or action on a record; the row is the push queue for records,
    claimed like ContactSyncState (conditional UPDATE, SKIP LOCKED on PostgreSQL).
    `pending_values` (local field names) and `pending_actions` (action name → body) are what
    the CRM has not accepted yet; the record's `fields` already show the local values.
    `base_values` holds, per field, the last value both sides agreed on, for the 3-way merge
    a pull runs when it meets a pending change. `conflict_fields` holds the fields a pull
    left for review ({field: {base, local, remote}}); such a change is not pushed until a
    new PATCH decides it.
    """

    record = models.OneToOneField(RemoteRecord, on_delete=models.CASCADE, related_name="sync_state")
    connection = models.ForeignKey(
        "integrations.CrmConnection",
        on_delete=models.CASCADE,
        related_name="record_sync_states",
        db_index=False,
    )
    processing_status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, null=True, blank=True, default=None
    )
    pending_values = models.JSONField(default=dict, blank=True)
    pending_actions = models.JSONField(default=dict, blank=True)
    base_values = models.JSONField(default=dict, blank=True)
    conflict_fields = models.JSONField(default=dict, blank=True)
    local_modified_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    error_category = models.CharField(max_length=32, blank=True, default="")
    retry_count = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_retry_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The last exchange with the CRM for this record: redacted and size-capped.
    last_request = models.JSONField(null=True, blank=True)
    last_response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["connection", "due_at", "id"],
                name="crm_sync_record_state_claim",
                condition=Q(processing_status="Queued"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="crm_sync_record_state_proc",
                condition=Q(processing_status="Processing"),
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id} → {self.connection_id}: {self.processing_status or '-'}"


class CrmData(RemoteRecord):
    """The admin's "CRM data" page (unified search, per-source status, sync now): no table of its own."""

    class Meta:
        proxy = True
        verbose_name = "CRM data"
        verbose_name_plural = "CRM data"


class ContactSyncEvent(models.Model):
    """One push attempt or pull that touched a contact in one CRM: the contact page's timeline.

    Written set-based with the outcome it records (one INSERT per pushed batch or pulled page),
    never read by the engine, and swept after SYNC_EVENT_RETENTION_DAYS. The contact reference is
    not a database constraint, as on ContactSyncState (the same bulk-write reasons).
    """

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="sync_events",
        db_index=False,
        db_constraint=False,
    )
    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="sync_events", db_index=False
    )
    direction = models.CharField(max_length=8, choices=SyncRun.Direction.choices)
    sync_status = models.CharField(max_length=16, choices=SyncStatus.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_category = models.CharField(max_length=32, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=0)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-at"], name="crm_sync_event_contact"),
            models.Index(fields=["at"], name="crm_sync_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.contact_id} → {self.connection_id}: {self.sync_status}"


class ConnectionStatusSnapshot(models.Model):
    """A connection's contacts by sync status and its queue depth, as last counted.

    Counting a million states takes seconds, so the dashboard reads this row (refreshed every
    minute by crm_sync.dashboard_snapshot_refresh, or by the page itself when it is older than
    DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS) and says how old its counts are.
    """

    connection = models.OneToOneField(
        "integrations.CrmConnection",
        on_delete=models.CASCADE,
        related_name="status_snapshot",
        primary_key=True,
    )
    counts = models.JSONField(default=dict)
    queue_depth = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.connection_id} @ {self.computed_at:%H:%M:%S}"


class ContactIdArray(models.Field):
    """Contact ids written and read by SQL alone: uuid[] on PostgreSQL (16 bytes an id, unnested
    in one pass), a JSON array of their text on SQLite. Never loaded into Python by the code."""

    def db_type(self, connection) -> str:
        return "uuid[]" if connection.vendor == "postgresql" else "text"


class QueueAllRun(models.Model):
    """A queue-all too big to write inside its request, written to the queue after the answer.

    Rewriting a million state rows and their index entries takes the database longer than an
    answer may (docs/benchmarks.md "bench/queue_all.py"). So the request takes the decision (which
    contacts it queues), counts it (the answer's queued_count) and stores it in QueueAllChunks, all
    in one transaction; a task then writes the chunks to the queue, one transaction each, and the
    push claims their rows as they land. The decision is never taken again: a chunk skips only a
    contact that someone else queued after the request, or that was deleted or lost its email
    meanwhile (`not_written`). One unfinished run per connection (a constraint): a second
    queue-all while one is written would count the same contacts twice.
    """

    connection = models.ForeignKey(
        "integrations.CrmConnection", on_delete=models.CASCADE, related_name="queue_all_runs"
    )
    requested_at = models.DateTimeField()
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    force = models.BooleanField(default=False)
    # The answer's queued_count; written + not_written reach it when the last chunk is written.
    total = models.PositiveIntegerField()
    written = models.PositiveIntegerField(default=0)
    not_written = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moves with every chunk written: a run nobody has moved for a while is resumed by the dispatcher.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(finished_at__isnull=True),
                name="crm_sync_queue_all_one_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"queue-all {self.pk} → {self.connection_id}: {self.written + self.not_written}/{self.total}"

    @property
    def pending(self) -> int:
        return max(self.total - self.written - self.not_written, 0)


# A run's contacts still to be written, as an expression (sync-stats, queue depth, the dashboard).
QUEUE_ALL_PENDING = models.F("total") - models.F("written") - models.F("not_written")


class QueueAllChunk(models.Model):
    """Contact ids a QueueAllRun still has to write, in contact order: all with a state row at the
    request (their rows are re-queued) or all without one (rows are inserted)."""

    run = models.ForeignKey(QueueAllRun, on_delete=models.CASCADE, related_name="chunks")
    has_state = models.BooleanField()
    size = models.PositiveIntegerField()
    contact_ids = ContactIdArray()

    def __str__(self) -> str:
        return f"chunk {self.pk} of run {self.run_id}: {self.size}"
