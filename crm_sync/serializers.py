"""Input serializers of the sync API (WO-018 request bodies) and the response shapes for the docs.

Inputs refuse unknown fields, so a typo ("reset_retries") is a 400, not a silent default.
"""

from rest_framework import serializers

from core.serializers import StrictSerializer


class QueueSyncInput(StrictSerializer):
    crm = serializers.CharField(help_text="hubspot, brevo, mautic, n8n (any CRM kind with a push connector).")
    priority = serializers.ChoiceField(choices=["normal", "high"], default="normal")
    force = serializers.BooleanField(default=False, help_text="Push even if the payload has not changed.")


class BulkQueueSyncInput(StrictSerializer):
    contact_ids = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)
    crm = serializers.CharField()
    priority = serializers.ChoiceField(choices=["normal", "high"], default="normal")
    dry_run = serializers.BooleanField(default=False)
    force = serializers.BooleanField(default=False)


class QueueAllSyncInput(StrictSerializer):
    crm = serializers.CharField()
    filters = serializers.DictField(required=False, default=dict)
    priority = serializers.ChoiceField(choices=["normal", "high"], default="normal")
    dry_run = serializers.BooleanField(default=False)
    force = serializers.BooleanField(default=False)


class RetrySyncInput(StrictSerializer):
    crm = serializers.CharField()
    reset_retry_count = serializers.BooleanField(default=False)


class RetryAllInput(StrictSerializer):
    crm = serializers.CharField()
    reset_retry_count = serializers.BooleanField(default=True)


class CrmQuery(serializers.Serializer):
    crm = serializers.CharField()


class OptionalCrmQuery(serializers.Serializer):
    crm = serializers.CharField(required=False)


class TestCredentialsInput(StrictSerializer):
    crm = serializers.CharField()
    api_key = serializers.CharField(required=False, write_only=True, help_text="Shorthand for a one-key CRM.")
    credentials = serializers.DictField(
        required=False, write_only=True, help_text="Credentials to try instead."
    )


# ---- response shapes (documentation only) -------------------------------------------------
class PauseOutput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=["daily_quota_exhausted", "circuit_open"])
    policy = serializers.CharField(allow_null=True, help_text="The CRM's limit, e.g. DAILY.")
    until = serializers.DateTimeField(allow_null=True, help_text="When it ends on its own; null: never.")
    message = serializers.CharField()
    crm_message = serializers.CharField(allow_blank=True)


class QueueSyncOutput(serializers.Serializer):
    contact_id = serializers.UUIDField()
    crm = serializers.CharField()
    sync_status = serializers.CharField()
    processing_status = serializers.CharField()
    priority = serializers.CharField()
    estimated_processing_time = serializers.CharField(
        help_text="For a person: 'Within 12 seconds', 'Paused: …' with the reason, or 'Unknown: …' "
        "while no push has been measured on the connection."
    )
    estimated_processing_at = serializers.DateTimeField(
        allow_null=True,
        help_text="null when the connection is paused until someone acts, or the rate is unknown.",
    )
    paused = PauseOutput(allow_null=True, help_text="Why the queue is not moving, when it is not; else null.")


class BulkQueueError(serializers.Serializer):
    contact_id = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField()


class BulkQueueSyncOutput(serializers.Serializer):
    crm = serializers.CharField()
    queued = serializers.IntegerField()
    skipped = serializers.IntegerField()
    errors = BulkQueueError(many=True)
    dry_run = serializers.BooleanField()


class QueueAllRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["writing", "written"], help_text="writing: some contacts are not in the queue yet."
    )
    queued_count = serializers.IntegerField(help_text="The contacts this queue-all queues.")
    written_count = serializers.IntegerField(help_text="Of those, the rows written to the queue so far.")
    not_written_count = serializers.IntegerField(
        help_text="Contacts skipped when their chunk was written: queued by someone else since the "
        "request, deleted, or left without an email."
    )
    pending_count = serializers.IntegerField(help_text="Contacts still to be written to the queue.")
    requested_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class QueueAllSyncOutput(serializers.Serializer):
    crm = serializers.CharField()
    dry_run = serializers.BooleanField()
    matched_count = serializers.IntegerField()
    queued_count = serializers.IntegerField()
    skipped_count = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.IntegerField())
    estimated_completion = serializers.DateTimeField(
        allow_null=True,
        help_text="From the connection's measured push rate; null when it is paused until someone acts "
        "or no push has been measured yet (see `estimate`).",
    )
    estimate = serializers.CharField(help_text="The same for a person, saying paused or unknown and why.")
    paused = PauseOutput(allow_null=True, help_text="Why the queue is not moving, when it is not; else null.")
    run = QueueAllRunOutput(
        required=False,
        help_text="Only when more than SYNC_QUEUE_ALL_INLINE_MAX_ROWS contacts are queued (answered 202): "
        "they are decided and counted, and written to the queue in chunks after the answer.",
    )


class Last24h(serializers.Serializer):
    synced = serializers.IntegerField()
    errors = serializers.IntegerField()


class SyncStatsOutput(serializers.Serializer):
    crm = serializers.CharField()
    total_contacts = serializers.IntegerField()
    synced = serializers.IntegerField()
    queued = serializers.IntegerField()
    processing = serializers.IntegerField()
    errors = serializers.IntegerField()
    skipped = serializers.IntegerField()
    success_rate = serializers.FloatField()
    last_24h = Last24h()
    queue_all_pending = serializers.IntegerField(
        help_text="Contacts a big queue-all has counted as queued and not yet written to the queue; "
        "their rows still count under their previous status."
    )
    paused = PauseOutput(allow_null=True, help_text="Why the queue is not moving, when it is not.")


class SyncStatsEveryCrmOutput(serializers.Serializer):
    crms = serializers.DictField(
        child=SyncStatsOutput(), help_text="The per-CRM answer, by kind, for every CRM the organization has."
    )


class FailureItem(serializers.Serializer):
    contact_id = serializers.UUIDField()
    email = serializers.CharField()
    error = serializers.CharField()
    error_category = serializers.CharField()
    retry_count = serializers.IntegerField()
    last_retry_at = serializers.DateTimeField(allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    can_retry = serializers.BooleanField()


class SyncFailuresOutput(serializers.Serializer):
    crm = serializers.CharField()
    failures = FailureItem(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class RetrySyncOutput(serializers.Serializer):
    contact_id = serializers.UUIDField()
    crm = serializers.CharField()
    retry_count = serializers.IntegerField()
    next_retry_at = serializers.DateTimeField(allow_null=True)
    sync_status = serializers.CharField()
    message = serializers.CharField()


class RetryAllOutput(serializers.Serializer):
    crm = serializers.CharField()
    retried_count = serializers.IntegerField()
    message = serializers.CharField()


class TestCredentialsOutput(serializers.Serializer):
    crm = serializers.CharField()
    status = serializers.ChoiceField(choices=["valid", "invalid", "unreachable", "rate_limited"])
    message = serializers.CharField()
    error = serializers.CharField(required=False)
    account = serializers.DictField(required=False)


class TestCredentialsFailure(serializers.Serializer):
    """400 / 502: the project's error body; a test that ran adds its crm, status and message."""

    error = serializers.CharField()
    code = serializers.CharField()
    details = serializers.DictField()
    crm = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=["invalid", "unreachable"], required=False)
    message = serializers.CharField(required=False)
