"""Scope checks: GET needs `read`, other methods `write`, unless a view says otherwise.

A view narrows or widens this with `scope_by_action = {"retry": "sync", ...}` (viewset
actions) or `read_scope` / `write_scope`.
"""

from rest_framework import exceptions, permissions

from accounts.authentication import ApiKeyPrincipal, request_organization, session_user_role
from accounts.models import Membership, Scope

ROLE_SCOPES = {
    Membership.Role.OWNER: {Scope.READ, Scope.WRITE, Scope.SYNC, Scope.ADMIN},
    Membership.Role.ADMIN: {Scope.READ, Scope.WRITE, Scope.SYNC, Scope.ADMIN},
    Membership.Role.MEMBER: {Scope.READ, Scope.WRITE, Scope.SYNC},
    Membership.Role.VIEWER: {Scope.READ},
}


def required_scope(request, view) -> str:
    action = getattr(view, "action", None)
    by_action = getattr(view, "scope_by_action", {})
    if action in by_action:
        return by_action[action]
    if request.method in permissions.SAFE_METHODS:
        return getattr(view, "read_scope", Scope.READ)
    return getattr(view, "write_scope", Scope.WRITE)


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class HasOrganizationScope(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False  # DRF turns this into 401 with the API-key challenge
        scope = required_scope(request, view)
        if isinstance(user, ApiKeyPrincipal):
            granted = user.api_key.has_scope(scope)
        else:
            organization = request_organization(request)
            if organization is None:
                raise exceptions.PermissionDenied(
                    "Your account is not a member of any organization.", code="no_organization"
                )
            role = session_user_role(user, organization)
            granted = role is not None and scope in ROLE_SCOPES[role]
        if not granted:
            raise InsufficientScope(f"This request needs the '{scope}' scope.")
        return True
