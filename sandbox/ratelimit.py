"""Rate limiting for the sandbox CRMs, kept in the database so every process shares it.

Each bucket counts requests in slots of `slot_ms`. A rolling bucket (slot smaller than
its interval) counts the slots that lie wholly inside the last `interval_ms`; a fixed
bucket (slot equal to the interval, e.g. HubSpot's daily limit) counts only the current
slot. Dropping the partly-expired oldest slot makes the sandbox slightly lenient, never
stricter than an exact rolling window, so a client that paces itself correctly never
sees a 429 it did not earn. Refused requests are not counted.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from sandbox.models import SandboxRateSlot


@dataclass(frozen=True)
class BucketState:
    name: str
    limit: int
    interval_ms: int
    used: int
    reset_ms: int
    denied: bool

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def now_ms() -> int:
    return int(time.time() * 1000)


def _count_one(*, kind: str, bucket: str, slot_start: int, interval_ms: int) -> None:
    slots = SandboxRateSlot.objects.filter(kind=kind, bucket=bucket, slot_start=slot_start)
    if slots.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            SandboxRateSlot.objects.create(kind=kind, bucket=bucket, slot_start=slot_start, count=1)
    except IntegrityError:  # created by another process meanwhile
        slots.update(count=F("count") + 1)
        return
    # A new slot begins: drop the ones no window can reach any more.
    SandboxRateSlot.objects.filter(
        kind=kind, bucket=bucket, slot_start__lt=slot_start - 2 * interval_ms
    ).delete()


def rate_limit_hit(
    *, kind: str, buckets: dict[str, dict], names: Sequence[str], at_ms: int | None = None
) -> list[BucketState]:
    """Count one request against `names` (unknown or max=0 buckets are unlimited).

    Returns each bucket's state after the request; when any bucket is full the request
    is refused (`denied` on the full ones) and nothing is counted.
    """
    active = [(name, buckets[name]) for name in names if name in buckets and buckets[name].get("max", 0) > 0]
    if not active:
        return []
    at_ms = now_ms() if at_ms is None else at_ms
    current: dict[str, int] = {}
    lower: dict[str, int] = {}
    condition = Q()
    for name, spec in active:
        slot_ms = spec["slot_ms"]
        current[name] = at_ms // slot_ms * slot_ms
        lower[name] = current[name] if slot_ms >= spec["interval_ms"] else at_ms - spec["interval_ms"] + 1
        condition |= Q(bucket=name, slot_start__gte=lower[name])
    used = dict.fromkeys(current, 0)
    oldest: dict[str, int] = {}
    for bucket, slot_start, count in SandboxRateSlot.objects.filter(condition, kind=kind).values_list(
        "bucket", "slot_start", "count"
    ):
        if slot_start < lower[bucket]:
            continue
        used[bucket] += count
        if count:
            oldest[bucket] = min(oldest.get(bucket, slot_start), slot_start)
    denied = {name for name, spec in active if used[name] >= spec["max"]}
    if not denied:
        for name, spec in active:
            _count_one(kind=kind, bucket=name, slot_start=current[name], interval_ms=spec["interval_ms"])
            used[name] += 1
            oldest.setdefault(name, current[name])
    states = []
    for name, spec in active:
        if spec["slot_ms"] >= spec["interval_ms"]:
            reset = current[name] + spec["slot_ms"] - at_ms
        else:
            reset = oldest.get(name, at_ms) + spec["interval_ms"] - at_ms
        states.append(
            BucketState(
                name=name,
                limit=spec["max"],
                interval_ms=spec["interval_ms"],
                used=used[name],
                reset_ms=max(0, reset),
                denied=name in denied,
            )
        )
    return states
