"""Outbound webhooks: a client's subscription to events, and the queue of deliveries to it.

WebhookDelivery rows are the queue (STYLE §4.4); broker messages are only nudges. A
subscription is held by at most one sender at a time (`sending_token`, taken with a
conditional UPDATE, SKIP LOCKED on PostgreSQL), so a receiver never gets two deliveries of
one subscription at once.
"""

from django.db import models
from django.db.models import Q

from core.fields import EncryptedJSONField


class Event(models.TextChoices):
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_SYNCED = "contact.synced"
    CONTACT_FAILED = "contact.failed"
    CONFLICT_CREATED = "conflict.created"


class WebhookSubscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event types delivered to this URL.")
    description = models.CharField(max_length=200, blank=True, default="")
    # {"secret": "..."}: encrypted at rest; shown once, when the subscription is created.
    signing = EncryptedJSONField(help_text="Encrypted; the signing secret is shown only at creation.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.CharField(max_length=500, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    sending_token = models.CharField(max_length=64, null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="webhook_sub_org_status")]

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.BigAutoField(primary_key=True)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64, choices=Event.choices)
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The receiver's last answer: status code and a capped, redacted body; or why no answer came.
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_body = models.TextField(blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sender's pick: a subscription's due pending deliveries, oldest first.
            models.Index(
                fields=["subscription", "next_attempt_at", "id"],
                name="webhook_delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_recent"),
            # The reaper: deliveries a sender holds (a handful at any moment).
            models.Index(
                fields=["last_attempt_at"], name="webhook_delivery_sending", condition=Q(status="sending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id}: {self.status}"
