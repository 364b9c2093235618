"""tests.live_requests: the wait that keeps a hung live-server request out of later tests.

The signals are sent from threads of their own, as a live server's are: Django's own receivers
(close_old_connections) then touch no connection of the test's.
"""

import threading
import time

from django.core.signals import request_finished, request_started

from tests.live_requests import RequestsInFlight


def _request_in_another_thread(seconds: float) -> threading.Thread:
    def serve():
        request_started.send(sender=None, environ={})
        time.sleep(seconds)
        request_finished.send(sender=None)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_waits_for_a_request_still_being_answered():
    with RequestsInFlight() as in_flight:
        thread = _request_in_another_thread(0.3)
        time.sleep(0.05)
        began = time.monotonic()

        assert in_flight.wait_idle(timeout=5)

        assert time.monotonic() - began >= 0.2
        assert not thread.is_alive() or thread.join(1) is None


def test_reports_a_request_that_outlasts_the_timeout():
    release = threading.Event()

    def serve():
        request_started.send(sender=None, environ={})
        release.wait(5)
        request_finished.send(sender=None)

    with RequestsInFlight() as in_flight:
        thread = threading.Thread(target=serve)
        thread.start()
        time.sleep(0.05)

        assert in_flight.wait_idle(timeout=0.1) is False

        release.set()
        thread.join(5)
        assert in_flight.wait_idle(timeout=1)


def test_nothing_counts_once_closed():
    in_flight = RequestsInFlight()
    with in_flight:
        pass
    thread = _request_in_another_thread(0.5)
    time.sleep(0.05)

    assert in_flight.wait_idle(timeout=0.01)
    thread.join(5)
