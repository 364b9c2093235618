"""The dispatcher: start push tasks for connections with due work (beat runs it every few seconds).

Broker messages are only nudges: the rows are the queue. A lost or duplicated message
costs at most one idle task, which finds nothing to claim and returns.
"""

import logging
import math
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from crm_sync import connections
from crm_sync.dispatch_marks import dispatch_mark
from crm_sync.queue import due_states

logger = logging.getLogger(__name__)


def pushes_dispatch_due(*, now: datetime | None = None, enqueue=None) -> dict[int, int]:
    """Enqueue push tasks for every pushable connection with due rows; return {connection_id: tasks}.

    Each connection is dispatched at most once per its push interval (crm_sync/dispatch_marks.py);
    a backlog gets up to SYNC_MAX_PARALLEL_PUSHES tasks at once, one per batch.
    """
    now = now or timezone.now()
    if enqueue is None:
        from crm_sync.tasks import push_batch as push_batch_task

        def enqueue(connection_id: int, expires: float) -> None:
            push_batch_task.apply_async(kwargs={"connection_id": connection_id}, expires=expires)

    max_parallel = max(settings.SYNC_MAX_PARALLEL_PUSHES, 1)
    dispatched: dict[int, int] = {}
    for connection in connections.unheld(connections.pushable_connections(), now=now).only(
        "pk", "kind", "batch_size", "push_interval_seconds"
    ):
        batch = connections.batch_size(connection)
        due = due_states(connection_id=connection.pk, now=now)[: batch * max_parallel].count()
        if not due:
            continue
        interval = max(connection.push_interval_seconds, 1)
        if not dispatch_mark(connection=connection, now=now):
            continue
        tasks = min(math.ceil(due / batch), max_parallel)
        for _ in range(tasks):
            enqueue(connection.pk, max(interval * 1.5, 30))
        dispatched[connection.pk] = tasks
    if dispatched:
        logger.info("Dispatched push tasks: %s", dispatched)
    return dispatched
