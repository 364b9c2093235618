"""/api/v1/webhooks/: subscriptions (scope admin), the secret shown once, outbound rules, tenancy."""

import pytest
from django.db import connection

from accounts.models import AuditEvent, Scope
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/crm"


def create(client, **body):
    return client.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["contact.created"], **body}, format="json"
    )


def test_create_returns_the_secret_once(api_client):
    response = create(api_client, events=["contact.created", "conflict.created"], description="ops")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["conflict.created", "contact.created"] and body["status"] == "active"
    again = api_client.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in again and body["secret"] not in str(again)
    listed = api_client.get("/api/v1/webhooks/").json()
    assert body["secret"] not in str(listed) and listed["count"] == 1
    assert AuditEvent.objects.filter(action="webhook.create").exists()
    # encrypted at rest
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing FROM webhooks_webhooksubscription")
        stored = cursor.fetchone()[0]
    assert body["secret"] not in stored


def test_every_method_needs_the_admin_scope(make_api_client, org):
    client = make_api_client(org, scopes=[Scope.READ, Scope.WRITE, Scope.SYNC])
    assert client.get("/api/v1/webhooks/").status_code == 403
    assert create(client).status_code == 403
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/crm",  # http to a public host
        "https://10.0.0.5/hook",  # private address
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://user:pass@hooks.example.com/",  # user info
        "https://localhost/hook",
        "https://2130706433/hook",  # 127.0.0.1 spelled as a number
        "ftp://hooks.example.com/",
    ],
)
def test_urls_the_outbound_rules_refuse_are_400(api_client, url, settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    response = create(api_client, url=url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_url" and "url" in response.json()["details"]
    assert not WebhookSubscription.objects.exists()


def test_unknown_events_and_empty_lists_are_400(api_client):
    response = create(api_client, events=["contact.exploded"])
    assert response.status_code == 400 and "events" in response.json()["details"]
    assert create(api_client, events=[]).status_code == 400
    assert not WebhookSubscription.objects.exists()


def test_patch_changes_events_and_checks_the_url(api_client, settings):
    settings.CRM_ALLOWED_PRIVATE_TARGETS = []
    pk = create(api_client).json()["id"]
    response = api_client.patch(f"/api/v1/webhooks/{pk}/", {"events": ["contact.failed"]}, format="json")
    assert response.status_code == 200 and response.json()["events"] == ["contact.failed"]
    response = api_client.patch(f"/api/v1/webhooks/{pk}/", {"url": "https://10.1.2.3/"}, format="json")
    assert response.status_code == 400
    assert WebhookSubscription.objects.get(pk=pk).url == URL


def test_another_organizations_subscription_is_a_404(api_client, make_api_client, other_org):
    pk = create(api_client).json()["id"]
    other = make_api_client(other_org)
    assert other.get(f"/api/v1/webhooks/{pk}/").status_code == 404
    assert (
        other.patch(f"/api/v1/webhooks/{pk}/", {"events": ["contact.failed"]}, format="json").status_code
        == 404
    )
    assert other.delete(f"/api/v1/webhooks/{pk}/").status_code == 404
    assert other.post(f"/api/v1/webhooks/{pk}/resume/").status_code == 404
    assert other.get("/api/v1/webhooks/").json()["count"] == 0
    assert WebhookSubscription.objects.filter(pk=pk).exists()


def test_delete(api_client):
    pk = create(api_client).json()["id"]
    assert api_client.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()
    assert api_client.get(f"/api/v1/webhooks/{pk}/").status_code == 404


def test_resume_reactivates_a_paused_subscription(api_client):
    pk = create(api_client).json()["id"]
    WebhookSubscription.objects.filter(pk=pk).update(
        status="paused", paused_reason="x", consecutive_failures=9
    )
    body = api_client.post(f"/api/v1/webhooks/{pk}/resume/").json()
    assert body["status"] == "active" and body["consecutive_failures"] == 0 and body["paused_reason"] == ""


@pytest.mark.parametrize("rows", [2, 20])
def test_list_and_deliveries_query_counts_do_not_grow(api_client, org, rows, django_assert_num_queries):
    subscriptions = [
        WebhookSubscription.objects.create(organization=org, url=URL, events=["contact.created"], signing={})
        for _ in range(rows)
    ]
    for subscription in subscriptions[:1]:
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    subscription=subscription,
                    event="contact.created",
                    event_id="00000000-0000-0000-0000-000000000001",
                    payload={},
                    next_attempt_at=subscription.created_at,
                )
                for _ in range(rows)
            ]
        )
    with django_assert_num_queries(4):  # key lookup, key usage, count, page
        assert api_client.get("/api/v1/webhooks/").json()["count"] == rows
    with django_assert_num_queries(4):  # key usage (its row is cached now), subscription, count, page
        body = api_client.get(f"/api/v1/webhooks/{subscriptions[0].pk}/deliveries/").json()
    assert body["count"] == rows
