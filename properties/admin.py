from django.contrib import admin, messages
from django.utils.translation import ngettext

from accounts.actors import Actor
from accounts.admin import OrganizationScopedAdmin
from accounts.services import audit_record
from properties.models import PropertyDefinition, PropertySyncResult, PropertySyncRun


@admin.register(PropertyDefinition)
class PropertyDefinitionAdmin(OrganizationScopedAdmin):
    list_display = [
        "name",
        "label",
        "object_type",
        "type",
        "field_type",
        "group_name",
        "organization",
        "updated_at",
    ]
    list_filter = ["organization", "object_type", "type", "group_name"]
    search_fields = ["name", "label", "description"]
    list_select_related = ["organization"]
    ordering = ["organization", "object_type", "display_order", "name"]
    actions = ["sync_to_crm"]

    def get_readonly_fields(self, request, obj=None):
        # The name is the CRM's key: it cannot change once the property exists.
        return ["created_at", "updated_at"] + (["organization", "object_type", "name"] if obj else [])

    def save_model(self, request, obj, form, change):
        # The form ran model.clean() (every rule); record the write like the API does.
        super().save_model(request, obj, form, change)
        audit_record(
            organization=obj.organization,
            actor=Actor.for_user(request.user),
            action="property_definition.update" if change else "property_definition.create",
            object_type="property_definition",
            object_id=obj.pk,
            changes={name: form.cleaned_data.get(name) for name in form.changed_data},
        )

    def delete_model(self, request, obj):
        audit_record(
            organization=obj.organization,
            actor=Actor.for_user(request.user),
            action="property_definition.delete",
            object_type="property_definition",
            object_id=obj.pk,
            changes={"name": obj.name, "object_type": obj.object_type},
        )
        super().delete_model(request, obj)

    @admin.action(description="Sync definitions to CRM")
    def sync_to_crm(self, request, queryset):
        from properties.sync_requests import property_sync_enqueue_selected

        summary = property_sync_enqueue_selected(definitions=queryset, actor=Actor.for_user(request.user))
        queued = summary["queued"]
        self.message_user(
            request,
            ngettext("%d property sync queued.", "%d property syncs queued.", queued) % queued,
            messages.SUCCESS if queued else messages.WARNING,
        )
        if summary["busy"]:
            self.message_user(
                request, "Already syncing (skipped): " + ", ".join(summary["busy"]), messages.WARNING
            )
        if summary["no_connection"]:
            self.message_user(
                request,
                "No enabled CRM connection that syncs properties for: " + ", ".join(summary["no_connection"]),
                messages.WARNING,
            )


class PropertySyncResultInline(admin.TabularInline):
    model = PropertySyncResult
    extra = 0
    can_delete = False
    fields = ["name", "label", "sync_status", "remote_id", "error_category", "error", "differences"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PropertySyncRun)
class PropertySyncRunAdmin(OrganizationScopedAdmin):
    list_display = [
        "id",
        "created_at",
        "organization",
        "crm",
        "object_type",
        "status",
        "trigger",
        "created_count",
        "updated_count",
        "skipped_count",
        "failed_count",
        "api_calls",
        "duration_ms",
    ]
    list_filter = ["organization", "crm", "object_type", "status", "trigger"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    inlines = [PropertySyncResultInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
