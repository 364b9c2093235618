"""One `env` object for every setting, and the project's paths.

The embedded default needs no configuration at all, so every value has a default
that works on a laptop; production overrides them through the environment.
"""

from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.utils.crypto import get_random_string

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(str(BASE_DIR / ".env"))

VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))


def local_secret(name: str, make) -> str:
    """Return a secret kept in var/, generating it on first use.

    Only the embedded default (DEBUG on) uses this: a laptop gets stable keys without
    anyone choosing them, and they never enter git because var/ is ignored.
    """
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def new_secret_key() -> str:
    return get_random_string(
        64, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*(-_=+)"
    )


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()
