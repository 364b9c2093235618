"""GET /metrics: who may read it, and that its figures follow the database and the HTTP calls."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from integrations.auth import NoAuth
from integrations.errors import CrmRateLimited
from integrations.http import CrmHttpClient
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory

pytestmark = pytest.mark.django_db
TOKEN = "scrape-me-7f3a"


def scrape(client=None, **headers) -> dict:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_refuse_anonymous_and_a_wrong_token(settings):
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    settings.METRICS_TOKEN = ""  # no token set: a bearer header opens nothing
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_open_to_the_token_and_to_staff(settings, admin_client, django_user_model):
    settings.METRICS_TOKEN = TOKEN
    scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    scrape(admin_client)
    user = django_user_model.objects.create_user("plain", password="x")
    plain = Client()
    plain.force_login(user)
    assert plain.get("/metrics").status_code == 403


def test_queue_depth_oldest_age_and_failures_come_from_the_database(admin_client, connection):
    # given: two queued (the oldest queued 10 minutes ago), one processing, two auth failures
    old = ContactSyncStateFactory(connection=connection, queued=True)
    type(old).objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(minutes=10))
    ContactSyncStateFactory(connection=connection, queued=True)
    ContactSyncStateFactory(connection=connection, stuck=True)
    ContactSyncStateFactory.create_batch(2, connection=connection, errored=True, error_category="auth")
    # when
    samples = scrape(admin_client)
    # then
    names = {
        "connection": str(connection.pk),
        "crm": "scripted",
        "organization": connection.organization.slug,
    }
    assert value(samples, "crm_sync_queue_depth", **names, state="queued") == 2
    assert value(samples, "crm_sync_queue_depth", **names, state="processing") == 1
    assert 600 <= value(samples, "crm_sync_oldest_queued_age_seconds", **names) < 3600
    assert value(samples, "crm_sync_failed_contacts", crm="scripted", category="auth") == 2


def test_an_idle_connection_reports_no_queue_age(admin_client, connection):
    samples = scrape(admin_client)
    assert (
        value(
            samples,
            "crm_sync_oldest_queued_age_seconds",
            connection=str(connection.pk),
            crm="scripted",
            organization=connection.organization.slug,
        )
        == 0
    )


def test_pushes_and_pulls_are_counted_from_the_run_history(admin_client, connection):
    SyncRunFactory(connection=connection, succeeded=90, failed=4, rate_limited=6)
    SyncRunFactory(connection=connection, succeeded=10)
    SyncRunFactory(connection=connection, direction="pull", fetched=50, created=20, updated=30)
    samples = scrape(admin_client)
    assert value(samples, "crm_sync_pushed_contacts_total", crm="scripted", outcome="succeeded") == 100
    assert value(samples, "crm_sync_pushed_contacts_total", crm="scripted", outcome="failed") == 4
    assert value(samples, "crm_sync_pushed_contacts_total", crm="scripted", outcome="rate_limited") == 6
    assert value(samples, "crm_sync_pulled_records_total", crm="scripted", outcome="created") == 20
    assert value(samples, "crm_sync_runs_total", crm="scripted", direction="push", outcome="success") == 2


def test_each_crm_http_call_is_timed_and_429s_are_counted(admin_client, mocked_responses):
    # given: a CRM that answers once and then rate-limits
    client = CrmHttpClient(crm="metricstest", base_url="https://crm.example.com", auth=NoAuth())
    mocked_responses.get("https://crm.example.com/ok", json={"ok": True})
    mocked_responses.get("https://crm.example.com/busy", status=429, json={"message": "slow down"})
    before = scrape(admin_client)
    # when
    client.request("GET", "/ok")
    with pytest.raises(CrmRateLimited):
        client.request("GET", "/busy", limiter=None)
    # then
    after = scrape(admin_client)

    def delta(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    count = "crm_http_request_duration_seconds_count"
    assert delta(count, crm="metricstest", method="GET", status="200") == 1
    assert delta(count, crm="metricstest", method="GET", status="429") == 1
    assert delta("crm_http_429_total", crm="metricstest") == 1
