"""Seed the per-queue heartbeat schedules (crm_sync/schedules.py) without touching edited schedules."""

from django.db import migrations


def seed(apps, schema_editor):
    from crm_sync.schedules import schedules_seed

    schedules_seed(apps=apps)


def unseed(apps, schema_editor):
    from crm_sync.schedules import HEARTBEAT_SCHEDULES

    names = [entry["name"] for entry in HEARTBEAT_SCHEDULES]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0006_pull_dispatch_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
