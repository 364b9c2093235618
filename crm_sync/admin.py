"""Sync in the admin: per-CRM status on the contact list, bulk actions, state inline, run history,
and a "Test credentials" action on connections.

ContactAdmin and CrmConnectionAdmin belong to their apps; this module re-registers
subclasses that add the sync parts, so neither app imports crm_sync.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import ngettext

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from accounts.models import Organization
from contacts.admin import ContactAdmin
from contacts.models import Contact
from core.errors import ApplicationError
from crm_sync import connections
from crm_sync.admin_reads import (
    connection_list_annotations,
    contact_timeline,
    queue_skip_reasons,
    retry_skip_reasons,
)
from crm_sync.dashboard import connection_state
from crm_sync.models import (
    ContactSyncState,
    PullCursor,
    QueueAllRun,
    RemoteRecord,
    SyncRun,
    SyncStatus,
    registry_display_name,
)
from crm_sync.services.credentials import connection_credentials_test, connection_credentials_try
from crm_sync.services.queueing import contact_queue, contacts_queue_selected
from crm_sync.services.retrying import (
    auth_failures_count,
    connection_resume,
    contact_retry,
    contacts_retry_selected,
)
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


class CrmFilter(admin.SimpleListFilter):
    """Contacts selected for one CRM; with the status filter, that CRM's status."""

    title = "CRM"
    parameter_name = "crm"

    def lookups(self, request, model_admin):
        return [(kind, registry_display_name(kind)) for kind in connections.push_kinds()]

    def queryset(self, request, queryset):
        if not self.value() or request.GET.get(SyncStatusFilter.parameter_name):
            return queryset  # the status filter applies both, on the same state row
        return queryset.filter(sync_states__connection__kind=self.value()).distinct()


class SyncStatusFilter(admin.SimpleListFilter):
    """A sync status in the chosen CRM (in any CRM without one), or "not selected"."""

    title = "sync status"
    parameter_name = "sync_status"

    def lookups(self, request, model_admin):
        return [(status, status) for status in SyncStatus.values] + [("none", "Not selected")]

    def queryset(self, request, queryset):
        status = self.value()
        if not status:
            return queryset
        kind = request.GET.get(CrmFilter.parameter_name)
        on_crm = {"sync_states__connection__kind": kind} if kind else {}
        if status == "none":
            return queryset.exclude(**on_crm) if kind else queryset.filter(sync_states__isnull=True)
        return queryset.filter(sync_states__sync_status=status, **on_crm).distinct()


STATUS_ICONS = {
    SyncStatus.COMPLETE: "✓",
    SyncStatus.ERROR: "✕",
    SyncStatus.QUEUED: "⏳",
    SyncStatus.PROCESSING: "↻",
    SyncStatus.SKIPPED: "–",
    SyncStatus.SELECTED: "•",
}


def status_badge(state: ContactSyncState | None, *, compact: bool = False):
    """An icon in the status colour and the status in words (only the icon when compact); the
    error (or skip reason) as its tooltip."""
    if state is None:
        return mark_safe(  # noqa: S308 - a constant string  # nosec B308
            '<span class="sync-badge sync-none" title="not selected" aria-label="not selected">·</span>'
        )
    tip = state.sync_status
    if state.error:
        http = f" (HTTP {state.http_status})" if state.http_status else ""
        tip = f"{state.sync_status}{http}: [{state.error_category}] {state.error[:300]}"
    elif state.skip_reason:
        tip = f"{state.sync_status}: {state.skip_reason}"
    return format_html(
        '<span class="sync-badge" style="color:{};white-space:nowrap" title="{}" aria-label="{}">{}{}</span>',
        STATUS_COLOURS.get(state.sync_status, "inherit"),
        tip,
        tip,
        STATUS_ICONS.get(state.sync_status, ""),
        "" if compact else f" {state.sync_status}",
    )


