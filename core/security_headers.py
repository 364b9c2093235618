"""Content-Security-Policy on every response.

Django 5.2 has no CSP of its own (6.0 adds one, configured by the same SECURE_CSP dict); the
policy here is one fixed header with no nonces, which a dozen lines do without a dependency.
"""

from django.conf import settings


def csp_header_value(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Set SECURE_CSP as the Content-Security-Policy header, unless a view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = csp_header_value(settings.SECURE_CSP) if settings.SECURE_CSP else ""

    def __call__(self, request):
        response = self.get_response(request)
        if self.value and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.value
        return response
