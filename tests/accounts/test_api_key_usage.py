"""API-key usage is counted in memory and written in batches, without losing a count."""

import threading
import time

import pytest
from django.db import DatabaseError
from rest_framework.test import APIClient

from accounts import usage
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_buffer():
    usage.api_key_usage_flush()
    yield
    with usage._lock:
        usage._pending.clear()


def client_with(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_requests_are_counted_in_memory_then_written_in_one_update(org, settings, django_assert_num_queries):
    settings.API_KEY_USAGE_FLUSH_SECONDS = 3600
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    for _ in range(5):
        assert client.get("/api/v1/contacts/").status_code == 200
    api_key.refresh_from_db()
    assert api_key.request_count == 0  # not written yet
    assert usage.api_key_usage_pending() == {api_key.pk: 5}
    with django_assert_num_queries(1):
        assert usage.api_key_usage_flush() == 5
    api_key.refresh_from_db()
    assert api_key.request_count == 5
    assert api_key.last_used_at is not None
    assert usage.api_key_usage_pending() == {}


def test_a_due_flush_is_written_by_the_request_that_notices(org, settings):
    settings.API_KEY_USAGE_FLUSH_SECONDS = 3600
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client = client_with(raw)
    client.get("/api/v1/contacts/")
    client.get("/api/v1/contacts/")
    settings.API_KEY_USAGE_FLUSH_SECONDS = 0  # the period has passed
    client.get("/api/v1/contacts/")
    api_key.refresh_from_db()
    assert api_key.request_count == 3
    assert usage.api_key_usage_pending() == {}


def test_a_failed_write_keeps_the_counts_for_the_next_flush(org, settings, monkeypatch):
    settings.API_KEY_USAGE_FLUSH_SECONDS = 3600
    api_key, raw = api_key_create(organization=org, name="k", scopes=["read"])
    client_with(raw).get("/api/v1/contacts/")
    client_with(raw).get("/api/v1/contacts/")
    real_write = usage._write

    def failing(*args):
        raise DatabaseError("database went away")

    monkeypatch.setattr(usage, "_write", failing)
    assert usage.api_key_usage_flush() == 0
    assert usage.api_key_usage_pending() == {api_key.pk: 2}
    client_with(raw).get("/api/v1/contacts/")  # counted meanwhile
    monkeypatch.setattr(usage, "_write", real_write)
    assert usage.api_key_usage_flush() == 3
    api_key.refresh_from_db()
    assert api_key.request_count == 3


def test_last_used_at_only_moves_forward(org):
    from datetime import timedelta

    from django.utils import timezone

    api_key, _ = api_key_create(organization=org, name="k", scopes=["read"])
    now = timezone.now()
    usage._write(api_key.pk, 1, now)
    usage._write(api_key.pk, 1, now - timedelta(minutes=5))  # a slower process's older batch
    api_key.refresh_from_db()
    assert api_key.request_count == 2
    assert api_key.last_used_at == now


def test_no_count_is_lost_or_doubled_while_flushes_run_concurrently(settings, monkeypatch):
    """Eight threads count while another flushes over and over: every count is written once."""
    settings.API_KEY_USAGE_FLUSH_SECONDS = 3600
    written: dict[str, int] = {}
    write_lock = threading.Lock()

    def record(key_id, count, last_used):
        time.sleep(0.0005)  # widen the window between taking the batch and writing it
        with write_lock:
            written[key_id] = written.get(key_id, 0) + count

    monkeypatch.setattr(usage, "_write", record)
    stop = threading.Event()

    def flusher():
        while not stop.is_set():
            usage.api_key_usage_flush()

    def counter(key_id):
        for _ in range(2000):
            usage.api_key_usage_count(key_id=key_id)

    flushing = threading.Thread(target=flusher)
    flushing.start()
    counters = [threading.Thread(target=counter, args=(f"key-{n % 3}",)) for n in range(8)]
    for thread in counters:
        thread.start()
    for thread in counters:
        thread.join()
    stop.set()
    flushing.join()
    usage.api_key_usage_flush()
    assert sum(written.values()) == 8 * 2000
    assert written == {"key-0": 3 * 2000, "key-1": 3 * 2000, "key-2": 2 * 2000}
