"""core.heap: the start-up heap is frozen out of the collector's walks, and nothing leaks."""

import gc
import weakref

import pytest
from celery.signals import worker_process_init, worker_ready

from config import celery as celery_config
from core.heap import heap_settle


class _Thing:
    pass


@pytest.fixture
def thawed():
    """Each test leaves the test process's collector as it found it."""
    yield
    gc.unfreeze()


def _tracked(obj) -> bool:
    return any(candidate is obj for candidate in gc.get_objects())


def test_objects_made_before_are_frozen_and_later_ones_are_collected(thawed):
    before = _Thing()
    assert _tracked(before)

    frozen = heap_settle()

    # Not equal to a later count: a frozen object another thread lets go of leaves the count.
    assert frozen > 0 and gc.get_freeze_count() > 0
    assert not _tracked(before)  # in the permanent generation: no collection walks it
    after = _Thing()
    assert _tracked(after)


def test_frozen_objects_are_still_freed_by_reference_counting(thawed):
    thing = _Thing()
    ref = weakref.ref(thing)
    heap_settle()

    del thing

    assert ref() is None


def test_start_up_garbage_is_collected_not_frozen(thawed):
    cycle = _Thing()
    cycle.me = cycle
    ref = weakref.ref(cycle)
    del cycle

    heap_settle()

    assert ref() is None


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init], ids=["solo", "prefork child"])
def test_celery_workers_settle_their_heap_once_booted(signal):
    # Celery keeps weak references unless told otherwise; a strong one is the function itself.
    receivers = [r() if isinstance(r, weakref.ReferenceType) else r for _key, r in signal.receivers]
    assert celery_config._settle_heap in receivers


def test_the_worker_hook_freezes(thawed):
    celery_config._settle_heap()

    assert gc.get_freeze_count() > 0
