"""Default beat schedules of the sync engine, as data. A data migration seeds them with
get_or_create, so an admin's edits (interval, enabled) are never overwritten.

Each entry: name, task, either `interval_seconds` (under a minute) or `crontab`,
`expire_seconds` (about 1.5x the period, so a backlog of ticks cannot pile up), queue,
optional `kwargs`, why.
"""

import json

# Every 30 s, one per queue: the worker that takes it records a heartbeat row for its queue
# (core.tasks.heartbeat). /healthz and the "Worker heartbeats" admin page read them: a fresh
# row proves beat is sending and the queue has a live consumer. Expires before the next one.
HEARTBEAT_QUEUES = ["default", "push", "pull", "maintenance"]
HEARTBEAT_SCHEDULES = [
    {
        "name": f"core: heartbeat via the {queue} queue",
        "task": "core.heartbeat",
        "interval_seconds": 30,
        "expire_seconds": 25,
        "queue": queue,
        "kwargs": {"queue": queue},
    }
    for queue in HEARTBEAT_QUEUES
]

DEFAULT_SCHEDULES = [
    {
        # Every 5 s: finds connections with due rows and starts push tasks; each connection
        # is still dispatched at most once per its own push_interval_seconds.
        "name": "crm_sync: dispatch due pushes",
        "task": "crm_sync.dispatch_due_pushes",
        "interval_seconds": 5,
        "expire_seconds": 8,
        "queue": "push",
    },
    {
        # Every 30 s: starts the pulls that are due; each (connection, object type) is still
        # pulled at most once per its connection's pull_interval_seconds.
        "name": "crm_sync: dispatch due pulls",
        "task": "crm_sync.pull_dispatch_due",
        "interval_seconds": 30,
        "expire_seconds": 45,
        "queue": "pull",
    },
    {
        # */2 * * * * (https://crontab.guru/#*/2_*_*_*_*): returns rows whose worker died
        # to the queue once their lease (SYNC_PROCESSING_LEASE_SECONDS) has run out.
        "name": "crm_sync: reap stale processing",
        "task": "crm_sync.reap_stale_processing",
        "crontab": {
            "minute": "*/2",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
        },
        "expire_seconds": 180,
        "queue": "maintenance",
    },
    {
        # 17 * * * * (https://crontab.guru/#17_*_*_*_*): deletes sync states whose contact was
        # removed outside Django's cascade (the contact reference is not a DB constraint).
        "name": "crm_sync: sweep orphan states",
        "task": "crm_sync.sweep_orphan_states",
        "crontab": {
            "minute": "17",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
        },
        "expire_seconds": 5400,
        "queue": "maintenance",
    },
    *HEARTBEAT_SCHEDULES,
    {
        # Every 60 s: measures each connection's alert rule (error rate, oldest queued, paused,
        # daily quota) and sends one alert per crossing, one recovery per clearing.
        "name": "crm_sync: evaluate alerts",
        "task": "crm_sync.evaluate_alerts",
        "interval_seconds": 60,
        "expire_seconds": 90,
        "queue": "maintenance",
    },
    {
        # Every 60 s: counts each connection's contacts by status for the dashboard, which then
        # renders from the snapshot instead of counting a million rows per page view.
        "name": "crm_sync: dashboard snapshot",
        "task": "crm_sync.dashboard_snapshot_refresh",
        "interval_seconds": 60,
        "expire_seconds": 90,
        "queue": "maintenance",
    },
    {
        # Every 10 s: sends webhook deliveries whose retry time has come (new events nudge it
        # at once; this catches retries, resumed subscriptions and lost nudges).
        "name": "webhooks: deliver due",
        "task": "webhooks.deliver_due",
        "interval_seconds": 10,
        "expire_seconds": 15,
        "queue": "maintenance",
    },
    {
        # 43 3 * * * (https://crontab.guru/#43_3_*_*_*): deletes contact timeline rows older than
        # SYNC_EVENT_RETENTION_DAYS, once a day at a quiet hour.
        "name": "crm_sync: sweep sync events",
        "task": "crm_sync.sweep_sync_events",
        "crontab": {
            "minute": "43",
            "hour": "3",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
        },
        "expire_seconds": 3600,
        "queue": "maintenance",
    },
]


def schedules_seed(*, apps=None) -> list[str]:
    """Create missing default schedules; return the names created. Existing rows stay as edited."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    created_names = []
    for entry in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=entry["name"]).exists():
            continue
        defaults = {"task": entry["task"], "queue": entry["queue"], "expire_seconds": entry["expire_seconds"]}
        if "kwargs" in entry:
            defaults["kwargs"] = json.dumps(entry["kwargs"])
        if "interval_seconds" in entry:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry["interval_seconds"], period="seconds"
            )
            defaults["interval"] = interval
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **entry["crontab"])
            defaults["crontab"] = crontab
        PeriodicTask.objects.get_or_create(name=entry["name"], defaults=defaults)
        created_names.append(entry["name"])
    if created_names:
        # What PeriodicTasks.update_changed() does; historical models lack the classmethod.
        from django.utils import timezone

        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
    return created_names
