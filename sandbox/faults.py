"""Fault injection: per request by the X-Sandbox-Fault header, per sandbox by its config.

Header syntax: comma-separated tokens, e.g. `X-Sandbox-Fault: 429`, `latency=200ms,500`,
`timeout`, `batch`, `malformed`, `429,retry-after=3`.
- a status code (400-599): answer it in the CRM's own error shape (429 and 423 use the
  CRM's rate-limit and lock bodies);
- `timeout`: hang for the config's timeout_seconds (bounded) and then answer 504;
- `latency=<n>ms|<n>s`: wait before answering;
- `batch`: a batch with an invalid input fails as a whole instead of per input;
- `malformed`: the body is cut short, so it is not valid JSON;
- `retry-after=<s>`: add a Retry-After header to an injected 429.

Scripted by number, per sandbox: config.options["fail_requests"] fails the Nth matching request
(faults_scripted), e.g. the third page of a pull.
"""

import random
import re
from dataclasses import dataclass, field

from django.db.models import F

from sandbox.models import SandboxConfig, SandboxRateSlot

FAULT_HEADER = "X-Sandbox-Fault"
_LATENCY = re.compile(r"^latency=(\d+(?:\.\d+)?)(ms|s)?$")
_RETRY_AFTER = re.compile(r"^retry-after=(\d+)$")


@dataclass
class Faults:
    status: int | None = None
    timeout: bool = False
    latency_ms: float = 0.0
    batch: bool = False
    malformed: bool = False
    retry_after: int | None = None
    labels: list[str] = field(default_factory=list)


class FaultHeaderInvalid(ValueError):
    pass


def faults_parse(header: str) -> Faults:
    """Parse the X-Sandbox-Fault header; raise FaultHeaderInvalid on a token it does not know."""
    faults = Faults()
    for raw in header.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        if token.isdigit() and 400 <= int(token) <= 599:
            faults.status = int(token)
        elif token == "timeout":
            faults.timeout = True
        elif token == "batch":
            faults.batch = True
        elif token == "malformed":
            faults.malformed = True
        elif match := _LATENCY.match(token):
            value = float(match.group(1))
            faults.latency_ms = value * 1000 if match.group(2) == "s" else value
        elif match := _RETRY_AFTER.match(token):
            faults.retry_after = int(match.group(1))
        else:
            raise FaultHeaderInvalid(f"Unknown {FAULT_HEADER} token {raw.strip()!r}.")
        faults.labels.append(token)
    return faults


def _rng(config: SandboxConfig) -> random.Random:
    """A per-request generator: deterministic across processes when the config has a seed."""
    if config.seed is None:
        return random.Random()
    SandboxConfig.objects.filter(pk=config.pk).update(fault_sequence=F("fault_sequence") + 1)
    sequence = (
        SandboxConfig.objects.filter(pk=config.pk).values_list("fault_sequence", flat=True).first() or 0
    )
    return random.Random(f"{config.seed}:{sequence}")


def faults_draw(config: SandboxConfig) -> Faults:
    """The faults the config's probabilities pick for this request (latency always applies)."""
    faults = Faults(latency_ms=float(config.latency_ms))
    rates = (config.timeout_rate, config.burst_429_rate, config.lock_rate, config.error_rate)
    if not any(rates) and not config.whole_batch_failure_rate:
        return faults
    rng = _rng(config)
    timeout_draw, burst_draw, lock_draw, error_draw, batch_draw = (rng.random() for _ in range(5))
    if timeout_draw < config.timeout_rate:
        faults.timeout = True
        faults.labels.append("timeout")
    elif burst_draw < config.burst_429_rate:
        faults.status = 429
        faults.labels.append("429")
    elif lock_draw < config.lock_rate:
        faults.status = 423
        faults.labels.append("423")
    elif error_draw < config.error_rate:
        faults.status = 500
        faults.labels.append("500")
    if batch_draw < config.whole_batch_failure_rate:
        faults.batch = True
        faults.labels.append("batch")
    return faults


def faults_merge(header: Faults, drawn: Faults) -> Faults:
    """The header wins over the config for the status; flags add up."""
    return Faults(
        status=header.status if header.status is not None else drawn.status,
        timeout=header.timeout or (drawn.timeout and header.status is None),
        latency_ms=header.latency_ms or drawn.latency_ms,
        batch=header.batch or drawn.batch,
        malformed=header.malformed,
        retry_after=header.retry_after,
        labels=header.labels + [label for label in drawn.labels if label not in header.labels],
    )


def faults_scripted(config: SandboxConfig, path: str) -> Faults | None:
    """The fault config.options["fail_requests"] scripts for this request, by its number.

    {"nth": [3], "status": 500, "path_contains": "/search"}: the 3rd request whose path
    contains "/search" (counted from the last reset) fails with a 500; the others pass. A
    test fails the Nth page of a pull this way, deterministically, in any process.
    """
    rule = (config.options or {}).get("fail_requests")
    if not isinstance(rule, dict) or str(rule.get("path_contains", "")) not in path:
        return None
    slot, _ = SandboxRateSlot.objects.get_or_create(kind=config.kind, bucket="scripted_faults", slot_start=0)
    SandboxRateSlot.objects.filter(pk=slot.pk).update(count=F("count") + 1)
    number = SandboxRateSlot.objects.filter(pk=slot.pk).values_list("count", flat=True).first() or 0
    if number not in {int(n) for n in rule.get("nth") or [] if str(n).isdigit()}:
        return None
    return Faults(status=int(rule.get("status", 500)), labels=[f"scripted:{number}"])
