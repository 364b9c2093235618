"""The admin login locks a user out from an address after repeated wrong passwords (django-axes)."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-secret-123"  # UserFactory's


def attempt(password: str, *, address: str = "203.0.113.7", username: str = "door") -> int:
    response = Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})
    return response.status_code


@pytest.fixture
def user(settings):
    settings.AXES_FAILURE_LIMIT = 5
    return UserFactory(username="door", is_superuser=True)


def test_the_right_password_after_too_many_wrong_ones_is_refused(user):
    # the form answers 200 (wrong password) until the limit, then the pair is locked
    assert [attempt("wrong") for _ in range(4)] == [200] * 4
    assert attempt("wrong") == 429
    assert attempt(PASSWORD) == 429
    assert AccessAttempt.objects.filter(username="door", ip_address="203.0.113.7").exists()


def test_a_locked_user_can_still_log_in_from_another_address(user):
    for _ in range(5):
        attempt("wrong")
    assert attempt(PASSWORD) == 429
    assert attempt(PASSWORD, address="198.51.100.9") == 302


def test_fewer_failures_than_the_limit_then_success_resets_the_count(user):
    for _ in range(4):
        attempt("wrong")
    assert attempt(PASSWORD) == 302
    assert not AccessAttempt.objects.filter(username="door").exists()
    assert [attempt("wrong") for _ in range(4)] == [200] * 4


def test_unlock_on_the_command_line(user):
    for _ in range(5):
        attempt("wrong")
    assert attempt(PASSWORD) == 429
    call_command("axes_reset_username", "door")
    assert attempt(PASSWORD) == 302


def test_unlock_in_the_admin(user):
    for _ in range(5):
        attempt("wrong")
    operator = Client()
    operator.force_login(UserFactory(is_superuser=True))
    locked = AccessAttempt.objects.get(username="door")
    page = operator.get(f"/admin/axes/accessattempt/{locked.pk}/change/")
    assert page.status_code == 200 and "door" in page.content.decode()
    response = operator.post(f"/admin/axes/accessattempt/{locked.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert attempt(PASSWORD) == 302


def test_the_attempt_log_never_holds_a_password(user):
    attempt("wrong-but-secret-guess")
    stored = AccessAttempt.objects.get(username="door").post_data
    assert "door" in stored  # the log is kept, with the user name
    assert "wrong-but-secret-guess" not in stored
