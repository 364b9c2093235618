"""The admin's "CRM data" page: search grouped by source with links, status per source, Sync now."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from crm_sync.models import RemoteRecord, SyncRun
from tests.factories import MembershipFactory, UserFactory

PAGE = "/admin/crm_sync/crmdata/"


def staff_client(org, codenames=("view_crmdata", "change_crmdata")):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=org)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_page_groups_results_by_source_and_links_each(org, dataset):
    client = staff_client(org)
    response = client.get(PAGE, {"q": "jo"})
    assert response.status_code == 200
    html = response.content.decode()
    record = RemoteRecord.objects.get(remote_id="b1")
    assert f"/admin/crm_sync/remoterecord/{record.pk}/change/" in html
    assert "/admin/contacts/contact/" in html and "John Smith" in html and "Johnny Cash" in html
    assert "John Other" not in html and "John Hidden" not in html  # another organization's
    assert 'id="crm-data-sources"' in html and html.count('value="Sync now"') == 2  # brivity, hubspot


def test_a_short_query_shows_the_error(org, dataset):
    html = staff_client(org).get(PAGE, {"q": "j"}).content.decode()
    assert "Query must be at least 2 characters" in html


def test_sync_now_starts_the_sources_pull(org, paged, queued, django_capture_on_commit_callbacks):
    client = staff_client(org)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE, {"organization": org.pk, "source": "paged"})
    assert response.status_code == 302
    runs = list(SyncRun.objects.filter(connection=paged).values_list("object_type", "outcome"))
    assert sorted(runs) == [("contacts", "running"), ("deals", "running")]
    assert len(queued) == 2
    again = client.post(PAGE, {"organization": org.pk, "source": "paged"}, follow=True)
    assert "Not started" in again.content.decode()


def test_staff_cannot_reach_another_organization(org, other_org, dataset):
    client = staff_client(org)
    assert client.get(PAGE, {"organization": other_org.pk}).status_code == 404
    assert client.post(PAGE, {"organization": other_org.pk, "source": "brivity"}).status_code == 404
    assert not SyncRun.objects.exists()


def test_view_permission_alone_cannot_sync(org, paged):
    client = staff_client(org, codenames=("view_crmdata",))
    assert client.get(PAGE).status_code == 200
    assert client.post(PAGE, {"organization": org.pk, "source": "paged"}).status_code == 403
    assert not SyncRun.objects.exists()


@pytest.mark.django_db
def test_non_staff_are_sent_to_the_login():
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    assert client.get(PAGE).status_code == 302
