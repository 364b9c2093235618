"""The Celery app. Tasks are discovered in each app's tasks.py; settings use the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("crm_sync_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    """Reuse Django's LOGGING so worker lines are redacted and formatted like the web's."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
@worker_process_init.connect
def _settle_heap(**kwargs) -> None:
    """Booted (solo pool) or forked (prefork child): freeze the start-up heap, see core.heap."""
    from core.heap import heap_settle

    heap_settle()
