import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_everything_answers():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "cache": "ok"}


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
