"""Admin of webhook subscriptions: paused ones stand out, with a resume action; deliveries read-only.

The signing secret is never shown (the field is left out of every form and list).
"""

from django.contrib import admin, messages

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import subscription_resume


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(OrganizationScopedAdmin):
    list_display = [
        "url",
        "organization",
        "status",
        "paused_reason",
        "consecutive_failures",
        "last_success_at",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["url", "description"]
    # The URL and events change through the API, which checks the URL against the outbound rules.
    readonly_fields = [
        "url",
        "events",
        "status",
        "paused_reason",
        "paused_at",
        "consecutive_failures",
        "sending_since",
        "last_delivery_at",
        "last_success_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["signing", "sending_token"]
    actions = ["resume_selected"]
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        # Created through the API, which validates the URL and shows the secret once.
        return False

    @admin.action(description="Resume the selected paused subscriptions", permissions=["change"])
    def resume_selected(self, request, queryset):
        paused = list(queryset.filter(status=WebhookSubscription.Status.PAUSED))
        for subscription in paused:
            subscription_resume(subscription=subscription, actor=Actor.from_request(request))
        self.message_user(request, f"Resumed {len(paused)} subscription(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdmin):
    organization_path = "subscription__organization"
    list_display = ["id", "subscription", "event", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    list_select_related = ["subscription"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
