"""API-key authentication: `Authorization: Api-Key <key>` or `Authorization: Bearer <key>`.

A request is bound to the key's organization. Staff using sessions (admin, browsable
API) are bound to an organization they are a member of.

The key's row (with its organization) is kept in the cache for API_KEY_CACHE_SECONDS, so a
request costs no query to authenticate; the secret is still checked against the stored hash
on every request. Every change to a key or its organization (revoking, editing, deleting)
drops the cached row (api_key_cache_forget): with a shared cache (Redis, production) or one
web process, a revoked key is refused from the next request on; several processes on a
process-local cache refuse it within API_KEY_CACHE_SECONDS. Usage is counted by
accounts.usage, in batches.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework import authentication, exceptions

from accounts.auth_failures import api_key_failure_record, api_key_failures_check
from accounts.models import Membership, Organization, OrganizationAPIKey
from accounts.usage import api_key_usage_count

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
        api_key_usage_count(key_id=api_key.pk)
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
        api_key = api_key_cached(prefix)
        if api_key is None or not api_key.is_valid(raw_key):
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.", code="api_key_expired")
        return api_key

    def authenticate_header(self, request) -> str:
        return 'Api-Key realm="api"'


def _cache_key(prefix: str) -> str:
    return f"api_key:row:{prefix}"


def api_key_cached(prefix: str) -> OrganizationAPIKey | None:
    """The key with this prefix and its organization, from the cache or the database (then cached).

    An unknown prefix is not cached: a guesser's misses cost a query each, as before.
    """
    seconds = settings.API_KEY_CACHE_SECONDS
    key = _cache_key(prefix)
    api_key = cache.get(key) if seconds else None
    if api_key is None:
        api_key = OrganizationAPIKey.objects.select_related("organization").filter(prefix=prefix).first()
        if api_key is not None and seconds:
            cache.set(key, api_key, timeout=seconds)
    return api_key


def api_key_cache_forget(*prefixes: str) -> None:
    """Drop these keys' cached rows now and again once the current transaction commits.

    Now, so this process stops using them at once; after the commit, so a request that read
    the old row between the two cannot keep it in the cache.
    """
    keys = [_cache_key(prefix) for prefix in prefixes]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


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
