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
# Size cap of the last request / response kept per contact and CRM (bytes of JSON).
SYNC_DEBUG_BODY_MAX_BYTES = env.int("SYNC_DEBUG_BODY_MAX_BYTES", default=8192)
