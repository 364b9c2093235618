"""The client's address, as lock-outs and throttles see it."""

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost one saw.

    Each trusted proxy appends the address it received from to X-Forwarded-For, so the client
    is the Nth entry from the right; anything to its left was written by the client and is
    ignored. With no header (a request that bypassed the proxies) REMOTE_ADDR is used.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]
