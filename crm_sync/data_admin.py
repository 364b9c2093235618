"""The admin's "CRM data" page: unified search over every source, per-source status, "Sync now".

Staff who are not superusers see only their organizations (a choice when they have several);
searching needs the view permission, "Sync now" the change permission. Everything goes
through the same selectors and services as the CRM data API.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.actors import Actor
from accounts.selectors import organizations_for_user
from core.errors import ApplicationError
from crm_sync.data_selectors import sources_status
from crm_sync.models import CrmData
from crm_sync.search import search_run, search_validate
from crm_sync.services.pull_start import source_pull_start
from crm_sync.sources import source_get, sources_list

RESULTS_PER_SOURCE = 20


def _link(row, source_key: str) -> dict:
    if source_key == "local":
        return {
            "name": row.full_name or row.email or str(row.pk),
            "detail": " · ".join(filter(None, [row.email, row.phone, row.company])),
            "url": reverse("admin:contacts_contact_change", args=[row.pk]),
        }
    return {
        "name": row.display_name or row.remote_id,
        "detail": " · ".join(filter(None, [row.object_type, row.email, f"id {row.remote_id}"])),
        "url": reverse("admin:crm_sync_remoterecord_change", args=[row.pk]),
    }


class CrmDataAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        """The page only: no add, change or delete views under the proxy model."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))
        ]

    def _organization(self, request):
        organizations = list(organizations_for_user(user=request.user).order_by("name"))
        if not organizations:
            raise PermissionDenied
        wanted = request.GET.get("organization") or request.POST.get("organization")
        if not wanted:
            return organizations[0], organizations
        for organization in organizations:
            if str(organization.pk) == wanted:
                return organization, organizations
        raise Http404("No such organization.")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        organization, organizations = self._organization(request)
        here = f"{request.path}?organization={organization.pk}"
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            try:
                source = source_get(organization=organization, source=request.POST.get("source", ""))
                runs = source_pull_start(
                    organization=organization, source=source, actor=Actor.for_user(request.user)
                )
            except ApplicationError as exc:
                self.message_user(request, f"Not started: {exc.message}", messages.ERROR)
            else:
                ids = ", ".join(str(run.pk) for run in runs)
                self.message_user(request, f"Pull of {source.key} started (runs {ids}).", messages.SUCCESS)
            return HttpResponseRedirect(here)
        sources = sources_list(organization=organization)
        statuses = sources_status(organization=organization, sources=sources)
        query, type_ = request.GET.get("q", ""), request.GET.get("type", "contact")
        groups, error = [], ""
        if query:
            try:
                query, type_, terms = search_validate(query=query, type_=type_)
            except ApplicationError as exc:
                error = exc.message
            else:
                page = search_run(
                    organization=organization, sources=sources, query=query, type_=type_, terms=terms,
                    limit=RESULTS_PER_SOURCE, offset=0,
                )  # fmt: skip
                groups = [
                    {"source": key, "rows": [_link(row, key) for row in rows], "more": page.has_more[key]}
                    for key, rows in page.results.items()
                ]
        return TemplateResponse(
            request,
            "admin/crm_sync/crmdata/page.html",
            {
                **self.admin_site.each_context(request),
                "title": "CRM data",
                "opts": self.opts,
                "organization": organization,
                "organizations": organizations,
                "query": query,
                "type": type_,
                "error": error,
                "groups": groups,
                "sources": [{"key": s.key, "local": s.is_local, "state": statuses[s.key]} for s in sources],
                "can_sync": self.has_change_permission(request),
            },
        )


admin.site.register(CrmData, CrmDataAdmin)
