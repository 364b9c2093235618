"""tests.live_requests: the wait that keeps a hung live-server request out of later tests.

The signals are sent from threads of their own, as a live server's are: Django's own receivers
(close_old_connections) then touch no connection of the test's.
"""

import threading

from django.core.signals import request_finished, request_started

from tests.live_requests import RequestsInFlight


class _Request(threading.Thread):
    """A request in another thread that is answered when `answer` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.began, self.answer, self.answered = threading.Event(), threading.Event(), threading.Event()

    def run(self) -> None:
        request_started.send(sender=None, environ={})
        self.began.set()
        self.answer.wait(5)
        self.answered.set()
        request_finished.send(sender=None)


def test_waits_for_a_request_still_being_answered():
    with RequestsInFlight() as in_flight:
        request = _Request()
        request.start()
        request.began.wait(5)
        threading.Timer(0.2, request.answer.set).start()

        assert in_flight.wait_idle(timeout=5)

        assert request.answered.is_set()
        request.join(5)


def test_reports_a_request_that_outlasts_the_timeout():
    with RequestsInFlight() as in_flight:
        request = _Request()
        request.start()
        request.began.wait(5)

        assert in_flight.wait_idle(timeout=0.1) is False

        request.answer.set()
        request.join(5)
        assert in_flight.wait_idle(timeout=1)


def test_nothing_counts_once_closed():
    in_flight = RequestsInFlight()
    with in_flight:
        pass
    request = _Request()
    request.start()
    request.began.wait(5)

    assert in_flight.wait_idle(timeout=0.01)

    request.answer.set()
    request.join(5)
