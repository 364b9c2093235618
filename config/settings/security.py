"""Security: admin lock-out (django-axes), API-key failure throttle, HTTPS headers, CSP, API docs.

Every variable read here is listed in .env.example; docs/operations.md explains each choice.
"""

from config.env import env

_DEBUG = env.bool("DJANGO_DEBUG", default=True)

# ------------------------------------------------------------------------------
# Client addresses. Behind N reverse proxies that each append to X-Forwarded-For, the client
# is the Nth address from the right; 0 (the default) trusts no header and uses REMOTE_ADDR.
# Lock-outs and throttles key on this address, so a wrong value lets a client pick its own.
# ------------------------------------------------------------------------------
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# ------------------------------------------------------------------------------
# Admin login lock-out (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user
# from one address, that pair is refused (429) for AXES_COOLOFF_TIME hours. Unlock: the admin's
# "Access attempts" (delete the row) or `manage.py axes_reset_username <user>` / `axes_reset_ip`.
# ------------------------------------------------------------------------------
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1.0)  # hours
# User and address together: one attacker cannot lock a user out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
# Passwords never reach the attempt log.
AXES_SENSITIVE_PARAMETERS = ["password"]

# ------------------------------------------------------------------------------
# Failed API-key authentications per client address: after API_KEY_FAILURE_LIMIT failures within
# API_KEY_FAILURE_WINDOW_SECONDS, every API-key request from that address is 429 until the window
# ends (counted in the cache, so Redis shares it across web processes).
# ------------------------------------------------------------------------------
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=300)
# Seconds an API key's row stays cached (accounts/authentication.py): every change drops it at
# once where the cache is shared (Redis) or there is one web process; several processes on the
# local-memory cache see a revocation within this bound. 0: read the row on every request.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=10)
# Usage (request_count, last_used_at) is counted in memory and written at most this often per
# web process, one UPDATE per key used (accounts/usage.py). 0: one UPDATE per request.
API_KEY_USAGE_FLUSH_SECONDS = env.int("API_KEY_USAGE_FLUSH_SECONDS", default=10)

# ------------------------------------------------------------------------------
# HTTPS. HSTS is on in production (a year, subdomains included) and off in the embedded default,
# which serves plain http on localhost; SECURE_SSL_REDIRECT is off because the TLS proxy redirects.
# ------------------------------------------------------------------------------
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if _DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# The load balancer's health check may speak plain http to the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# ------------------------------------------------------------------------------
# Content-Security-Policy (core.security_headers.ContentSecurityPolicyMiddleware), in the shape of
# Django 6's SECURE_CSP so the built-in can take over on upgrade. Scripts only from this origin:
# the admin, the browsable API and the Swagger UI (split view: its start-up script is a file) run
# none inline; django-celery-beat's task form does, so templates/ overrides it with a static file.
# Two inline event handlers of libraries are allowed by hash ('unsafe-hashes' covers exactly those
# strings): the browsable API's "Log out" link and django-import-export's "select all" checkbox
# (tests/security/test_headers.py fails if either changes). Inline styles stay allowed: the admin
# and Swagger UI set style attributes, and a style cannot run code.
# ------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": [
        "'self'",
        "'unsafe-hashes'",
        "'sha256-tHTC1YgZ5UbAs8E2Ib4NjuSS8R05d1nfPHtbmXq05WA='",  # DRF: the "Log out" link
        "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='",  # import-export: onSelectToggleChange(event)
    ],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# ------------------------------------------------------------------------------
# The OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/): public by default. They hold no
# data and describe the same API as the published source, and a client needs them before it has
# a key. False: the schema needs an API key or a staff session, and the docs page a staff session.
# ------------------------------------------------------------------------------
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)
