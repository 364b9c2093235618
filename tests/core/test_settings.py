"""Settings parse in both modes and refuse unsafe production settings (each run in a fresh interpreter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FERNET = "q1QCJ3o6x6B9Qd1iLvQ3qg5u0Cq3w7b0w8Zf0D6yJ2E="
PRINT = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.SANDBOX_ENABLED, "
    "len(s.SECRET_KEY))"
)


def run_settings(tmp_path, **overrides):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.base", "VAR_DIR": str(tmp_path / "var")})
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    env.pop("SANDBOX_ENABLED", None)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_embedded_default_needs_nothing_and_keeps_generated_keys(tmp_path):
    first = run_settings(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["True", "django.db.backends.sqlite3", "filesystem://", "True", "64"]
    secret = (tmp_path / "var" / "secret_key").read_text()
    assert (tmp_path / "var" / "field_encryption_key").exists()
    assert run_settings(tmp_path).returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == secret  # generated once, then kept


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEYS": FERNET,
    "DJANGO_ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "postgres://u:p@db:5432/crm",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
}


def test_production_settings_parse(tmp_path):
    result = run_settings(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "django.db.backends.postgresql",
        "redis://redis:6379/0",
        "False",
        "50",
    ]
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(tmp_path, missing):
    settings = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_settings(tmp_path, **settings)
    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_DEBUG is off" in result.stderr


def test_an_invalid_encryption_key_is_named(tmp_path):
    code = "import django; django.setup(); from core.fields import fernet; fernet()"
    env = {**os.environ, **PRODUCTION, "FIELD_ENCRYPTION_KEYS": "not-a-key", "VAR_DIR": str(tmp_path)}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS holds an invalid Fernet key" in result.stderr
