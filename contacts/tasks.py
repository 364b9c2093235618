"""Celery tasks of the contacts app: thin, they call one service."""

from celery import shared_task


@shared_task(name="contacts.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Keys past their TTL; they are already ignored, this only frees the rows."""
    from contacts.services.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
