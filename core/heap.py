"""Keep the cyclic garbage collector off the heap a long-running process builds at start-up.

A Celery worker imports Django, Celery, kombu and every app before its first task: hundreds of
thousands of objects that live as long as the process. Python's full collections walk every
one of them, and a push batch keeps enough objects alive across its HTTP wait to set one off
every few batches: perf found 18% of the push worker's CPU in the collector
(docs/benchmarks.md). `gc.freeze()` moves what exists now into a permanent generation the
collector never visits, so collections walk only what tasks made. Nothing is leaked: frozen
objects are still freed by reference counting, and only cycles among them stay.
"""

import gc


def heap_settle() -> int:
    """Collect start-up garbage, then freeze the rest; return how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
