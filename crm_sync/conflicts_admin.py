"""Admin of sync conflicts: a filtered list and a review page that resolves one.

The review page shows base, local and remote values side by side with a choice per field
(local, remote or a custom value); resolving goes through the same service as the API.
Staff who are not superusers see only their organizations' conflicts.
"""

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from core.errors import ApplicationError
from crm_sync.models import SyncConflict
from crm_sync.services.conflicts import conflict_field_value, conflict_resolve


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def custom_value_parse(text: str, *, like: list[Any]) -> Any:
    """The custom value typed for a field: JSON when the field's values are not text, else the text.

    A tag list or a numeric custom property is typed as JSON ([\"a\", \"b\"], 3); a name is typed as is.
    """
    if all(value is None or isinstance(value, str) for value in like):
        return text
    try:
        return json.loads(text)
    except ValueError:
        raise ApplicationError("Not valid JSON.", code="validation_error") from None


class SyncConflictAdmin(OrganizationScopedAdmin):
    list_display = ["id", "contact_link", "connection", "status", "field_names", "created_at", "resolved_at"]
    list_filter = ["status", "connection__kind", "organization"]
    search_fields = ["contact__email", "contact__last_name", "connection__name"]
    list_select_related = ["contact", "connection"]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Contact")
    def contact_link(self, obj: SyncConflict):
        url = reverse("admin:contacts_contact_change", args=[obj.contact_id])
        return format_html('<a href="{}">{}</a>', url, obj.contact)

    @admin.display(description="Fields")
    def field_names(self, obj: SyncConflict) -> str:
        return ", ".join(sorted(obj.fields))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review page (replaces the model form: a conflict is settled, never edited)."""
        conflict = self.get_object(request, object_id)
        if conflict is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, conflict):
            raise PermissionDenied
        contact = conflict.contact
        errors: dict[str, str] = {}
        if request.method == "POST" and conflict.status == SyncConflict.Status.OPEN:
            if not self.has_change_permission(request, conflict):
                raise PermissionDenied
            choices, errors = self._choices_from_post(request, conflict)
            if not errors:
                try:
                    resolved = conflict_resolve(
                        conflict=conflict, fields=choices, actor=Actor.for_user(request.user)
                    )
                except ApplicationError as exc:
                    details = exc.details.get("fields") if isinstance(exc.details.get("fields"), dict) else {}
                    detail_errors = {
                        k: "; ".join(map(str, v)) for k, v in exc.details.items() if k != "fields"
                    }
                    errors = {**{k: "; ".join(map(str, v)) for k, v in details.items()}, **detail_errors}
                    self.message_user(request, f"Not resolved: {exc.message}", messages.ERROR)
                else:
                    pushed = " and queued for the CRM" if resolved.pushed else ""
                    self.message_user(request, f"Conflict {resolved.pk} resolved{pushed}.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:crm_sync_syncconflict_changelist"))
        rows = []
        for name, values in sorted(conflict.fields.items()):
            picked = request.POST.get(f"choice__{name}", "local") if request.method == "POST" else "local"
            rows.append(
                {
                    "name": name,
                    "base": _shown(values.get("base")),
                    "local_then": _shown(values.get("local")),
                    "local_now": _shown(conflict_field_value(contact, name)),
                    "remote": _shown(values.get("remote")),
                    "picked": picked,
                    "custom": request.POST.get(f"custom__{name}", ""),
                    "error": errors.get(name, ""),
                    "resolution": (conflict.resolution or {}).get(name),
                }
            )
        return TemplateResponse(
            request,
            "admin/crm_sync/syncconflict/review.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Review conflict {conflict.pk}",
                "opts": self.opts,
                "conflict": conflict,
                "contact": contact,
                "rows": rows,
                "errors": {k: v for k, v in errors.items() if k not in conflict.fields},
                "can_resolve": conflict.status == SyncConflict.Status.OPEN
                and self.has_change_permission(request, conflict),
            },
        )

    def _choices_from_post(self, request, conflict: SyncConflict) -> tuple[dict, dict]:
        choices, errors = {}, {}
        for name, values in conflict.fields.items():
            picked = request.POST.get(f"choice__{name}")
            if picked in ("local", "remote"):
                choices[name] = picked
            elif picked == "custom":
                text = request.POST.get(f"custom__{name}", "")
                try:
                    like = [values.get("local"), values.get("remote")]
                    choices[name] = {"value": custom_value_parse(text, like=like)}
                except ApplicationError as exc:
                    errors[name] = exc.message
            else:
                errors[name] = "Choose local, remote or custom."
        return choices, errors


admin.site.register(SyncConflict, SyncConflictAdmin)
