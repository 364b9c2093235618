"""Seed the hourly beat schedule that purges expired Idempotency-Keys, without overwriting admin edits."""

from django.db import migrations

TASK_NAME = "contacts: purge expired idempotency keys (hourly)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # Hourly at :23, off the hour to stagger with other jobs: https://crontab.guru/#23_*_*_*_*
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="23", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "contacts.purge_idempotency_keys",
            "crontab": crontab,
            "queue": "maintenance",
            "expire_seconds": 90 * 60,  # 1.5x the period: a stale message is dropped, not run late
            "description": "Delete Idempotency-Keys older than CONTACTS_IDEMPOTENCY_TTL_HOURS.",
        },
    )
    if created:
        from django.utils import timezone

        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task="contacts.purge_idempotency_keys").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
