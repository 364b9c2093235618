"""Settings of the properties app. Every variable read here is listed in .env.example."""

from config.env import env

# Retries of a retriable CRM error (429, 423, 5xx, timeout) inside one property sync run.
PROPERTIES_SYNC_MAX_RETRIES = env.int("PROPERTIES_SYNC_MAX_RETRIES", default=4)
# Exponential backoff (with full jitter) when the CRM gives no Retry-After.
PROPERTIES_SYNC_BACKOFF_BASE_SECONDS = env.float("PROPERTIES_SYNC_BACKOFF_BASE_SECONDS", default=1.0)
PROPERTIES_SYNC_BACKOFF_CAP_SECONDS = env.float("PROPERTIES_SYNC_BACKOFF_CAP_SECONDS", default=20.0)
# A single wait longer than this ends the run with 429 instead of holding the request.
PROPERTIES_SYNC_MAX_WAIT_SECONDS = env.float("PROPERTIES_SYNC_MAX_WAIT_SECONDS", default=30.0)
# A run still pending/in progress after this long is considered abandoned (its worker died).
PROPERTIES_SYNC_STALE_AFTER_SECONDS = env.int("PROPERTIES_SYNC_STALE_AFTER_SECONDS", default=900)
