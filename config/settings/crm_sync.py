"""Settings of the crm_sync app. Every variable read here is listed in .env.example."""

from config.env import env

# A claimed (Processing) row older than this goes back to Queued: its worker died. Keep it
# above CELERY_TASK_TIME_LIMIT so a slow but living worker is never reaped under itself.
SYNC_PROCESSING_LEASE_SECONDS = env.int("SYNC_PROCESSING_LEASE_SECONDS", default=360)
# A push task keeps claiming batches of its connection for this long, then leaves the rest
# to the next task, so one task never nears its time limit and workers stay fair.
SYNC_PUSH_TASK_MAX_SECONDS = env.float("SYNC_PUSH_TASK_MAX_SECONDS", default=60.0)
# How many push tasks the dispatcher starts at once for one connection with a backlog.
SYNC_MAX_PARALLEL_PUSHES = env.int("SYNC_MAX_PARALLEL_PUSHES", default=4)
# Batches one push task keeps in flight at once (threads, each with its own database
# connection), so a worker process claims and writes back while it waits for the CRM.
# PostgreSQL only; on SQLite a task always pushes one batch at a time.
SYNC_PUSH_LANES = env.int("SYNC_PUSH_LANES", default=4)
# Wait this long after a 429 that carried no Retry-After.
SYNC_RATE_LIMIT_DEFAULT_WAIT_SECONDS = env.float("SYNC_RATE_LIMIT_DEFAULT_WAIT_SECONDS", default=10.0)
# Largest number of contact ids accepted by bulk-queue-sync in one request.
SYNC_BULK_QUEUE_MAX_IDS = env.int("SYNC_BULK_QUEUE_MAX_IDS", default=1000)
# A queue-all that would queue more contacts than this answers once it has decided and counted
# them, and a task writes them to the queue in chunks of the second value (one transaction each).
SYNC_QUEUE_ALL_INLINE_MAX_ROWS = env.int("SYNC_QUEUE_ALL_INLINE_MAX_ROWS", default=50000)
SYNC_QUEUE_ALL_CHUNK_ROWS = env.int("SYNC_QUEUE_ALL_CHUNK_ROWS", default=20000)
# Size cap of the last request / response kept per contact and CRM (bytes of JSON).
SYNC_DEBUG_BODY_MAX_BYTES = env.int("SYNC_DEBUG_BODY_MAX_BYTES", default=8192)
# Pull (crm_sync/services/pull.py). A running pull whose heartbeat (moved by every page) is
# older than this is taken for dead (its worker was killed) and a new pull of that source may start.
SYNC_PULL_STALE_SECONDS = env.int("SYNC_PULL_STALE_SECONDS", default=900)
# Retries of one page after a 429, timeout or outage, from the saved cursor, before the run
# ends and leaves the rest to the next scheduled pull; each wait is capped at the second value.
SYNC_PULL_PAGE_RETRIES = env.int("SYNC_PULL_PAGE_RETRIES", default=3)
SYNC_PULL_RETRY_MAX_WAIT_SECONDS = env.float("SYNC_PULL_RETRY_MAX_WAIT_SECONDS", default=30.0)
# Size caps of what a pull stores: a record's raw JSON (bytes) and one pulled text value (chars).
SYNC_PULL_RAW_MAX_BYTES = env.int("SYNC_PULL_RAW_MAX_BYTES", default=16384)
SYNC_PULL_VALUE_MAX_CHARS = env.int("SYNC_PULL_VALUE_MAX_CHARS", default=10000)
# A pull task works this long, then hands the rest to a fresh task (the cursor keeps its place).
SYNC_PULL_TASK_MAX_SECONDS = env.float("SYNC_PULL_TASK_MAX_SECONDS", default=240.0)
# Read the next page from the CRM while the current one is written (a second thread).
SYNC_PULL_PREFETCH = env.bool("SYNC_PULL_PREFETCH", default=True)
# GET /metrics (crm_sync/metrics.py): a scraper sends `Authorization: Bearer <this>`; staff users
# may also read it signed in. Empty: staff only.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# Alerts (crm_sync/services/alerts.py; thresholds per connection in the admin). Alert emails go
# out through EMAIL_URL (django-environ form, e.g. smtp+tls://user:pass@smtp.example.com:587);
# the default prints them on the worker's console, which is all the embedded mode needs.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm-sync-hub@localhost")
# Seconds an alert webhook may take to answer (connect, read).
ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=10.0)

# The contact page's sync timeline (ContactSyncEvent): rows older than this many days are swept daily.
SYNC_EVENT_RETENTION_DAYS = env.int("SYNC_EVENT_RETENTION_DAYS", default=30)
# The dashboard's per-connection counts are read from a snapshot refreshed every minute; a page
# finding one older than this counts again itself.
DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS = env.int("DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS", default=180)
