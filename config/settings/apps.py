"""Settings shared across apps. App-specific settings live in config/settings/<app>.py."""

from config.env import env

# ------------------------------------------------------------------------------
# accounts
# ------------------------------------------------------------------------------
# Name of the organization that bootstrap_demo creates and that environment credentials belong to.
DEFAULT_ORGANIZATION_SLUG = env("DEFAULT_ORGANIZATION_SLUG", default="demo")

# The sandbox CRMs at /sandbox/<kind>/: on in the embedded default (DEBUG), off in production.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=env.bool("DJANGO_DEBUG", default=True))
