"""An operator in a real browser: log in, read the dashboard, queue contacts, watch a real worker
push them, recover from a failing CRM and from broken credentials, try the API from its docs."""

import io
import re
import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import OperationalError

from config.celery import app
from contacts.models import Contact
from crm_sync.models import ContactSyncState, SyncStatus
from crm_sync.tasks import dashboard_snapshot_refresh
from integrations.models import CrmConnection
from sandbox import credentials as sandbox_credentials
from sandbox.models import SandboxConfig

# PostgreSQL only: on the suite's shared in-memory SQLite, a live-server thread serving the browser
# can block on the database lock while the test thread holds it (seen as a hang in a full run).
pytestmark = [pytest.mark.slow, pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-password"


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OperationalError:
            pass  # SQLite shared between threads: a table lock means "ask again"
        time.sleep(0.5)
    return False


@pytest.fixture
def demo(live_server, settings):
    """The demo data of `make run`, its connections pointing at the sandbox of this live server."""
    settings.CRM_SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    user = get_user_model().objects.get(username="admin")
    user.set_password(PASSWORD)
    user.save()
    key = re.search(r"API key 'demo' created.*?:\s*(\S+)", out.getvalue(), re.S)
    hubspot = CrmConnection.objects.get(kind="hubspot")
    return {"url": live_server.url, "hubspot": hubspot, "api_key": key.group(1) if key else None}


def log_in(page, url):
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard-link")


def hubspot_states(connection, status):
    return ContactSyncState.objects.filter(connection=connection, sync_status=status).count()


def queue_for_hubspot(page, url, emails):
    page.goto(f"{url}/admin/contacts/contact/?q=&o=1")
    for email in emails:
        page.locator("tr", has_text=email).locator("input.action-select").check()
    page.select_option("select[name=action]", "queue_for_sync")
    page.click("button[name=index]")
    page.select_option("#id_crm", "hubspot")
    page.select_option("#id_priority", "high")
    page.click("input[value=Queue]")
    return page.locator("ul.messagelist").inner_text()


@pytest.fixture
def worker_queue():
    """A queue of this test's own: the tasks the admin starts go there, and only this test's
    worker reads it (other tests running at the same time share the broker)."""
    queue = f"browser-{uuid.uuid4().hex[:8]}"
    routes = app.conf.task_routes

    def reroute(value):
        app.conf.task_routes = value
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)  # the cached router holds the old table

    reroute({"*": {"queue": queue}})
    yield queue
    reroute(routes)