class ContactSyncStateInline(admin.TabularInline):
    model = ContactSyncState
    extra = 0
    can_delete = False
    fields = [
        "connection",
        "sync_status",
        "processing_status",
        "remote_id",
        "attempts",
        "http_status",
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

    @admin.display(description="Attempt")
    def attempts(self, obj):
        return f"{obj.retry_count} of {obj.connection.max_retries}"

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


def _report(model_admin, request, *, done: str, count: int, skipped: dict, failures=()) -> None:
    """An action's result: what was done, what was skipped and why; 0 done is a warning, not a success."""
    reasons = "; ".join(f"{n} {reason}" for reason, n in skipped.items())
    text = f"{done} Skipped: {reasons}." if reasons else done
    model_admin.message_user(request, text, messages.SUCCESS if count else messages.WARNING)
    for failure in failures:
        model_admin.message_user(request, failure, messages.ERROR)


def _connection_column(connection: CrmConnection):
    """A narrow list column for one connection: the badge of the contact's state there."""

    @admin.display(description=registry_display_name(connection.kind).split(" ")[0])
    def column(obj: Contact):
        state = next((s for s in obj.sync_states.all() if s.connection_id == connection.pk), None)
        return status_badge(state, compact=True)

    column.__name__ = f"crm_{connection.pk}"
    return column


class SyncContactAdmin(ContactAdmin):
    list_filter = [*ContactAdmin.list_filter, CrmFilter, SyncStatusFilter]
    actions = [*ContactAdmin.actions, "queue_for_sync", "retry_failed_syncs", "reset_and_requeue"]
    inlines = [*ContactAdmin.inlines, ContactSyncStateInline]
    change_form_template = "admin/crm_sync/contact_change_form.html"

    def get_queryset(self, request):
        # One query for every row's states, whatever the page size.
        return super().get_queryset(request).prefetch_related("sync_states__connection")

    def _enabled_connections(self, request) -> list[CrmConnection]:
        if not hasattr(request, "_sync_connections"):
            queryset = CrmConnection.objects.filter(enabled=True).order_by("kind", "name")
            if not request.user.is_superuser:
                queryset = queryset.filter(organization__memberships__user=request.user).distinct()
            request._sync_connections = list(queryset)
        return request._sync_connections

    class Media:
        css = {"all": ["crm_sync/admin.css"]}

    def get_list_display(self, request):
        """One narrow column per enabled connection, so statuses line up across rows at 1280 px;
        the contact's own columns narrowed to what tells contacts apart (the rest are filters)."""
        columns = [*map(_connection_column, self._enabled_connections(request))]
        if not columns:
            return super().get_list_display(request)
        return ["email", "full_name", *columns]

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/sync/<int:connection_id>/<str:verb>/",
                self.admin_site.admin_view(self.sync_one_view),
                name="contacts_contact_sync_one",
            ),
        ]
        return extra + super().get_urls()

    def sync_one_view(self, request, object_id, connection_id, verb):
        """Push now (high priority, forced) or Retry one contact in one CRM, from its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        contact = get_object_or_404(self.get_queryset(request), pk=object_id)
        connection = get_object_or_404(
            CrmConnection.objects.filter(organization_id=contact.organization_id), pk=connection_id
        )
        if not self.has_change_permission(request, contact):
            raise PermissionDenied
        actor = Actor.for_user(request.user)
        try:
            if verb == "push":
                contact_queue(
                    organization=contact.organization,
                    contact_id=contact.pk,
                    crm=connection.kind,
                    priority="high",
                    force=True,
                    actor=actor,
                )
                self.message_user(
                    request, f"{contact} queued for {connection}; a push starts now.", messages.SUCCESS
                )
            elif verb == "retry":
                contact_retry(
                    organization=contact.organization,
                    contact_id=contact.pk,
                    crm=connection.kind,
                    reset_retry_count=True,
                    actor=actor,
                )
                self.message_user(request, f"{contact}: retry queued for {connection}.", messages.SUCCESS)
            else:
                return HttpResponseNotAllowed(["POST"])
        except ApplicationError as exc:
            self.message_user(request, f"Nothing queued for {connection}: {exc.message}", messages.WARNING)
        return HttpResponseRedirect(request.POST.get("next") or "../../../change/")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if contact is not None:
            states = list(contact.sync_states.select_related("connection").order_by("connection__kind"))
            extra_context["sync_states"] = [(state, status_badge(state)) for state in states]
            extra_context["sync_timeline"] = contact_timeline(contact=contact)
            selected = {state.connection_id for state in states}
            connections_ = [
                c for c in self._enabled_connections(request) if c.organization_id == contact.organization_id
            ]
            extra_context["push_connections"] = connections_
            extra_context["unselected_connections"] = [c for c in connections_ if c.pk not in selected]
        return super().change_view(request, object_id, form_url, extra_context)

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
        total, skipped, failures = 0, {}, []
        for organization in Organization.objects.filter(pk__in=organization_ids):
            try:
                connection = connections.organization_connection(organization=organization, crm=crm)
                mine = queryset.filter(organization=organization)
                for reason, n in queue_skip_reasons(
                    contacts=mine, connection=connection, force=force
                ).items():
                    skipped[reason] = skipped.get(reason, 0) + n
                total += contacts_queue_selected(
                    organization=organization,
                    contacts=queryset,
                    crm=crm,
                    priority=priority,
                    force=force,
                    actor=actor,
                )
            except ApplicationError as exc:
                failures.append(f"{organization}: {exc.message}")
        _report(
            self,
            request,
            done=ngettext("%(n)d contact queued for %(crm)s.", "%(n)d contacts queued for %(crm)s.", total)
            % {"n": total, "crm": crm},
            count=total,
            skipped=skipped,
            failures=failures,
        )

    @admin.action(description="Retry failed syncs")
    def retry_failed_syncs(self, request, queryset):
        skipped = retry_skip_reasons(contacts=queryset)
        count = contacts_retry_selected(
            contacts=queryset, reset_retry_count=False, actor=Actor.for_user(request.user)
        )
        _report(
            self,
            request,
            done=ngettext("%d failed sync queued.", "%d failed syncs queued.", count) % count,
            count=count,
            skipped=skipped,
        )

    @admin.action(description="Reset retries and re-queue")
    def reset_and_requeue(self, request, queryset):
        skipped = retry_skip_reasons(contacts=queryset)
        count = contacts_retry_selected(
            contacts=queryset, reset_retry_count=True, actor=Actor.for_user(request.user)
        )
        _report(
            self,
            request,
            done=ngettext("%d failed sync reset and queued.", "%d failed syncs reset and queued.", count)
            % count,
            count=count,
            skipped=skipped,
        )


class SyncCrmConnectionAdmin(CrmConnectionAdmin):
    list_display = [
        "name",
        "kind",
        "organization",
        "state_badge",
        "last_sync",
        "queued",
        "failed",
        "last_error",
        "enabled",
    ]
    actions = [*CrmConnectionAdmin.actions, "test_credentials", "resume", "sync_now", "pull_now"]
    # The setup form tests credentials with the code of the "Test credentials" action.
    credentials_try = staticmethod(connection_credentials_try)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**connection_list_annotations())

    @admin.display(description="State")
    def state_badge(self, obj):
        state = connection_state(connection=obj, now=timezone.now())
        colours = {"ok": "#1b5e20", "warning": "#8d6e00", "error": "#b71c1c", "muted": "#455a64"}
        action = f" ({state['action']})" if state["action"] else ""
        return format_html(
            '<strong style="color:{}" title="{}">{}</strong>{}',
            colours[state["level"]],
            state.get("detail", ""),
            state["text"],
            action,
        )

    @admin.display(description="Last sync", ordering="last_sync_at")
    def last_sync(self, obj):
        return f"{timesince(obj.last_sync_at)} ago" if obj.last_sync_at else "never"

    @admin.display(description="Queued", ordering="queued_count")
    def queued(self, obj):
        return obj.queued_count

    @admin.display(description="Failed", ordering="failed_count")
    def failed(self, obj):
        if not obj.failed_count:
            return 0
        url = reverse("admin:crm_sync_contactsyncstate_changelist")
        return format_html(
            '<a href="{}?connection__id__exact={}&sync_status__exact=Error">{}</a>',
            url,
            obj.pk,
            obj.failed_count,
        )

    @admin.display(description="Last error")
    def last_error(self, obj):
        text = obj.last_error_text or ""
        return format_html('<span title="{}">{}</span>', text[:1000], text[:80]) if text else "—"

    @admin.action(description="Resume (after fixing the credentials)…")
    def resume(self, request, queryset):
        """Close the pause of each selected connection, offering to re-queue what failed on authentication."""
        paused = [c for c in queryset.select_related("organization") if c.is_circuit_open]
        if not paused:
            self.message_user(
                request, "0 connections resumed: none of the selected is paused.", messages.WARNING
            )
            return None
        if "apply" not in request.POST:
            offers = [(c, auth_failures_count(connection=c)) for c in paused]
            return TemplateResponse(
                request,
                "admin/crm_sync/resume.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Resume paused connections",
                    "offers": offers,
                    "retry_total": sum(n for _, n in offers),
                    "opts": self.model._meta,
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                },
            )
        retry = request.POST.get("retry") == "1"
        actor = Actor.for_user(request.user)
        for connection in paused:
            _, count = connection_resume(connection=connection, retry_auth_failures=retry, actor=actor)
            again = f", {count} contacts queued again" if retry else ""
            self.message_user(request, f"{connection} resumed{again}.", messages.SUCCESS)
        return None

    @admin.action(description="Sync now (push what is queued, pull what changed)")
    def sync_now(self, request, queryset):
        """Start a push of each connection's due queue at once, and its incremental pulls."""
        from crm_sync.services.pull import connection_pull_types, connection_pulls
        from crm_sync.tasks import pull_object_type as pull_object_type_task
        from crm_sync.tasks import push_batch as push_batch_task

        for connection in queryset:
            if not connection.enabled or connection.is_circuit_open:
                why = "disabled" if not connection.enabled else "paused: fix the credentials, then Resume"
                self.message_user(request, f"{connection}: nothing started ({why}).", messages.WARNING)
                continue
            started = []
            if connection.can_push:
                push_batch_task.delay(connection_id=connection.pk)
                started.append("push")
            types = connection_pull_types(connection=connection) if connection_pulls(connection) else ()
            for object_type in types:
                pull_object_type_task.delay(connection_id=connection.pk, object_type=object_type)
            if types:
                started.append(f"pull of {', '.join(types)}")
            self.message_user(request, f"{connection}: {' and '.join(started)} started.", messages.SUCCESS)

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
        """Ask each CRM whether the selected connection's stored credentials work (not another
        connection of the same kind); creates nothing in the CRM."""
        actor = Actor.for_user(request.user)
        for connection in queryset.select_related("organization"):
            try:
                result = connection_credentials_test(connection=connection, actor=actor)
            except ApplicationError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if result.status == "valid" else messages.ERROR
            detail = f" ({result.error})" if result.error else ""
            self.message_user(request, f"{connection}: {result.status}: {result.message}{detail}", level)


