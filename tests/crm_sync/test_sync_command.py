"""manage.py sync: what it prints, and its exit codes (0 ok, 1 failures reported, 2 bad usage)."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm_sync.management.commands import sync as sync_command
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.services.push import push_connection_drain
from integrations.errors import CrmAuthError
from tests.contacts.factories import ContactFactory
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.integrations.factories import CrmConnectionFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args, tty=False):
    out, err = (Terminal() if tty else io.StringIO()), io.StringIO()
    call_command("sync", *args, "--org", "acme", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args, returncode: int) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == returncode
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_stats_lists_every_crm_with_counts_and_state_in_plain_words(connection, org, monkeypatch):
    ContactSyncStateFactory.create_batch(3, connection=connection, complete=True)
    ContactSyncStateFactory(connection=connection, errored=True)
    SyncRunFactory(connection=connection, succeeded=3)
    CrmConnectionFactory(
        organization=org, kind="hubspot", name="paused-one", circuit_open=True, circuit_reason="HTTP 401"
    )
    out, _ = run("stats")
    header, *rows = out.splitlines()
    assert header.split("\t")[:3] == ["CRM", "name", "total"]
    hubspot, scripted = (row.split("\t") for row in rows)
    assert scripted[:8] == ["Scripted CRM", connection.name, "4", "3", "0", "0", "1", "75%"]
    assert scripted[8] != "never" and scripted[9] == "never" and scripted[10] == "Healthy"
    assert hubspot[0] == "HubSpot" and hubspot[10].startswith("Paused: HTTP 401")
    assert "manage.py sync resume --crm hubspot" in hubspot[10]
    monkeypatch.setenv("COLUMNS", "200")
    table, _ = run("stats", tty=True)
    assert "Scripted CRM" in table and "Healthy" in table and "┃" in table


def test_push_queues_and_says_what_it_skipped(connection, org):
    contacts = ContactFactory.create_batch(3, organization=org)
    ContactFactory(organization=org, email="")
    out, _ = run("push", "--crm", "scripted", "--all")
    assert out.strip() == "scripted: 3 contact(s) queued; skipped: 1 no email."
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() == 3
    out, _ = run("push", "--crm", "scripted", "--contact", str(contacts[0].pk), "--contact", "nope")
    assert out.startswith("scripted: 0 contact(s) queued; skipped: ")


def test_push_all_writes_a_big_queue_all_itself(connection, org, settings):
    settings.SYNC_QUEUE_ALL_INLINE_MAX_ROWS = 2
    settings.SYNC_QUEUE_ALL_CHUNK_ROWS = 2
    ContactFactory.create_batch(5, organization=org)
    out, _ = run("push", "--crm", "scripted", "--all")
    lines = out.strip().splitlines()
    assert lines[0].startswith("scripted: writing queue-all run ")
    assert lines[1:] == [
        "scripted: 5 row(s) written to the queue by this command.",
        "scripted: 5 contact(s) queued.",
    ]
    assert ContactSyncState.objects.filter(processing_status=ProcessingStatus.QUEUED).count() == 5


def test_push_wait_shows_progress_until_the_workers_drain_the_queue(connection, org, monkeypatch):
    ContactFactory.create_batch(5, organization=org)
    monkeypatch.setattr(
        sync_command.time,
        "sleep",
        lambda s: push_connection_drain(connection_id=connection.pk, max_seconds=30),
    )
    out, _ = run("push", "--crm", "scripted", "--all", "--wait")
    lines = out.splitlines()
    assert lines[0] == "scripted: 5 contact(s) queued."
    assert lines[1] == "scripted: 0/5 done, 5 waiting"
    assert (
        lines[-2] == "scripted: 5/5 done, 0 waiting"
        and lines[-1] == "scripted: queue drained, no new failures."
    )


def test_push_wait_on_a_terminal_draws_a_progress_bar(connection, org, monkeypatch):
    ContactFactory.create_batch(2, organization=org)
    monkeypatch.setattr(
        sync_command.time,
        "sleep",
        lambda s: push_connection_drain(connection_id=connection.pk, max_seconds=30),
    )
    out, _ = run("push", "--crm", "scripted", "--all", "--wait", tty=True)
    assert "2/2" in out and "━" in out


def test_push_wait_reports_failures_with_exit_1(connection, org, monkeypatch, scripted):
    ContactFactory.create_batch(2, organization=org)
    connection.max_retries = 0
    connection.save()
    scripted.script = [CrmAuthError("HTTP 401: token revoked", crm="scripted")]
    monkeypatch.setattr(
        sync_command.time,
        "sleep",
        lambda s: push_connection_drain(connection_id=connection.pk, max_seconds=30),
    )
    message = fails("push", "--crm", "scripted", "--all", "--wait", returncode=1)
    assert "2 contact(s) failed; see: manage.py sync failures --crm scripted" in message


def test_push_wait_gives_up_after_its_timeout(connection, org, monkeypatch):
    ContactFactory(organization=org)
    monkeypatch.setattr(sync_command.time, "sleep", lambda s: None)
    message = fails("push", "--crm", "scripted", "--all", "--wait", "--timeout", "0", returncode=1)
    assert "1 contact(s) still queued after 0 s; is a worker running?" in message


def test_bad_usage_exits_2_with_one_line(connection):
    assert "Unknown CRM 'nope'" in fails("push", "--crm", "nope", "--all", returncode=2)
    assert "one of the arguments --all --contact is required" in fails(
        "push", "--crm", "scripted", returncode=2
    )
    with pytest.raises(CommandError) as caught:
        call_command("sync", "stats", "--org", "nobody", stdout=io.StringIO())
    assert caught.value.returncode == 2 and "no organization 'nobody'" in str(caught.value)


def test_from_the_shell_usage_errors_are_one_line_on_stderr_and_exit_2():
    result = subprocess.run(
        [sys.executable, "manage.py", "sync", "push", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("Error: manage.py sync push: the following arguments are required: --crm")


def test_failures_are_listed_with_exit_1_and_retried_with_exit_0(connection):
    ContactSyncStateFactory.create_batch(2, connection=connection, errored=True, error_category="validation")
    ContactSyncStateFactory(connection=connection, errored=True, error_category="auth", error="HTTP 401")
    with pytest.raises(CommandError) as caught:
        out = io.StringIO()
        call_command("sync", "failures", "--crm", "scripted", "--org", "acme", "--limit", "2", stdout=out)
    assert caught.value.returncode == 1
    assert "3 failed contact(s) (showing 2); queue them again with --retry" in str(caught.value)
    assert len(out.getvalue().splitlines()) == 2
    out, _ = run("failures", "--crm", "scripted", "--category", "auth", "--retry")
    assert out.strip() == "scripted: 1 failed contact(s) queued again."
    assert ContactSyncState.objects.filter(sync_status=SyncStatus.ERROR).count() == 2
    out, _ = run("failures", "--crm", "scripted", "--retry")
    assert out.strip() == "scripted: 2 failed contact(s) queued again."
    out, _ = run("failures", "--crm", "scripted")
    assert out.strip() == "scripted: no failed contacts."


def test_test_credentials_exit_0_when_valid_1_when_refused(connection):
    out, _ = run("test-credentials", "--crm", "scripted")
    assert out.strip() == "scripted: Successfully authenticated with Scripted CRM API"
    connection.credentials = {"api_key": "bad-key"}
    connection.save()
    message = fails("test-credentials", "--crm", "scripted", returncode=1)
    assert "Invalid Scripted CRM credentials: HTTP 401: Unauthorized" in message


def test_resume_tests_the_credentials_then_requeues_the_auth_failures(connection):
    connection.circuit_state = "open"
    connection.circuit_reason = "HTTP 401"
    connection.credentials = {"api_key": "bad-key"}
    connection.save()
    ContactSyncStateFactory.create_batch(2, connection=connection, errored=True, error_category="auth")
    ContactSyncStateFactory(connection=connection, errored=True, error_category="validation")
    message = fails("resume", "--crm", "scripted", returncode=1)
    assert (
        "not resumed: Invalid Scripted CRM credentials" in message and "fix the credentials first" in message
    )
    connection.refresh_from_db()
    assert connection.is_circuit_open

    connection.credentials = {"api_key": "fixed-key"}
    connection.save()
    out, _ = run("resume", "--crm", "scripted")
    assert out.strip() == "scripted: resumed; 2 contact(s) that failed on authentication queued again."
    connection.refresh_from_db()
    assert not connection.is_circuit_open
    assert (
        ContactSyncState.objects.filter(sync_status=SyncStatus.ERROR, error_category="validation").count()
        == 1
    )


def test_pull_delegates_to_the_pull_command(connection, monkeypatch):
    seen = {}

    def fake_call_command(name, **options):
        seen.update(name=name, **{k: v for k, v in options.items() if k not in ("stdout", "stderr")})

    monkeypatch.setattr(sync_command, "call_command", fake_call_command)
    run("pull", "--connection", str(connection.pk), "--backfill", "--object-type", "contacts")
    assert seen == {"name": "pull", "connection": connection.pk, "backfill": True, "object_type": "contacts"}


def test_pull_reports_a_pull_that_cannot_run_with_exit_2(connection):
    assert "cannot pull anything" in fails("pull", "--connection", str(connection.pk), returncode=2)
