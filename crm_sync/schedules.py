"""Default beat schedules of the sync engine, as data. A data migration seeds them with
get_or_create, so an admin's edits (interval, enabled) are never overwritten.

Each entry: name, task, either `interval_seconds` (under a minute) or `crontab`,
`expire_seconds` (about 1.5x the period, so a backlog of ticks cannot pile up), queue, why.
"""

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
