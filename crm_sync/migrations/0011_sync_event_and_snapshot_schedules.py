"""Seed the daily sweep of the contact sync timeline and the dashboard snapshot refresh
(crm_sync/schedules.py) without overwriting edits."""

from django.db import migrations

NAMES = ["crm_sync: sweep sync events", "crm_sync: dashboard snapshot"]


def seed(apps, schema_editor):
    from crm_sync.schedules import schedules_seed

    schedules_seed(apps=apps)


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0010_connection_status_snapshot"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
