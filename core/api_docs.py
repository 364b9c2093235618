"""Who may read the OpenAPI schema and the Swagger UI: everyone, or per API_DOCS_PUBLIC."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    """Public when API_DOCS_PUBLIC; otherwise any valid API key, or a staff user's session."""

    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        from accounts.authentication import ApiKeyPrincipal

        return isinstance(user, ApiKeyPrincipal) or bool(user.is_staff)
