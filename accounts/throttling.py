"""Per-key throttling on the cache (Redis in production, so every web process shares it)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import ApiKeyPrincipal


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def allow_request(self, request, view):
        rate = self.get_rate()
        if isinstance(request.user, ApiKeyPrincipal) and request.user.api_key.rate_limit:
            rate = request.user.api_key.rate_limit
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)
        return super().allow_request(request, view)

    def get_rate(self):
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]

    def get_cache_key(self, request, view):
        if isinstance(request.user, ApiKeyPrincipal):
            ident = f"key:{request.user.api_key.pk}"
        elif getattr(request.user, "is_authenticated", False):
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
