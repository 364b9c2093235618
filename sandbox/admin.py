"""Admin for the sandbox CRMs: configs are editable, state and logs are read-only (inspect, don't edit)."""

from django.contrib import admin

from sandbox.models import (
    SandboxConfig,
    SandboxRateSlot,
    SandboxRecord,
    SandboxRequestLog,
    SandboxToken,
)


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """The sandbox's rows belong to no organization (records and logs of every organization's
    pushes), so no organization's staff may see them: superusers only, whatever permissions
    a staff user holds."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


class ReadOnlyAdmin(SuperuserOnlyAdmin):
    """Rows written by the emulators: viewable and deletable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SandboxConfig)
class SandboxConfigAdmin(SuperuserOnlyAdmin):
    list_display = [
        "kind",
        "rate_limit_enabled",
        "error_rate",
        "burst_429_rate",
        "timeout_rate",
        "lock_rate",
        "whole_batch_failure_rate",
        "latency_ms",
        "seed",
        "updated_at",
    ]
    readonly_fields = ["fault_sequence", "updated_at"]
    fieldsets = [
        (None, {"fields": ["kind", "seed", "fault_sequence", "updated_at"]}),
        (
            "Faults",
            {
                "fields": [
                    "error_rate",
                    "latency_ms",
                    "burst_429_rate",
                    "timeout_rate",
                    "timeout_seconds",
                    "lock_rate",
                    "whole_batch_failure_rate",
                ]
            },
        ),
        ("Rate limits", {"fields": ["rate_limit_enabled", "rate_limits"]}),
        ("Behaviour", {"fields": ["credentials", "options"]}),
    ]


@admin.register(SandboxRecord)
class SandboxRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "object_type", "key", "write_count", "archived", "updated_at"]
    list_filter = ["kind", "object_type", "archived"]
    search_fields = ["key"]
    readonly_fields = [
        "kind",
        "object_type",
        "key",
        "data",
        "archived",
        "write_count",
        "created_at",
        "updated_at",
    ]
    list_per_page = 100
    show_full_result_count = False


@admin.register(SandboxRequestLog)
class SandboxRequestLogAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "method", "path", "status", "fault", "duration_ms", "created_at"]
    list_filter = ["kind", "method", "status"]
    search_fields = ["path"]
    readonly_fields = [
        "kind",
        "method",
        "path",
        "query",
        "headers",
        "body",
        "status",
        "fault",
        "duration_ms",
        "created_at",
    ]
    list_per_page = 100
    show_full_result_count = False


@admin.register(SandboxToken)
class SandboxTokenAdmin(ReadOnlyAdmin):
    """Only a token's hash is stored; the raw value was shown once to the client that asked for it."""

    list_display = ["id", "kind", "token_type", "subject", "expires_at", "created_at"]
    list_filter = ["kind", "token_type"]
    exclude = ["token_hash"]
    readonly_fields = ["kind", "token_type", "subject", "expires_at", "created_at"]


@admin.register(SandboxRateSlot)
class SandboxRateSlotAdmin(ReadOnlyAdmin):
    list_display = ["kind", "bucket", "slot_start", "count"]
    list_filter = ["kind", "bucket"]
    readonly_fields = ["kind", "bucket", "slot_start", "count"]
