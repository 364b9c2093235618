"""The 3-way merge of a pulled record into a local contact: pure, no database, no clock.

A field is in conflict only when it changed on BOTH sides since `base`, the last value the
two sides agreed on, and the two new values differ. A field changed on one side only is
taken from that side, whatever happens to the other fields of the record. Only fields
present in `remote` are considered: a CRM that does not send a field says nothing about it.

Empty values (None, "", [], {}) are one value: a CRM that answers null for a field the
contact holds as "" has not changed it.

Choices where the contract is silent:
- A local win (local_wins, or latest_timestamp with local later) moves the base to the
  remote value just seen, not to the local one: the local value then reads as a local-only
  change until the push that carries it lands (the push side stores what it pushed). If
  that push fails, the next pull does not read the CRM's unchanged value as a remote-only
  change that would overwrite the local win, nor raise the same conflict again; a newer
  remote edit is a new conflict, as it should be.
- latest_timestamp compares the record-level times given (the contact's updated_at and the
  CRM's modified time). When either is missing, or they are equal, it cannot tell which side
  is newer, so the field is left as it is locally and returned in `conflicts` for review,
  as manual_review would: nothing is overwritten on a guess.
- A contact seen for the first time (no base for a field) takes the remote value where the
  local one is empty; a local value the CRM lacks stays local with no base (the next push
  sends it); values set on both sides and differing are a conflict under the strategy, with
  `base` None.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REMOTE_WINS = "remote_wins"
LOCAL_WINS = "local_wins"
LATEST_TIMESTAMP = "latest_timestamp"
MANUAL_REVIEW = "manual_review"
STRATEGIES = (REMOTE_WINS, LOCAL_WINS, LATEST_TIMESTAMP, MANUAL_REVIEW)


@dataclass(frozen=True)
class FieldConflict:
    base: Any
    local: Any
    remote: Any


@dataclass(frozen=True)
class MergeResult:
    local_updates: dict[str, Any] = field(default_factory=dict)
    push_back: dict[str, Any] = field(default_factory=dict)
    conflicts: dict[str, FieldConflict] = field(default_factory=dict)
    new_base: dict[str, Any] = field(default_factory=dict)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def values_equal(a: Any, b: Any) -> bool:
    if is_empty(a) and is_empty(b):
        return True
    return a == b


def _winner(*, strategy: str, local_modified_at: datetime | None, remote_modified_at: datetime | None) -> str:
    """'local', 'remote' or 'review' for a field changed on both sides."""
    if strategy == REMOTE_WINS:
        return "remote"
    if strategy == LOCAL_WINS:
        return "local"
    if strategy == LATEST_TIMESTAMP:
        if local_modified_at is None or remote_modified_at is None or local_modified_at == remote_modified_at:
            return "review"
        return "remote" if remote_modified_at > local_modified_at else "local"
    return "review"


def merge_remote_fields(
    *,
    strategy: str,
    base: dict,
    local: dict,
    remote: dict,
    local_modified_at: datetime | None,
    remote_modified_at: datetime | None,
) -> MergeResult:
    """Merge `remote` into `local` against `base`; see the module docstring for the rules.

    `new_base` is the whole base to store (the given one with the considered fields moved),
    so a caller can save it as it is.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown conflict strategy {strategy!r}; valid: {', '.join(STRATEGIES)}.")
    local_updates: dict[str, Any] = {}
    push_back: dict[str, Any] = {}
    conflicts: dict[str, FieldConflict] = {}
    new_base = dict(base)
    winner = None  # computed once, only when some field is in conflict
    for name, remote_value in remote.items():
        local_value = local.get(name)
        if values_equal(local_value, remote_value):
            new_base[name] = remote_value  # both sides agree, whatever the base said
            continue
        if name in base:
            base_value = base[name]
            if values_equal(remote_value, base_value):
                continue  # changed locally only: the push side sends it
            if values_equal(local_value, base_value):
                local_updates[name] = remote_value  # changed in the CRM only
                new_base[name] = remote_value
                continue
        else:
            base_value = None
            if is_empty(local_value):
                local_updates[name] = remote_value  # first sight: fill what is empty locally
                new_base[name] = remote_value
                continue
            if is_empty(remote_value):
                continue  # first sight, the CRM lacks it: the push side sends it
        if winner is None:
            winner = _winner(
                strategy=strategy, local_modified_at=local_modified_at, remote_modified_at=remote_modified_at
            )
        if winner == "remote":
            local_updates[name] = remote_value
            new_base[name] = remote_value
        elif winner == "local":
            push_back[name] = local_value
            new_base[name] = remote_value
        else:
            conflicts[name] = FieldConflict(base=base_value, local=local_value, remote=remote_value)
    return MergeResult(
        local_updates=local_updates, push_back=push_back, conflicts=conflicts, new_base=new_base
    )
