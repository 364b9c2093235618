"""Celery: a file broker under var/ by default (no server), Redis in production.

The database row is the queue (crm_sync); broker messages are nudges, so a lost one
only delays work until the next dispatcher tick.
"""

from kombu import Queue

from config.env import VAR_DIR, env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

if CELERY_BROKER_URL.startswith("filesystem://"):
    _BROKER_DIR = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than the hard time limit, so a running task is never redelivered under it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

CELERY_TASK_ACKS_LATE = True  # redeliver if a worker dies mid-task (tasks are idempotent)
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # also on SIGKILL/OOM; attempt caps in the DB stop loops
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # with acks_late a worker holds only what it runs
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_IGNORE_RESULT = True  # state lives in the database, never in a result backend
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every queue the project routes to. Declared, so a plain `celery -A config worker` (no -Q)
# consumes all of them; a worker given -Q still takes only those. Beat sends a heartbeat to
# each (crm_sync/schedules.py) and /healthz reports each.
WORKER_QUEUES = ["default", "push", "pull", "maintenance"]
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in WORKER_QUEUES]
CELERY_TASK_ROUTES = {
    "crm_sync.push_*": {"queue": "push"},
    "crm_sync.dispatch_*": {"queue": "push"},
    "crm_sync.pull_*": {"queue": "pull"},
    "crm_sync.reap_*": {"queue": "maintenance"},
    "crm_sync.sweep_*": {"queue": "maintenance"},
    "properties.*": {"queue": "maintenance"},
    "contacts.*": {"queue": "maintenance"},
    # Deliveries are short HTTP calls with their own lease; they share the maintenance queue.
    "webhooks.*": {"queue": "maintenance"},
}
# Task events (received, started, succeeded, failed, and sent from the publisher) let Flower
# and `celery events` show live tasks. The file broker has no broadcast, so they are off there.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool(
    "CELERY_SEND_TASK_EVENTS", default=not CELERY_BROKER_URL.startswith("filesystem://")
)
CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS
# A queue's heartbeat older than this reads "stale" in /healthz and the admin (beat sends one
# to every queue each 30 s; three missed beats and a little slack).
HEALTH_HEARTBEAT_STALE_SECONDS = env.int("HEALTH_HEARTBEAT_STALE_SECONDS", default=120)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
