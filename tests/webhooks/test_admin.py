"""The webhooks' admin: paused subscriptions shown with their reason, resumed by an action; the
secret never displayed; staff see only their organizations' subscriptions."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import MembershipFactory, UserFactory
from webhooks.models import WebhookSubscription

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/webhooks/webhooksubscription/"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_a_paused_subscription_is_listed_with_its_reason_and_resumed(superuser_client, subscribe):
    subscription, secret = subscribe()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        status="paused", paused_reason="10 failed attempts in a row", consecutive_failures=10
    )
    page = superuser_client.get(CHANGELIST, {"status__exact": "paused"}).content.decode()
    assert "10 failed attempts in a row" in page and secret not in page
    detail = superuser_client.get(f"{CHANGELIST}{subscription.pk}/change/").content.decode()
    assert secret not in detail
    response = superuser_client.post(
        CHANGELIST, {"action": "resume_selected", "_selected_action": [subscription.pk]}, follow=True
    )
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "active" and subscription.consecutive_failures == 0


def test_staff_see_only_their_organizations_subscriptions(org, other_org, subscribe):
    mine, _ = subscribe()
    theirs, _ = subscribe(organization=other_org)
    user = UserFactory()
    MembershipFactory(user=user, organization=org)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_webhooksubscription"]))
    client = Client()
    client.force_login(user)
    assert client.get(f"{CHANGELIST}{mine.pk}/change/").status_code == 200
    assert client.get(f"{CHANGELIST}{theirs.pk}/change/").status_code == 302  # not found: back to the list
