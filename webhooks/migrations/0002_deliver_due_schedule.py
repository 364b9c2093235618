"""Seed the webhook sender's beat schedule (crm_sync/schedules.py) without touching edited schedules."""

from django.db import migrations

NAME = "webhooks: deliver due"


def seed(apps, schema_editor):
    from crm_sync.schedules import schedules_seed

    schedules_seed(apps=apps)


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("crm_sync", "0007_record_sync_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
