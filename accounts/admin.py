from django.contrib import admin, messages
from django.utils.translation import ngettext
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.actors import Actor
from accounts.models import AuditEvent, Membership, Organization, OrganizationAPIKey
from accounts.services import api_key_revoke, organization_create

admin.site.site_header = "CRM Sync Hub"
admin.site.site_title = "CRM Sync Hub"

# The library's own unscoped key model is unused here: keys always belong to an organization.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class MemberOrganizationListFilter(admin.RelatedFieldListFilter):
    """ "By organization" offering only the organizations the user may see.

    Django's related filter lists every row of the related model, which would name every
    customer organization to any staff user.
    """

    def field_choices(self, field, request, model_admin):
        organizations = Organization.objects.order_by("name")
        if not request.user.is_superuser:
            organizations = organizations.filter(memberships__user=request.user)
        return [(organization.pk, str(organization)) for organization in organizations]


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Admin base for rows that belong to an organization.

    A staff user who is not a superuser sees and edits only rows of organizations they
    are a member of; `organization_path` says how to reach the organization from a row.
    """

    organization_path = "organization"

    def member_organizations(self, request):
        return Organization.objects.filter(memberships__user=request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_path}__memberships__user": request.user}).distinct()

    def get_list_filter(self, request):
        return [
            (entry, MemberOrganizationListFilter)
            if entry in ("organization", self.organization_path)
            else entry
            for entry in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization" and not request.user.is_superuser:
            kwargs["queryset"] = self.member_organizations(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(memberships__user=request.user)

    def save_model(self, request, obj, form, change):
        """A new organization goes through the service (audited); a non-superuser creator becomes
        its owner, or they could not see what they just made."""
        if change:
            return super().save_model(request, obj, form, change)
        saved = organization_create(name=obj.name, slug=obj.slug, actor=Actor.for_user(request.user))
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            Membership.objects.get_or_create(
                organization=form.instance, user=request.user, defaults={"role": Membership.Role.OWNER}
            )


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(OrganizationScopedAdmin, APIKeyModelAdmin):
    """Lists and revokes keys. A new key is shown once, in the message after saving; never again."""

    list_display = [
        "prefix",
        "name",
        "organization",
        "scopes",
        "created",
        "expiry_date",
        "_has_expired",
        "revoked",
        "request_count",
        "last_used_at",
    ]
    list_filter = ["organization", "revoked", "created"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["prefix", "request_count", "last_used_at", "created_by", "created"]
        if obj is not None:
            readonly += ["organization", "revoked"]
        return readonly

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset):
        actor = Actor.for_user(request.user)
        revoked = 0
        for api_key in queryset.select_related("organization").filter(revoked=False):
            api_key_revoke(api_key=api_key, actor=actor)
            revoked += 1
        self.message_user(
            request, ngettext("%d key revoked.", "%d keys revoked.", revoked) % revoked, messages.SUCCESS
        )


@admin.register(AuditEvent)
class AuditEventAdmin(OrganizationScopedAdmin):
    list_display = ["created_at", "organization", "action", "object_type", "object_id", "actor_label"]
    list_filter = ["organization", "action", "object_type", "actor_type"]
    search_fields = ["object_id", "actor_label", "action"]
    date_hierarchy = "created_at"
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
