"""Sync in the admin: per-CRM status on the contact list, bulk actions, state inline, run history,
and a "Test credentials" action on connections.

ContactAdmin and CrmConnectionAdmin belong to their apps; this module re-registers
subclasses that add the sync parts, so neither app imports crm_sync.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from accounts.models import Organization
from contacts.admin import ContactAdmin
from contacts.models import Contact
from core.errors import ApplicationError
from crm_sync import connections
from crm_sync.models import ContactSyncState, PullCursor, RemoteRecord, SyncRun, SyncStatus
from crm_sync.services.credentials import crm_credentials_test
from crm_sync.services.queueing import contacts_queue_selected
from crm_sync.services.retrying import contacts_retry_selected
from integrations.admin import CrmConnectionAdmin
from integrations.models import CrmConnection

STATUS_COLOURS = {
    SyncStatus.COMPLETE: "#2e7d32",
    SyncStatus.ERROR: "#c62828",
    SyncStatus.QUEUED: "#1565c0",
    SyncStatus.PROCESSING: "#6a1b9a",
    SyncStatus.SKIPPED: "#757575",
    SyncStatus.SELECTED: "#757575",
}


def _pretty(value) -> str:
    return json.dumps(value, indent=2, default=str) if value is not None else "—"


class CrmSyncStatusFilter(admin.SimpleListFilter):
    """One choice per CRM and status ("hubspot: Error"), plus "not selected" per CRM."""

    title = "CRM sync status"
    parameter_name = "crm_sync"

    def lookups(self, request, model_admin):
        choices = []
        for kind in connections.push_kinds():
            choices += [(f"{kind}:{status}", f"{kind}: {status}") for status in SyncStatus.values]
            choices.append((f"{kind}:none", f"{kind}: not selected"))
        return choices

    def queryset(self, request, queryset):
        if not self.value() or ":" not in self.value():
            return queryset
        kind, status = self.value().split(":", 1)
        if status == "none":
            return queryset.exclude(sync_states__connection__kind=kind)
        return queryset.filter(sync_states__connection__kind=kind, sync_states__sync_status=status).distinct()


class ContactSyncStateInline(admin.TabularInline):
    model = ContactSyncState
    extra = 0
    can_delete = False
    fields = [
        "connection",
        "sync_status",
        "processing_status",
        "remote_id",
        "retry_count",
        "next_retry_at",
        "last_synced_at",
        "error_summary",
        "exchange",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("connection")

    @admin.display(description="Error")
    def error_summary(self, obj):
        if not obj.error:
            return obj.skip_reason or "—"
        return f"[{obj.error_category}] {obj.error[:300]}"

    @admin.display(description="Last exchange with the CRM")
    def exchange(self, obj):
        if obj.last_request is None and obj.last_response is None:
            return "—"
        return format_html(
            "<details><summary>request / response</summary><pre>{}</pre><pre>{}</pre></details>",
            _pretty(obj.last_request),
            _pretty(obj.last_response),
        )


class QueueForSyncForm(forms.Form):
    crm = forms.ChoiceField(label="CRM")
    priority = forms.ChoiceField(
        choices=[("normal", "Normal"), ("high", "High (push now)")], initial="normal"
    )
    force = forms.BooleanField(
        required=False, help_text="Push even contacts unchanged since their last sync."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["crm"].choices = [(kind, kind) for kind in connections.push_kinds()]


class SyncContactAdmin(ContactAdmin):
    list_display = [*ContactAdmin.list_display, "crm_sync_status"]
    list_filter = [*ContactAdmin.list_filter, CrmSyncStatusFilter]
    actions = [*ContactAdmin.actions, "queue_for_sync", "retry_failed_syncs", "reset_and_requeue"]
    inlines = [*ContactAdmin.inlines, ContactSyncStateInline]

    def get_queryset(self, request):
        # One query for every row's states, whatever the page size.
        return super().get_queryset(request).prefetch_related("sync_states__connection")

    @admin.display(description="CRM sync")
    def crm_sync_status(self, obj: Contact):
        states = sorted(obj.sync_states.all(), key=lambda s: s.connection.kind)
        if not states:
            return "—"
        return format_html_join(
            " ",
            '<span style="color:{}" title="{}">{}: {}</span>',
            (
                (
                    STATUS_COLOURS.get(s.sync_status, "inherit"),
                    s.error[:200],
                    s.connection.kind,
                    s.sync_status,
                )
                for s in states
            ),
        )

    @admin.action(description="Queue for sync…")
    def queue_for_sync(self, request, queryset):
        """An intermediate page picks the CRM and priority, then one set-based queueing per organization."""
        form = QueueForSyncForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._queue(request, queryset, **form.cleaned_data)
            return None
        return TemplateResponse(
            request,
            "admin/crm_sync/queue_for_sync.html",
            {
                **self.admin_site.each_context(request),
                "title": "Queue contacts for sync",
                "form": form,
                "queryset": queryset,
                "count": queryset.count(),
                "opts": self.model._meta,
                "action": "queue_for_sync",
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
            },
        )

    def _queue(self, request, queryset, *, crm: str, priority: str, force: bool) -> None:
        actor = Actor.for_user(request.user)
        organization_ids = queryset.order_by().values_list("organization_id", flat=True).distinct()
        total = 0
        for organization in Organization.objects.filter(pk__in=organization_ids):
            try:
                total += contacts_queue_selected(
                    organization=organization,
                    contacts=queryset,
                    crm=crm,
                    priority=priority,
                    force=force,
                    actor=actor,
                )
            except ApplicationError as exc:
                self.message_user(request, f"{organization}: {exc.message}", messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)d contact queued for %(crm)s.", "%(n)d contacts queued for %(crm)s.", total)
            % {"n": total, "crm": crm},
            messages.SUCCESS,
        )

    @admin.action(description="Retry failed syncs")
    def retry_failed_syncs(self, request, queryset):
        count = contacts_retry_selected(
            contacts=queryset, reset_retry_count=False, actor=Actor.for_user(request.user)
        )
        self.message_user(
            request,
            ngettext("%d failed sync queued.", "%d failed syncs queued.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description="Reset retries and re-queue")
    def reset_and_requeue(self, request, queryset):
        count = contacts_retry_selected(
            contacts=queryset, reset_retry_count=True, actor=Actor.for_user(request.user)
        )
        self.message_user(
            request,
            ngettext("%d failed sync reset and queued.", "%d failed syncs reset and queued.", count) % count,
            messages.SUCCESS,
        )


class SyncCrmConnectionAdmin(CrmConnectionAdmin):
    actions = [*CrmConnectionAdmin.actions, "test_credentials", "pull_now"]

    @admin.action(description="Pull now (incremental)")
    def pull_now(self, request, queryset):
        """Queue a pull of every object type of each selected connection (on the pull workers)."""
        from crm_sync.services.pull import connection_pull_types, connection_pulls
        from crm_sync.tasks import pull_object_type as pull_object_type_task

        for connection in queryset:
            types = connection_pull_types(connection=connection) if connection_pulls(connection) else ()
            if not connection.enabled or not types:
                self.message_user(
                    request,
                    f"{connection}: nothing to pull (disabled, push-only, or its CRM cannot be read).",
                    messages.WARNING,
                )
                continue
            for object_type in types:
                pull_object_type_task.delay(connection_id=connection.pk, object_type=object_type)
            self.message_user(request, f"{connection}: pull of {', '.join(types)} queued.", messages.SUCCESS)

    @admin.action(description="Test credentials")
    def test_credentials(self, request, queryset):
        """Ask each CRM whether the stored credentials work; creates nothing in the CRM."""
        actor = Actor.for_user(request.user)
        for connection in queryset.select_related("organization"):
            try:
                result = crm_credentials_test(
                    organization=connection.organization, crm=connection.kind, actor=actor
                )
            except ApplicationError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if result.status == "valid" else messages.ERROR
            detail = f" ({result.error})" if result.error else ""
            self.message_user(request, f"{connection}: {result.status}: {result.message}{detail}", level)


@admin.register(ContactSyncState)
class ContactSyncStateAdmin(OrganizationScopedAdmin):
    organization_path = "connection__organization"
    list_display = [
        "contact",
        "connection",
        "sync_status",
        "processing_status",
        "retry_count",
        "next_retry_at",
        "last_synced_at",
        "error_category",
    ]
    list_filter = ["sync_status", "processing_status", "error_category", "connection__kind"]
    search_fields = ["contact__email", "remote_id", "error"]
    list_select_related = ["contact", "connection"]
    readonly_fields = [
        "contact",
        "connection",
        "sync_status",
        "processing_status",
        "priority",
        "remote_id",
        "error",
        "error_category",
        "skip_reason",
        "retry_count",
        "next_retry_at",
        "last_retry_at",
        "last_synced_at",
        "pushed_hash",
        "queued_at",
        "due_at",
        "claim_token",
        "claimed_at",
        "requeue_requested",
        "last_request_pretty",
        "last_response_pretty",
        "created_at",
        "updated_at",
    ]
    exclude = ["last_request", "last_response"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Last request")
    def last_request_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.last_request))

    @admin.display(description="Last response")
    def last_response_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.last_response))


@admin.register(SyncRun)
class SyncRunAdmin(OrganizationScopedAdmin):
    """Every pushed batch and every pull: read-only history."""

    organization_path = "connection__organization"
    list_display = [
        "started_at",
        "connection",
        "direction",
        "object_type",
        "outcome",
        "claimed",
        "succeeded",
        "failed",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "conflicts",
        "error_count",
        "calls",
        "http_429s",
        "duration_ms",
    ]
    list_filter = ["direction", "outcome", "object_type", "connection__kind"]
    list_select_related = ["connection"]
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RemoteRecord)
class RemoteRecordAdmin(OrganizationScopedAdmin):
    """What pulls brought in (deals, transactions, projects, pulled contacts): read-only."""

    list_display = [
        "remote_id",
        "object_type",
        "display_name",
        "email",
        "connection",
        "contact",
        "remote_updated_at",
        "archived",
        "merged_into_remote_id",
    ]
    list_filter = ["object_type", "archived", "connection__kind"]
    search_fields = ["remote_id", "email", "display_name"]
    list_select_related = ["connection", "contact"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in RemoteRecord._meta.fields if f.name not in ("fields", "raw")] + [
            "fields_pretty",
            "raw_pretty",
        ]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    @admin.display(description="Mapped fields")
    def fields_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.fields))

    @admin.display(description="As the CRM sent it")
    def raw_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.raw))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PullCursor)
class PullCursorAdmin(OrganizationScopedAdmin):
    """Where each incremental pull stands; read-only (`manage.py pull --backfill` starts over)."""

    organization_path = "connection__organization"
    list_display = ["connection", "object_type", "since", "cursor", "last_completed_at", "updated_at"]
    list_select_related = ["connection"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in PullCursor._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The admin's home page links the dashboard (crm_sync/dashboard_views.py).
admin.site.index_template = "admin/crm_sync/index.html"

for model, admin_class in ((Contact, SyncContactAdmin), (CrmConnection, SyncCrmConnectionAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, admin_class)
