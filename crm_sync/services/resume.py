"""Resuming a paused connection, and retrying one category of failures.

A connection pauses itself (its circuit opens) when the CRM refuses its credentials. Resuming
means: the credentials were fixed, so prove it with one credential test (a success closes the
circuit, crm_credentials_test), then queue again the contacts that failed on authentication,
which were never the contacts' fault.
"""

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from crm_sync import connections
from crm_sync.models import ContactSyncState, ProcessingStatus, SyncStatus
from crm_sync.services.credentials import crm_credentials_test
from crm_sync.services.queueing import _audit_many
from crm_sync.services.retrying import _retry_values


@transaction.atomic
def contacts_retry_category(*, organization, crm: str, category: str, actor: Actor) -> int:
    """Queue again, from a retry count of 0, every failed contact of a CRM in one error category."""
    connection = connections.organization_connection(organization=organization, crm=crm)
    now = timezone.now()
    count = (
        ContactSyncState.objects.filter(
            connection=connection, sync_status=SyncStatus.ERROR, error_category=category
        )
        .exclude(processing_status=ProcessingStatus.PROCESSING)
        .update(**_retry_values(now=now, reset=True, retry_count=0, connection=connection))
    )
    _audit_many(
        organization=organization,
        actor=actor,
        action="sync.retry_category",
        crm=crm,
        count=count,
        extra={"category": category},
    )
    return count


def connection_resume(*, organization, crm: str, actor: Actor, retry_auth_failures: bool = True) -> dict:
    """Test the credentials; when the CRM accepts them the connection resumes (its circuit closes)
    and, with `retry_auth_failures`, what failed on authentication is queued again.

    {"resumed", "was_paused", "credentials" (the test's answer), "requeued"}.
    """
    connection = connections.organization_connection(organization=organization, crm=crm, for_push=False)
    was_paused = connection.is_circuit_open
    check = crm_credentials_test(organization=organization, crm=crm, actor=actor)
    resumed = check.status == "valid"
    requeued = 0
    if resumed and retry_auth_failures and connection.can_push:
        requeued = contacts_retry_category(organization=organization, crm=crm, category="auth", actor=actor)
    return {
        "resumed": resumed,
        "was_paused": was_paused,
        "credentials": check.as_dict(),
        "requeued": requeued,
    }
