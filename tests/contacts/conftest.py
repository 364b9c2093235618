import pytest

from accounts.actors import Actor


@pytest.fixture
def actor():
    return Actor.system("test")
