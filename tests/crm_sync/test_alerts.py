"""Alerts: one message when a threshold is crossed, one when it clears, none in between."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.errors import InvalidInput
from crm_sync import tasks
from crm_sync.models import AlertRule, ProcessingStatus
from crm_sync.services.alerts import alert_webhook_check, alerts_evaluate
from integrations.ratelimit import daily_quota_for, default_backend
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.factories import UserFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.example.com/crm-alerts"


@pytest.fixture
def connection(org):
    return CrmConnectionFactory(organization=org, kind="hubspot", name="main")


def rule_for(connection, **fields) -> AlertRule:
    values = {"emails": "ops@example.com", "webhook_url": HOOK, **fields}
    return AlertRule.objects.create(connection=connection, **values)


def failing_pushes(connection, *, now, failed=15, succeeded=5, runs=3):
    for _ in range(runs):
        SyncRunFactory(connection=connection, succeeded=succeeded, failed=failed, finished_at=now)


def hook_bodies(mocked_responses) -> list[dict]:
    return [json.loads(call.request.body) for call in mocked_responses.calls]


def test_an_error_rate_crossing_sends_one_alert_and_one_recovery_and_nothing_in_between(
    connection, mocked_responses
):
    mocked_responses.post(HOOK, json={"ok": True})
    rule_for(connection, error_rate_percent=50, error_rate_window_minutes=15, error_rate_min_attempts=20)
    now = timezone.now()
    failing_pushes(connection, now=now)  # 45 of 60 attempts failed, over many contacts

    assert alerts_evaluate(now=now) == {"rules": 1, "alerts": 1, "recoveries": 0}
    assert len(mail.outbox) == 1
    assert "Error rate" in mail.outbox[0].subject and mail.outbox[0].to == ["ops@example.com"]
    assert "45 of 60 pushes to HubSpot failed" in mail.outbox[0].body
    (alert,) = hook_bodies(mocked_responses)
    assert alert["event"] == "alert" and alert["condition"] == "error_rate"
    assert alert["connection"] == {"id": connection.pk, "kind": "hubspot", "name": "main"}

    # Still failing, a minute and then ten minutes later: no second alert.
    for minutes in (1, 10):
        failing_pushes(connection, now=now + timedelta(minutes=minutes), runs=1)
        assert alerts_evaluate(now=now + timedelta(minutes=minutes))["alerts"] == 0
    assert len(mail.outbox) == 1 and len(mocked_responses.calls) == 1

    # The failures leave the window: one recovery, then silence.
    later = now + timedelta(minutes=40)
    assert alerts_evaluate(now=later) == {"rules": 1, "alerts": 0, "recoveries": 1}
    assert alerts_evaluate(now=later + timedelta(minutes=1))["recoveries"] == 0
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("[CRM Sync Hub] Recovered: Error rate")
    assert [body["event"] for body in hook_bodies(mocked_responses)] == ["alert", "recovery"]
    assert AlertRule.objects.get().firing == {}


def test_below_the_threshold_or_with_too_few_attempts_nothing_is_sent(connection):
    rule_for(connection, webhook_url="", error_rate_percent=50, error_rate_min_attempts=20)
    now = timezone.now()
    failing_pushes(connection, now=now, failed=5, succeeded=15)  # 25%
    SyncRunFactory(connection=CrmConnectionFactory(organization=connection.organization), failed=99)
    assert alerts_evaluate(now=now)["alerts"] == 0
    AlertRule.objects.update(error_rate_percent=20)
    assert alerts_evaluate(now=now)["alerts"] == 1
    other = CrmConnectionFactory(
        organization=connection.organization, kind="brevo", base_url="https://api.brevo.com/v3"
    )
    rule_for(other, webhook_url="", error_rate_percent=10, error_rate_min_attempts=20)
    SyncRunFactory(connection=other, failed=10, succeeded=0, finished_at=now)  # 10 attempts: too few
    assert alerts_evaluate(now=now)["alerts"] == 0
    assert len(mail.outbox) == 1


def test_an_old_queued_contact_alerts_once_and_recovers_when_pushed(connection):
    rule_for(connection, webhook_url="", queue_age_minutes=30)
    now = timezone.now()
    state = ContactSyncStateFactory(
        connection=connection,
        queued=True,
        queued_at=now - timedelta(hours=2),
        due_at=now - timedelta(hours=2),
    )
    ContactSyncStateFactory.create_batch(
        5,
        connection=connection,
        queued=True,
        queued_at=now - timedelta(hours=3),
        due_at=now + timedelta(hours=1),
    )
    assert alerts_evaluate(now=now)["alerts"] == 1
    assert "has waited 120 min" in mail.outbox[0].body
    assert alerts_evaluate(now=now)["alerts"] == 0
    state.processing_status = ProcessingStatus.COMPLETE
    state.save()
    # The rows backing off until later wait on no one: they do not keep the alert up.
    assert alerts_evaluate(now=now)["recoveries"] == 1
    assert len(mail.outbox) == 2


def test_a_paused_connection_alerts_with_what_to_do_and_recovers_on_resume(connection):
    rule_for(connection, webhook_url="")
    connection.circuit_state = "open"
    connection.circuit_reason = "authentication failed (HTTP 401)"
    connection.save()
    assert alerts_evaluate()["alerts"] == 1
    assert "HubSpot is paused: authentication failed (HTTP 401)" in mail.outbox[0].body
    assert "Resume" in mail.outbox[0].body
    assert AlertRule.objects.get().firing.keys() == {"paused"}
    connection.circuit_state = "closed"
    connection.save()
    assert alerts_evaluate()["recoveries"] == 1
    assert alerts_evaluate() == {"rules": 1, "alerts": 0, "recoveries": 0}


def test_a_daily_quota_nearly_spent_or_held_alerts(connection):
    connection.settings = {"daily_quota": 100}
    connection.save()
    rule_for(connection, webhook_url="", quota_used_percent=90)
    default_backend().reset()
    quota = daily_quota_for(connection, default_limit=None)
    quota.consume(89)
    assert alerts_evaluate()["alerts"] == 0
    quota.consume(3)
    assert alerts_evaluate()["alerts"] == 1
    assert "92 of 100 daily API calls used (92%)" in mail.outbox[0].body
    default_backend().reset()
    assert alerts_evaluate()["recoveries"] == 1

    connection.quota_exhausted_until = timezone.now() + timedelta(hours=3)
    connection.save()
    assert alerts_evaluate()["alerts"] == 1
    assert "daily API limit is spent until" in mail.outbox[2].body


def test_an_undelivered_alert_is_tried_again_next_tick_not_lost(connection, mocked_responses):
    mocked_responses.post(HOOK, status=503)
    rule_for(connection, emails="")
    connection.circuit_state = "open"
    connection.save()
    assert alerts_evaluate()["alerts"] == 0
    rule = AlertRule.objects.get()
    assert rule.firing == {} and rule.last_delivery_error == "webhook: HTTP 503"
    mocked_responses.replace("POST", HOOK, json={})
    assert alerts_evaluate()["alerts"] == 1
    assert AlertRule.objects.get().last_delivery_error == ""
    assert alerts_evaluate()["alerts"] == 0
    assert len(mocked_responses.calls) == 2


def test_one_working_channel_is_enough_and_the_failure_is_kept(connection, mocked_responses):
    mocked_responses.post(HOOK, status=500)
    rule_for(connection)
    connection.circuit_state = "open"
    connection.save()
    assert alerts_evaluate()["alerts"] == 1
    assert len(mail.outbox) == 1
    assert AlertRule.objects.get().last_delivery_error == "webhook: HTTP 500"
    assert alerts_evaluate()["alerts"] == 0


def test_a_webhook_to_a_private_address_is_refused_at_save_and_at_send(connection, mocked_responses):
    with pytest.raises(InvalidInput) as refused:
        alert_webhook_check("http://10.1.2.3/hook")
    assert refused.value.code == "invalid_webhook_url"
    with pytest.raises(InvalidInput):
        alert_webhook_check("https://user:pw@hooks.example.com/x")
    alert_webhook_check(HOOK)
    rule_for(connection, emails="", webhook_url="http://10.1.2.3/hook")  # saved around the admin's check
    connection.circuit_state = "open"
    connection.save()
    assert alerts_evaluate()["alerts"] == 0
    assert "CRM_ALLOWED_PRIVATE_TARGETS" in AlertRule.objects.get().last_delivery_error
    assert len(mocked_responses.calls) == 0


def test_switching_a_condition_off_clears_it_with_a_recovery(connection):
    rule_for(connection, webhook_url="")
    connection.circuit_state = "open"
    connection.save()
    alerts_evaluate()
    AlertRule.objects.update(alert_when_paused=False)
    assert alerts_evaluate()["recoveries"] == 1


def test_disabled_rules_and_connections_are_not_evaluated(connection):
    rule_for(connection, webhook_url="", enabled=False)
    connection.circuit_state = "open"
    connection.save()
    assert alerts_evaluate() == {"rules": 0, "alerts": 0, "recoveries": 0}
    AlertRule.objects.update(enabled=True)
    connection.enabled = False
    connection.save()
    assert alerts_evaluate()["rules"] == 0 and mail.outbox == []


def test_the_task_evaluates_and_beat_runs_it_every_minute(connection):
    rule_for(connection, webhook_url="")
    connection.circuit_state = "open"
    connection.save()
    assert tasks.evaluate_alerts.apply().get()["alerts"] == 1
    task = PeriodicTask.objects.get(name="crm_sync: evaluate alerts")
    assert (
        task.task == "crm_sync.evaluate_alerts" and task.interval.every == 60 and task.queue == "maintenance"
    )


def _form(connection, **overrides):
    return {
        "connection": connection.pk,
        "enabled": "on",
        "emails": "ops@example.com",
        "webhook_url": "",
        "error_rate_percent": 20,
        "error_rate_window_minutes": 15,
        "error_rate_min_attempts": 20,
        "queue_age_minutes": 30,
        "alert_when_paused": "on",
        "quota_used_percent": 90,
        **overrides,
    }


def test_the_admin_creates_a_rule_and_refuses_bad_channels(connection):
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    url = reverse("admin:crm_sync_alertrule_add")
    assert client.get(url).status_code == 200
    bad_mail = client.post(url, _form(connection, emails="ops@example.com, not-an-address"))
    assert "Not email addresses: not-an-address" in bad_mail.content.decode()
    private = client.post(url, _form(connection, webhook_url="http://192.168.1.5/hook"))
    assert "webhook_url is not allowed" in private.content.decode()
    nothing = client.post(url, _form(connection, emails=""))
    assert "at least one email address or a webhook URL" in nothing.content.decode()
    assert not AlertRule.objects.exists()
    created = client.post(
        url, _form(connection, emails="ops@example.com\nlead@example.com", webhook_url=HOOK)
    )
    assert created.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.recipients == ["ops@example.com", "lead@example.com"]
    listing = client.get(reverse("admin:crm_sync_alertrule_changelist")).content.decode()
    assert "2 email(s), webhook" in listing


def test_staff_see_only_their_organizations_rules(connection, other_org):
    rule_for(CrmConnectionFactory(organization=other_org), webhook_url="")
    mine = rule_for(connection, webhook_url="")
    user = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    from accounts.models import Membership

    Membership.objects.create(organization=connection.organization, user=user, role=Membership.Role.OWNER)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_alertrule", "change_alertrule"]))
    client = Client()
    client.force_login(user)
    listing = client.get(reverse("admin:crm_sync_alertrule_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [mine]


def test_one_broken_rule_does_not_silence_the_others(connection, org):
    gone = CrmConnectionFactory(organization=org, kind="gone-from-registry", circuit_open=True)
    rule_for(gone, webhook_url="")
    rule_for(connection, webhook_url="")
    connection.circuit_state = "open"
    connection.save()
    assert alerts_evaluate() == {"rules": 1, "alerts": 1, "recoveries": 0}
    assert "HubSpot is paused" in mail.outbox[0].body
