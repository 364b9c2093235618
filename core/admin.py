from django.contrib import admin, messages
from django.utils import timezone

from core.models import WorkerHeartbeat
from core.selectors import heartbeat_report, heartbeat_state


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Which worker took each queue's latest heartbeat, and when: the live workers and queues."""

    list_display = ["queue", "hostname", "seen_at", "age", "state"]
    list_filter = ["queue", "hostname"]
    readonly_fields = ["token", "queue", "hostname", "seen_at"]
    ordering = ["queue", "-seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Age")
    def age(self, obj) -> str:
        return f"{(timezone.now() - obj.seen_at).total_seconds():.0f} s"

    @admin.display(description="State")
    def state(self, obj) -> str:
        return heartbeat_state((timezone.now() - obj.seen_at).total_seconds())

    def changelist_view(self, request, extra_context=None):
        """Head the list with the summary /healthz gives: queues, live workers, beat."""
        report = heartbeat_report()
        queues = ", ".join(
            f"{name}: {entry['state']}"
            + (f" ({entry['age_seconds']:.0f} s ago)" if entry["age_seconds"] else "")
            for name, entry in report["workers"]["queues"].items()
        )
        live = ", ".join(report["workers"]["live"]) or "none"
        beat = report["beat"]
        level = messages.SUCCESS if report["workers"]["state"] == beat["state"] == "ok" else messages.WARNING
        self.message_user(
            request,
            f"Queues: {queues}. Live workers: {live}. Beat: {beat['state']}"
            + (
                f" (last heartbeat {beat['age_seconds']:.0f} s ago)."
                if beat["age_seconds"] is not None
                else "."
            ),
            level=level,
        )
        return super().changelist_view(request, extra_context=extra_context)
