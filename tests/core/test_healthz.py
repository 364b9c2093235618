import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import WorkerHeartbeat
from core.services import heartbeat_record
from core.tasks import heartbeat as heartbeat_task

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_everything_answers():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database", "broker", "cache")} == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "cache": "ok",
    }


def test_healthz_is_503_when_the_broker_is_unreachable(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"].startswith("error:")
    assert body["database"] == "ok"


def test_healthz_is_503_when_the_cache_fails(monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(cache, "get", lambda *a, **k: None)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"].startswith("error:")


# ---- workers and beat ----------------------------------------------------------------------
def test_healthz_reports_each_queue_its_worker_and_beat(settings):
    # given: fresh heartbeats of three queues (one worker), a stale one of the fourth
    for queue in ("default", "push", "pull"):
        heartbeat_record(queue=queue, hostname="celery@w1")
    old = heartbeat_record(queue="maintenance", hostname="celery@w2")
    WorkerHeartbeat.objects.filter(pk=old.pk).update(seen_at=timezone.now() - timedelta(minutes=10))
    # when
    response = Client().get("/healthz")
    # then: the web is fine (200); the background says which queue is stale and who serves the rest
    assert response.status_code == 200
    body = response.json()
    queues = body["workers"]["queues"]
    assert queues["push"]["state"] == "ok" and queues["push"]["worker"] == "celery@w1"
    assert queues["push"]["age_seconds"] < settings.HEALTH_HEARTBEAT_STALE_SECONDS
    assert queues["maintenance"]["state"] == "stale" and queues["maintenance"]["age_seconds"] >= 600
    assert body["workers"]["state"] == "stale" and body["workers"]["live"] == ["celery@w1"]
    assert body["beat"]["state"] == "ok" and body["beat"]["last_heartbeat"]
    # and: asked to count the background, the stale queue makes it 503
    strict = Client().get("/healthz?workers=1")
    assert strict.status_code == 503 and strict.json()["status"] == "degraded"


def test_healthz_without_any_heartbeat_says_never():
    body = Client().get("/healthz").json()
    assert body["beat"] == {"state": "never", "last_heartbeat": None, "age_seconds": None}
    assert body["workers"]["state"] == "never" and body["workers"]["live"] == []
    assert set(body["workers"]["queues"]) == {"default", "push", "pull", "maintenance"}
    assert Client().get("/healthz?workers=1").status_code == 503


def test_healthz_with_every_queue_fresh_passes_the_strict_check():
    for queue in ("default", "push", "pull", "maintenance"):
        heartbeat_task.apply(kwargs={"queue": queue})  # what beat's schedules send
    response = Client().get("/healthz?workers=1")
    assert response.status_code == 200, response.json()
    assert response.json()["workers"]["state"] == "ok"
    assert WorkerHeartbeat.objects.filter(queue="push").count() == 1


def test_every_queue_has_a_seeded_heartbeat_schedule(settings):
    from django_celery_beat.models import PeriodicTask

    from crm_sync.schedules import HEARTBEAT_QUEUES

    assert HEARTBEAT_QUEUES == settings.WORKER_QUEUES
    tasks = PeriodicTask.objects.filter(task="core.heartbeat")
    assert {(t.queue, json.loads(t.kwargs)["queue"], t.interval.every) for t in tasks} == {
        (queue, queue, 30) for queue in settings.WORKER_QUEUES
    }


def test_a_plain_worker_consumes_every_project_queue(settings):
    from config.celery import app

    declared = {queue.name for queue in app.amqp.queues.consume_from.values()}
    assert declared >= {"default", "push", "pull", "maintenance"}
    # and every route points at a declared queue
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= set(settings.WORKER_QUEUES)


def test_worker_heartbeats_admin_lists_queues_workers_and_beat(admin_client):
    heartbeat_record(queue="push", hostname="celery@w1")
    response = admin_client.get("/admin/core/workerheartbeat/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "celery@w1" in page and "push: ok" in page and "Beat: ok" in page
    assert "default: never" in page


def test_workers_send_task_events_for_flower_unless_the_broker_cannot_broadcast(settings):
    from config.celery import app

    broadcast = not settings.CELERY_BROKER_URL.startswith("filesystem://")
    assert app.conf.worker_send_task_events is broadcast
    assert app.conf.task_send_sent_event is broadcast