@admin.register(ContactSyncState)
class ContactSyncStateAdmin(OrganizationScopedAdmin):
    """Where each contact stands in each CRM. History: nothing here is edited or deleted by hand."""

    organization_path = "connection__organization"
    list_display = [
        "contact",
        "connection",
        "badge",
        "http_status",
        "error_text",
        "attempts",
        "next_retry_at",
        "last_synced_at",
    ]
    list_filter = [
        "sync_status",
        "processing_status",
        "error_category",
        "connection__kind",
        # Only connections whose states this user may see (a plain related filter lists every one).
        ("connection", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["contact__email", "remote_id", "error"]
    list_select_related = ["contact", "connection"]
    actions = ["retry_now"]
    readonly_fields = [
        "contact",
        "connection",
        "sync_status",
        "processing_status",
        "priority",
        "remote_id",
        "http_status",
        "error",
        "error_category",
        "skip_reason",
        "retry_count",
        "next_retry_at",
        "last_retry_at",
        "last_synced_at",
        "last_pulled_at",
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

    def lookup_allowed(self, lookup, value, request=None):
        # The dashboard links a failure group by its exact message.
        return lookup == "error" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Status", ordering="sync_status")
    def badge(self, obj):
        return status_badge(obj)

    @admin.display(description="Error")
    def error_text(self, obj):
        text = obj.error or obj.skip_reason
        if not text:
            return "—"
        category = f"[{obj.error_category}] " if obj.error_category else ""
        return format_html('<span title="{}">{}{}</span>', text[:2000], category, text[:140])

    @admin.display(description="Attempt")
    def attempts(self, obj):
        return f"{obj.retry_count} of {obj.connection.max_retries}"

    @admin.action(description="Retry now (fresh retry budget)")
    def retry_now(self, request, queryset):
        """Queue the selected failed rows again; the others are skipped and counted by reason."""
        rows = queryset.order_by()
        not_failed = rows.exclude(sync_status=SyncStatus.ERROR).count()
        count = contacts_retry_selected(
            contacts=Contact.objects.filter(pk__in=rows.values("contact_id")),
            reset_retry_count=True,
            actor=Actor.for_user(request.user),
            states=rows,
        )
        skipped = {"not in error": not_failed}
        busy = rows.count() - count - not_failed
        if busy > 0:
            skipped["being pushed right now"] = busy
        _report(
            self,
            request,
            done=ngettext("%d sync queued again.", "%d syncs queued again.", count) % count,
            count=count,
            skipped={reason: n for reason, n in skipped.items() if n},
        )

    @admin.display(description="Last request")
    def last_request_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.last_request))

    @admin.display(description="Last response")
    def last_response_pretty(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.last_response))


class HistoryAdmin(OrganizationScopedAdmin):
    """A record of what the engine did: every field shown, nothing added, changed or deleted."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(HistoryAdmin):
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
        "archived",
        "conflicts",
        "error_count",
        "calls",
        "http_429s",
        "duration_ms",
    ]
    list_filter = ["direction", "outcome", "object_type", "connection__kind"]
    list_select_related = ["connection"]
    date_hierarchy = "started_at"


@admin.register(QueueAllRun)
class QueueAllRunAdmin(HistoryAdmin):
    """Big queue-alls: counted in their request, written to the queue by a task. Read-only."""

    organization_path = "connection__organization"
    list_display = ["requested_at", "connection", "total", "written", "not_written", "pending", "finished_at"]
    list_filter = ["connection__kind"]
    list_select_related = ["connection"]
    date_hierarchy = "requested_at"


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
