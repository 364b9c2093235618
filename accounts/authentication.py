"""API-key authentication: `Authorization: Api-Key <key>` or `Authorization: Bearer <key>`.

A request is bound to the key's organization. Staff using sessions (admin, browsable
API) are bound to an organization they are a member of.
"""

from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.auth_failures import api_key_failure_record, api_key_failures_check
from accounts.models import Membership, Organization, OrganizationAPIKey

SCHEMES = ("api-key", "bearer")


class ApiKeyPrincipal:
    """Stands in for request.user when an API key authenticated the request."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: OrganizationAPIKey):
        self.api_key = api_key
        self.organization = api_key.organization

    def __str__(self) -> str:
        return f"api_key:{self.api_key.prefix}"

    def get_username(self) -> str:
        return str(self)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        api_key_failures_check(request)
        try:
            api_key = self._key_from_header(header)
        except exceptions.AuthenticationFailed:
            api_key_failure_record(request)
            raise
        OrganizationAPIKey.objects.filter(pk=api_key.pk).update(
            request_count=F("request_count") + 1, last_used_at=timezone.now()
        )
        return ApiKeyPrincipal(api_key), api_key

    def _key_from_header(self, header: str) -> OrganizationAPIKey:
        parts = header.split()
        if not parts or parts[0].lower() not in SCHEMES:
            raise exceptions.AuthenticationFailed(
                "Unsupported Authorization header; send 'Api-Key <key>' or 'Bearer <key>'.",
                code="invalid_authorization_header",
            )
        if len(parts) != 2 or "." not in parts[1]:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Api-Key <key>' or 'Bearer <key>'.",
                code="invalid_authorization_header",
            )
        return self._key_for(parts[1])

    @staticmethod
    def _key_for(raw_key: str) -> OrganizationAPIKey:
        prefix = raw_key.partition(".")[0]
        api_key = OrganizationAPIKey.objects.select_related("organization").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(raw_key):
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.", code="api_key_expired")
        return api_key

    def authenticate_header(self, request) -> str:
        return 'Api-Key realm="api"'


def request_organization(request) -> Organization | None:
    """The organization a request acts for; cached on the request.

    Session users choose with the X-Organization header (a slug) among their memberships;
    without it they get their first one. Superusers may choose any organization.
    """
    if hasattr(request, "_organization"):
        return request._organization
    user = request.user
    organization = None
    if isinstance(user, ApiKeyPrincipal):
        organization = user.organization
    elif getattr(user, "is_authenticated", False):
        slug = request.headers.get("X-Organization") or request.GET.get("organization")
        candidates = Organization.objects.all()
        if not user.is_superuser:
            candidates = candidates.filter(memberships__user=user)
        if slug:
            candidates = candidates.filter(slug=slug)
        organization = candidates.order_by("id").first()
    request._organization = organization
    return organization


def session_user_role(user, organization: Organization) -> str | None:
    if user.is_superuser:
        return Membership.Role.OWNER
    return (
        Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    )
