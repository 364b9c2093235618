"""Settings of the integrations app. Every variable read here is listed in .env.example."""

from urllib.parse import urlsplit

from config.env import env

# ------------------------------------------------------------------------------
# Connector registry (integrations/registry.py). Dotted paths of every connector class;
# a path that does not import stops start-up with ImproperlyConfigured, so add a path only
# when its class exists. Each connector helper appends its own line here.
# ------------------------------------------------------------------------------
CRM_CONNECTORS = [
    "integrations.connectors.hubspot.HubSpotConnector",
    "integrations.connectors.brevo.BrevoConnector",
    "integrations.connectors.mautic.MauticConnector",
    "integrations.connectors.n8n.N8nConnector",
    "integrations.connectors.rest.RestConnector",
    "integrations.connectors.brivity.BrivityConnector",
    "integrations.connectors.topproducer.TopProducerConnector",
]

# ------------------------------------------------------------------------------
# The HTTP client under every connector (integrations/http.py).
# ------------------------------------------------------------------------------
# Seconds to open a TCP/TLS connection, and to wait for a response, on every CRM call.
CRM_HTTP_CONNECT_TIMEOUT = env.float("CRM_HTTP_CONNECT_TIMEOUT", default=5.0)
CRM_HTTP_READ_TIMEOUT = env.float("CRM_HTTP_READ_TIMEOUT", default=30.0)
# Retries of a failed connection attempt (never of a sent request), idempotent methods only.
CRM_HTTP_CONNECT_RETRIES = env.int("CRM_HTTP_CONNECT_RETRIES", default=2)

# ------------------------------------------------------------------------------
# Rate limits (integrations/ratelimit.py). Shared by every worker through Redis when
# CACHE_URL (or CRM_RATE_LIMIT_REDIS_URL) is redis://; process-local otherwise.
# ------------------------------------------------------------------------------
CRM_RATE_LIMIT_REDIS_URL = env("CRM_RATE_LIMIT_REDIS_URL", default="")
# Longest a call waits for a rate-limit slot before giving up with rate_limited (seconds).
CRM_RATE_LIMIT_MAX_WAIT = env.float("CRM_RATE_LIMIT_MAX_WAIT", default=30.0)

# ------------------------------------------------------------------------------
# Credentials from the environment, for the default organization's connections whose
# stored credentials are empty (integrations/selectors.py connection_credentials).
# Keys are the credential field names each connector reads; empty values are ignored.
# ------------------------------------------------------------------------------
CRM_ENV_CREDENTIALS = {
    "hubspot": {
        "access_token": env("HUBSPOT_ACCESS_TOKEN", default=""),
        "client_id": env("HUBSPOT_CLIENT_ID", default=""),
        "client_secret": env("HUBSPOT_CLIENT_SECRET", default=""),
        "refresh_token": env("HUBSPOT_REFRESH_TOKEN", default=""),
    },
    "brevo": {"api_key": env("BREVO_API_KEY", default="")},
    "mautic": {
        "username": env("MAUTIC_USERNAME", default=""),
        "password": env("MAUTIC_PASSWORD", default=""),
    },
    "n8n": {
        "auth_header": env("N8N_AUTH_HEADER", default=""),
        "signing_secret": env("N8N_SIGNING_SECRET", default=""),
    },
    "brivity": {"api_token": env("BRIVITY_API_TOKEN", default="")},
    "topproducer": {
        "client_id": env("TOPPRODUCER_CLIENT_ID", default=""),
        "client_secret": env("TOPPRODUCER_CLIENT_SECRET", default=""),
    },
}
# Base URLs from the environment, for the default organization's connections with no base_url.
CRM_ENV_BASE_URLS = {
    "mautic": env("MAUTIC_BASE_URL", default=""),
    "n8n": env("N8N_WEBHOOK_URL", default=""),
}

# The port `make run PORT=...` serves on (runstack's address): the one knob that moves the embedded
# service, so the demo connections' sandbox URL and the outbound allow-list below follow it.
PORT = env.int("PORT", default=8000)
# Where bootstrap_demo points the demo connections: the sandbox CRMs of this server.
CRM_SANDBOX_BASE_URL = env("CRM_SANDBOX_BASE_URL", default=f"http://127.0.0.1:{PORT}/sandbox")

# ------------------------------------------------------------------------------
# Outbound targets (integrations/outbound.py): where a connection may send its credentials.
# ------------------------------------------------------------------------------
# Private, loopback and other non-public targets the client may call (and over plain http):
# entries `host`, `host:port`, `[v6]:port`, `a.b.c.d` or a network `10.0.0.0/8`, comma-separated.
# The embedded default lists this server's own sandbox (CRM_SANDBOX_BASE_URL), so `make run`
# can sync with it; production lists nothing unless the operator does.
_sandbox = urlsplit(CRM_SANDBOX_BASE_URL)
_sandbox_host = f"[{_sandbox.hostname}]" if ":" in (_sandbox.hostname or "") else _sandbox.hostname
_sandbox_target = f"{_sandbox_host}:{_sandbox.port or (443 if _sandbox.scheme == 'https' else 80)}"
_sandbox_on = env.bool("SANDBOX_ENABLED", default=env.bool("DJANGO_DEBUG", default=True))
CRM_ALLOWED_PRIVATE_TARGETS = env.list(
    "CRM_ALLOWED_PRIVATE_TARGETS", default=[_sandbox_target] if _sandbox_on else []
)
# Plain http to public hosts (off: https only; listed private targets may always use http).
CRM_OUTBOUND_ALLOW_HTTP = env.bool("CRM_OUTBOUND_ALLOW_HTTP", default=False)
# Further hosts any kind may call, hosted CRMs included (HubSpot and Brevo are otherwise limited
# to their own API hosts): e.g. a regional API host. Comma-separated host names.
CRM_OUTBOUND_EXTRA_HOSTS = env.list("CRM_OUTBOUND_EXTRA_HOSTS", default=[])
