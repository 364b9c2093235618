"""Know when a live server has answered every request it was sent.

A test's HTTP client can give up before the server does: a sandbox timeout fault hangs the
server's thread for seconds after the client's read timeout. That thread then writes its log
row during some later test. On SQLite the live server shares the test's connection, and its
statement in flight at another test's teardown failed that test ("cannot commit transaction -
SQL statements in progress"); on PostgreSQL the row lands in the other test's data.
"""

import threading

from django.core.signals import request_finished, request_started


class RequestsInFlight:
    """Counts the requests Django is handling, in any thread, while the context is open."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def _started(self, **kwargs) -> None:
        with self._changed:
            self._count += 1

    def _finished(self, **kwargs) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def __enter__(self) -> "RequestsInFlight":
        request_started.connect(self._started, weak=False)
        request_finished.connect(self._finished, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        request_started.disconnect(self._started)
        request_finished.disconnect(self._finished)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every request seen starting has finished; False if `timeout` ran out.

        A request that started before the context opened is not waited for.
        """
        with self._changed:
            return self._changed.wait_for(lambda: self._count <= 0, timeout=timeout)
