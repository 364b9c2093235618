"""Cached yes/no facts about an organization that most requests ask and few writes change.

"Has it an auto-sync connection?", "any webhook subscription?", "any contact property
definition?": when the answer is no, which it is for most organizations most of the time,
the request skips the query that would find nothing. A cached yes costs nothing either: the
caller runs its real query, which reads the current rows.

Every write that can turn a no into a yes forgets the flag (org_flag_forget, wired to the
models' post_save/post_delete and called by bulk writers), now and again after its commit.
With a shared cache (Redis, production) or one web process (the embedded default) the next
request sees the change; several processes on a process-local cache see it within
ORG_FLAGS_CACHE_SECONDS.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction


def _key(name: str, organization_id: int) -> str:
    return f"org_flag:{name}:{organization_id}"


def org_flag(name: str, organization_id: int, compute: Callable[[], bool]) -> bool:
    """The cached answer to `compute()` for this organization (computed and cached on a miss)."""
    seconds = settings.ORG_FLAGS_CACHE_SECONDS
    if not seconds:
        return compute()
    key = _key(name, organization_id)
    value = cache.get(key)
    if value is None:
        value = bool(compute())
        cache.set(key, value, timeout=seconds)
    return value


def org_flag_forget(name: str, organization_id: int | None) -> None:
    """Drop the flag now and once the current transaction commits (a reader between the two
    could have cached the old answer)."""
    if organization_id is None:
        return
    key = _key(name, organization_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)
