"""Read, change and reset a sandbox's configuration and state."""

import copy
from typing import Any

from django.db import IntegrityError, transaction

from sandbox.defaults import default_config
from sandbox.models import (
    Kind,
    SandboxConfig,
    SandboxRateSlot,
    SandboxRecord,
    SandboxRequestLog,
    SandboxToken,
)

PROBABILITY_FIELDS = ("error_rate", "burst_429_rate", "timeout_rate", "lock_rate", "whole_batch_failure_rate")
MAX_TIMEOUT_SECONDS = 120.0
MAX_LATENCY_MS = 60_000
EDITABLE_FIELDS = (
    *PROBABILITY_FIELDS,
    "latency_ms",
    "timeout_seconds",
    "rate_limit_enabled",
    "rate_limits",
    "credentials",
    "options",
    "seed",
)


class ConfigInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("Invalid sandbox configuration.")
        self.errors = errors


def config_get(*, kind: str) -> SandboxConfig:
    """The kind's config row, created with the documented defaults on first use."""
    config = SandboxConfig.objects.filter(kind=kind).first()
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return SandboxConfig.objects.create(kind=kind, **default_config(kind))
    except IntegrityError:  # another process created it first
        return SandboxConfig.objects.get(kind=kind)


def config_as_dict(config: SandboxConfig) -> dict[str, Any]:
    data = {name: getattr(config, name) for name in EDITABLE_FIELDS}
    data["kind"] = config.kind
    data["updated_at"] = config.updated_at.isoformat() if config.updated_at else None
    return data


def _merge(current: dict, change: dict, *, depth: int) -> dict:
    merged = copy.deepcopy(current)
    for key, value in change.items():
        if depth > 1 and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, depth=depth - 1)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _validate_rate_limits(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "Must be an object of buckets."
    for name, bucket in value.items():
        if not isinstance(bucket, dict):
            return f"Bucket {name!r} must be an object with max, interval_ms and slot_ms."
        for field in ("max", "interval_ms", "slot_ms"):
            number = bucket.get(field)
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                return f"Bucket {name!r}: {field} must be a non-negative integer."
        if bucket["interval_ms"] == 0 or bucket["slot_ms"] == 0 or bucket["slot_ms"] > bucket["interval_ms"]:
            return f"Bucket {name!r}: need 0 < slot_ms <= interval_ms."
    return None


def _validate(values: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in PROBABILITY_FIELDS:
        value = values[name]
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            errors[name] = "Must be a number between 0 and 1."
    latency = values["latency_ms"]
    if not isinstance(latency, int) or isinstance(latency, bool) or not 0 <= latency <= MAX_LATENCY_MS:
        errors["latency_ms"] = f"Must be an integer between 0 and {MAX_LATENCY_MS}."
    timeout = values["timeout_seconds"]
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 <= timeout <= MAX_TIMEOUT_SECONDS
    ):
        errors["timeout_seconds"] = f"Must be a number between 0 and {MAX_TIMEOUT_SECONDS:g}."
    if not isinstance(values["rate_limit_enabled"], bool):
        errors["rate_limit_enabled"] = "Must be true or false."
    if message := _validate_rate_limits(values["rate_limits"]):
        errors["rate_limits"] = message
    for name in ("credentials", "options"):
        if not isinstance(values[name], dict):
            errors[name] = "Must be an object."
    seed = values["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        errors["seed"] = "Must be an integer or null."
    return errors


@transaction.atomic
def config_update(*, kind: str, changes: dict[str, Any]) -> SandboxConfig:
    """Apply `changes`; rate_limits/credentials/options merge into the current values.

    Raises ConfigInvalid (nothing written) on an unknown field or a bad value.
    """
    if not isinstance(changes, dict):
        raise ConfigInvalid({"body": "Must be a JSON object."})
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ConfigInvalid({name: "Unknown field." for name in unknown})
    config = config_get(kind=kind)
    values = {name: getattr(config, name) for name in EDITABLE_FIELDS}
    for name, value in changes.items():
        if name in ("rate_limits", "credentials", "options") and isinstance(value, dict):
            values[name] = _merge(values[name] or {}, value, depth=2 if name == "rate_limits" else 1)
        else:
            values[name] = value
    errors = _validate(values)
    if errors:
        raise ConfigInvalid(errors)
    for name, value in values.items():
        setattr(config, name, value)
    config.save()
    return config


@transaction.atomic
def sandbox_reset(*, kind: str, reset_config: bool = False) -> dict[str, int]:
    """Forget everything `kind` stored (objects, tokens, rate windows, log); optionally its config too."""
    counts = {
        "records": SandboxRecord.objects.filter(kind=kind).delete()[0],
        "tokens": SandboxToken.objects.filter(kind=kind).delete()[0],
        "rate_slots": SandboxRateSlot.objects.filter(kind=kind).delete()[0],
        "requests": SandboxRequestLog.objects.filter(kind=kind).delete()[0],
    }
    if reset_config:
        SandboxConfig.objects.filter(kind=kind).delete()
        config_get(kind=kind)
    else:
        SandboxConfig.objects.filter(kind=kind).update(fault_sequence=0)
    return counts


def known_kind(kind: str) -> bool:
    return kind in Kind.values
