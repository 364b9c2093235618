"""Seed the daily beat schedule of properties.sync_definitions, without overwriting admin edits."""

from django.db import migrations

TASK_NAME = "properties: sync definitions to CRMs (daily)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # Daily at 03:17 UTC, off the hour to stagger with other jobs: https://crontab.guru/#17_3_*_*_*
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="17", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "properties.sync_definitions",
            "crontab": crontab,
            "queue": "maintenance",
            "expire_seconds": 36 * 3600,  # 1.5x the period: a stale message is dropped, not run late
            "description": "Push every organization's property definitions to each CRM that syncs properties.",
        },
    )
    if created:
        from django.utils import timezone

        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task="properties.sync_definitions").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("properties", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
