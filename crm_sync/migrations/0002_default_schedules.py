"""Seed the sync engine's default beat schedules (crm_sync/schedules.py) without overwriting edits."""

from django.db import migrations


def seed(apps, schema_editor):
    from crm_sync.schedules import schedules_seed

    schedules_seed(apps=apps)


def unseed(apps, schema_editor):
    """Remove only rows that still carry a default name; shared schedule rows stay."""
    from crm_sync.schedules import DEFAULT_SCHEDULES

    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[entry["name"] for entry in DEFAULT_SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