def test_operator_journey(page, demo, screenshot, worker_queue):
    url, hubspot = demo["url"], demo["hubspot"]
    log_in(page, url)

    # The dashboard shows the demo data's numbers, per connection.
    page.goto(f"{url}/admin/dashboard/")
    card = page.locator(f'.dash-card[data-connection="{hubspot.pk}"]')
    total = ContactSyncState.objects.filter(connection=hubspot).count()
    assert card.locator("dd.total").inner_text() == str(total)
    queued = ContactSyncState.objects.filter(connection=hubspot, processing_status="Queued").count()
    assert total > 0 and card.locator("dd.queue").inner_text().startswith(f"{queued} ")
    assert "Healthy" in card.inner_text()
    assert page.locator(".dash-card").count() == CrmConnection.objects.count()

    # The demo queued every contact (auto-sync): queueing them again queues nothing, and says why.
    emails = list(Contact.objects.exclude(email="").order_by("email").values_list("email", flat=True)[:6])
    message = queue_for_hubspot(page, url, emails[:3])
    assert "0 contacts queued for hubspot. Skipped: 3 already queued or being pushed." in message
    assert page.locator("ul.messagelist li.warning").count() == 1
    # From here on, a clean slate: no demo queue for the worker to drain.
    ContactSyncState.objects.all().delete()
    CrmConnection.objects.update(auto_sync=False)

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[worker_queue], shutdown_timeout=30):
        # Select contacts, Queue for sync: a real worker takes them to Complete.
        message = queue_for_hubspot(page, url, emails[:3])
        assert "3 contacts queued for hubspot" in message
        assert wait_for(lambda: hubspot_states(hubspot, SyncStatus.COMPLETE) >= 3)
        page.goto(f"{url}/admin/contacts/contact/?crm=hubspot&sync_status=Complete")
        assert page.locator(".sync-badge[title=Complete]").count() >= 3
        screenshot("contact-list-complete")

        # HubSpot fails (sandbox fault injection): the failure group shows, Retry this group works.
        SandboxConfig.objects.filter(kind="hubspot").update(error_rate=1.0)
        message = queue_for_hubspot(page, url, emails[3:5])
        assert "2 contacts queued" in message
        assert wait_for(lambda: hubspot_states(hubspot, SyncStatus.ERROR) == 2)
        page.goto(f"{url}/admin/dashboard/")
        group = page.locator("#failure-groups tr", has_text="HubSpot")
        assert "unavailable" in group.inner_text() and group.locator("td.num").inner_text() == "2"
        screenshot("dashboard-failure")
        SandboxConfig.objects.filter(kind="hubspot").update(error_rate=0.0)
        group.locator("input[value='Retry this group']").click()
        assert "2 contacts queued again" in page.locator("ul.messagelist").inner_text()
        assert wait_for(lambda: hubspot_states(hubspot, SyncStatus.COMPLETE) == 5)
        assert hubspot_states(hubspot, SyncStatus.ERROR) == 0
        dashboard_snapshot_refresh()  # what beat does every minute
        page.goto(f"{url}/admin/dashboard/")
        assert page.locator("#failure-groups").count() == 0
        card = page.locator(f'.dash-card[data-connection="{hubspot.pk}"]')
        assert card.locator("dd.complete-error").inner_text() == "5 / 0"
        screenshot("dashboard", docs=True)

        # Broken credentials pause the connection; fixed, Resume retries what failed.
        page.goto(f"{url}/admin/integrations/crmconnection/{hubspot.pk}/change/")
        page.fill("#id_credential__access_token", "pat-na1-wrong")
        page.check("#id_skip_credential_test")  # the form tests credentials first: store them anyway
        page.click("input[name=_save]")
        queue_for_hubspot(page, url, emails[5:6])
        assert wait_for(lambda: CrmConnection.objects.get(pk=hubspot.pk).is_circuit_open)
        page.goto(f"{url}/admin/integrations/crmconnection/")
        row = page.locator("#result_list tr", has_text="HubSpot")
        assert "Paused: authentication failed" in row.inner_text()
        assert "circuit" not in row.inner_text().lower()
        screenshot("connection-list-paused")
        page.goto(f"{url}/admin/integrations/crmconnection/{hubspot.pk}/change/")
        page.fill("#id_credential__access_token", sandbox_credentials.HUBSPOT_TOKEN)
        page.click("input[name=_save]")
        assert "credentials tested" in page.locator("ul.messagelist").inner_text()
        page.locator("#result_list tr", has_text="HubSpot").locator("input.action-select").check()
        page.select_option("select[name=action]", "resume")
        page.click("button[name=index]")
        page.click("button:has-text('Resume and retry 1 contact')")
        assert "1 contacts queued again" in page.locator("ul.messagelist").inner_text()
        assert wait_for(lambda: hubspot_states(hubspot, SyncStatus.COMPLETE) >= 6)
        page.goto(f"{url}/admin/integrations/crmconnection/")
        assert "Healthy" in page.locator("#result_list tr", has_text="HubSpot").inner_text()
        screenshot("connection-list", docs=True)

    page.goto(f"{url}/admin/contacts/contact/?o=1")
    screenshot("contact-list", docs=True, full_page=False)

    # The contact page: a timeline per CRM, Push now.
    contact = Contact.objects.get(email=emails[3])
    page.goto(f"{url}/admin/contacts/contact/{contact.pk}/change/")
    timeline = page.locator("#sync-timeline").inner_text()
    assert "Error" in timeline and "Complete" in timeline and "500" in timeline
    screenshot("contact-page", docs=True)


def test_api_docs_try_it_out_with_an_api_key(page, demo, screenshot):
    assert demo["api_key"], "bootstrap_demo printed no API key"
    page.goto(f"{demo['url']}/api/docs/")
    page.click("button.authorize")
    page.fill(".auth-container input", f"Api-Key {demo['api_key']}")
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    operation = page.locator(".opblock-get", has_text="/api/v1/contacts/").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table tbody .response-col_status").first
    response.wait_for()
    assert response.inner_text().strip().startswith("200")
    screenshot("api-docs-try-it-out")
