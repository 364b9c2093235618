"""Admin of alert rules: thresholds and channels per connection, and what is firing now."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.admin import OrganizationScopedAdmin
from core.errors import ApplicationError
from crm_sync.models import AlertRule
from crm_sync.services.alerts import alert_webhook_check
from integrations.models import CrmConnection


class AlertRuleForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=AlertRule._meta.get_field("webhook_url").help_text,
    )

    class Meta:
        model = AlertRule
        fields = [
            "connection",
            "enabled",
            "emails",
            "webhook_url",
            "error_rate_percent",
            "error_rate_window_minutes",
            "error_rate_min_attempts",
            "queue_age_minutes",
            "alert_when_paused",
            "quota_used_percent",
        ]

    def clean_emails(self):
        value = self.cleaned_data.get("emails", "")
        parts = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        bad = []
        for part in parts:
            try:
                validate_email(part)
            except ValidationError:
                bad.append(part)
        if bad:
            raise ValidationError(f"Not email addresses: {', '.join(bad)}.")
        return ", ".join(parts)

    def clean_webhook_url(self):
        url = self.cleaned_data.get("webhook_url", "")
        try:
            alert_webhook_check(url)
        except ApplicationError as exc:
            raise ValidationError(exc.message) from None
        return url

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled") and not cleaned.get("emails") and not cleaned.get("webhook_url"):
            raise ValidationError("Give at least one email address or a webhook URL, or switch the rule off.")
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(OrganizationScopedAdmin):
    form = AlertRuleForm
    organization_path = "connection__organization"
    list_display = ["connection", "enabled", "channels", "firing_now", "last_evaluated_at"]
    list_filter = ["enabled", "connection__kind"]
    list_select_related = ["connection"]
    readonly_fields = ["firing_now", "last_evaluated_at", "last_delivery_error"]
    fieldsets = [
        (None, {"fields": ["connection", "enabled", "emails", "webhook_url"]}),
        (
            "Thresholds",
            {
                "fields": [
                    ("error_rate_percent", "error_rate_window_minutes", "error_rate_min_attempts"),
                    "queue_age_minutes",
                    "alert_when_paused",
                    "quota_used_percent",
                ]
            },
        ),
        ("State", {"fields": ["firing_now", "last_evaluated_at", "last_delivery_error"]}),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection" and not request.user.is_superuser:
            kwargs["queryset"] = CrmConnection.objects.filter(organization__memberships__user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Channels")
    def channels(self, obj: AlertRule) -> str:
        parts = [f"{len(obj.recipients)} email(s)"] if obj.recipients else []
        return ", ".join(parts + (["webhook"] if obj.webhook_url else [])) or "—"

    @admin.display(description="Firing now")
    def firing_now(self, obj: AlertRule) -> str:
        if not obj.firing:
            return "Nothing: every threshold is clear."
        return "; ".join(
            f"{AlertRule.Condition(name).label} since {value['since']}"
            for name, value in sorted(obj.firing.items())
        )
