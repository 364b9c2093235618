"""The admin dashboard (staff only) and its "Retry this group" button: parse, call, render."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from crm_sync import charts
from crm_sync.dashboard import (
    FAILURE_WINDOW,
    STATUS_ORDER,
    activity_series,
    connection_panels,
    failure_groups,
)
from crm_sync.selectors import seconds_phrase
from crm_sync.services.retrying import failure_group_retry
from integrations.models import CrmConnection


def visible_connections(user):
    """The connections of the user's organizations (all of them for a superuser)."""
    queryset = CrmConnection.objects.select_related("organization").order_by(
        "organization__name", "kind", "name"
    )
    if user.is_superuser:
        return queryset
    return queryset.filter(organization__memberships__user=user).distinct()


def _drain_text(panel) -> str:
    seconds = panel.drain_seconds
    if seconds is None:
        return "unknown (no recent pushes to measure)"
    if seconds == 0:
        return "empty"
    text = seconds_phrase(seconds)
    return text[0].lower() + text[1:]


def _failures_link(group: dict) -> str:
    query = {
        "connection__id__exact": group["connection_id"],
        "sync_status__exact": "Error",
        "error_category__exact": "" if group["category"] == "unknown" else group["category"],
        "error": group["message"],
    }
    return reverse("admin:crm_sync_contactsyncstate_changelist") + "?" + urlencode(query)


def dashboard(request):
    now = timezone.now()
    connections = list(visible_connections(request.user))
    panels = connection_panels(connections=connections, now=now)
    for panel in panels:
        panel.bar = charts.stacked_bar(panel.counts, STATUS_ORDER)
        panel.drain_text = _drain_text(panel)
    hourly = activity_series(connections=connections, now=now)
    daily = activity_series(connections=connections, now=now, days=True)
    groups = failure_groups(connections=connections)
    for group in groups:
        group["link"] = _failures_link(group)
    return TemplateResponse(
        request,
        "admin/crm_sync/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Sync dashboard",
            "panels": panels,
            "status_order": STATUS_ORDER,
            "status_colours": charts.STATUS_COLOURS,
            "series_colours": charts.SERIES_COLOURS,
            "hourly_chart": charts.activity_chart(hourly),
            "daily_chart": charts.activity_chart(daily),
            "hourly_totals": _totals(hourly),
            "daily_totals": _totals(daily),
            "failure_groups": groups,
            "failure_window": FAILURE_WINDOW,
        },
    )


def _totals(series: list[dict]) -> dict:
    return {key: sum(point[key] for point in series) for key in ("pushed", "pulled", "failed")}


@require_POST
def retry_group(request):
    connection = get_object_or_404(visible_connections(request.user), pk=request.POST.get("connection"))
    count = failure_group_retry(
        connection=connection,
        category=request.POST.get("category", ""),
        message=request.POST.get("message", ""),
        actor=Actor.for_user(request.user),
    )
    if count:
        messages.success(
            request,
            ngettext(
                "%(n)d contact queued again for %(crm)s.", "%(n)d contacts queued again for %(crm)s.", count
            )
            % {"n": count, "crm": connection},
        )
    else:
        messages.warning(
            request,
            f"0 contacts queued for {connection}: none of this group is still in error "
            "(already retried, being pushed, or fixed since the page was drawn).",
        )
    return HttpResponseRedirect(reverse("sync-dashboard"))
