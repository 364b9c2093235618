"""Idempotency-Key handling for POSTs that create things.

The first successful response to a key is stored with a hash of the request; a retry with
the same key and body within the TTL gets that response back and writes nothing, the same
key with another body (or on another endpoint) is refused with 422. Failed requests are not
stored: they wrote nothing, so the client may fix the cause and retry with the same key.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from contacts.models import IdempotencyKey
from core.errors import InvalidInput, Unprocessable

KEY_MAX_LENGTH = 255


@dataclass(frozen=True)
class IdempotentResponse:
    status: int
    body: Any
    replayed: bool


def idempotency_ttl() -> timedelta:
    return timedelta(hours=settings.CONTACTS_IDEMPOTENCY_TTL_HOURS)


def idempotency_request_hash(*, payload: Any) -> str:
    canonical = json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _key_check(key: str) -> None:
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"The Idempotency-Key header must be 1 to {KEY_MAX_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )


def _replay(record: IdempotencyKey, *, endpoint: str, request_hash: str) -> IdempotentResponse:
    if record.endpoint != endpoint or record.request_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
            details={"idempotency_key": record.key, "first_used_at": record.created_at.isoformat()},
        )
    return IdempotentResponse(status=record.response_status, body=record.response_body, replayed=True)


def idempotent_run(
    *,
    organization: Organization,
    key: str,
    endpoint: str,
    payload: Any,
    operation: Callable[[], tuple[int, Any]],
    now: datetime | None = None,
) -> IdempotentResponse:
    """Run `operation` (returning status and body) at most once per key, or replay its result.

    The key row is inserted before the operation, in the same transaction: a concurrent
    request with the same key blocks on the unique constraint until the first commits, then
    replays it (on SQLite, writers are serialized anyway). An operation that raises rolls
    the key back with everything else.
    """
    _key_check(key)
    now = now or timezone.now()
    request_hash = idempotency_request_hash(payload=payload)
    keys = IdempotencyKey.objects.filter(organization=organization, key=key)
    with transaction.atomic():
        keys.filter(created_at__lt=now - idempotency_ttl()).delete()
        record = keys.first()
        if record is not None:
            return _replay(record, endpoint=endpoint, request_hash=request_hash)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    organization=organization,
                    key=key,
                    endpoint=endpoint,
                    request_hash=request_hash,
                    created_at=now,
                )
        except IntegrityError:
            return _replay(keys.get(), endpoint=endpoint, request_hash=request_hash)
        status, body = operation()
        record.response_status = status
        record.response_body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        record.save(update_fields=["response_status", "response_body"])
    return IdempotentResponse(status=status, body=record.response_body, replayed=False)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than the TTL (they are ignored already); return how many went."""
    cutoff = (now or timezone.now()) - idempotency_ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
