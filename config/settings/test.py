"""Test settings: the same behaviour as base, only faster and isolated.

DATABASE_URL / CELERY_BROKER_URL / CACHE_URL from the environment still apply, so CI
runs the suite on PostgreSQL and Redis.
"""

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEYS = ["q1QCJ3o6x6B9Qd1iLvQ3qg5u0Cq3w7b0w8Zf0D6yJ2E="]
# Live-server and sandbox threads each open a connection; close it with the request so a
# PostgreSQL run does not pile up idle sessions (and can drop its test database at the end).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# A test's data lives in a transaction other connections cannot see: in-process pushes run
# one batch at a time. Tests of parallel lanes ask for them (transactional, PostgreSQL).
SYNC_PUSH_LANES = 1
# The live-server sandbox tests call 127.0.0.1/localhost on random ports. Tests of the outbound
# refusals override this with an empty list.
CRM_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1", "localhost", "::1"]

# Same reason for pulls: the read-ahead thread's connection could not see the test's rows.
# The transactional sandbox tests of pull switch it on.
SYNC_PULL_PREFETCH = False

# Usage counters written with each request, so a test reads them at once; tests of the batching
# set a period themselves (tests/accounts/test_api_key_usage.py).
API_KEY_USAGE_FLUSH_SECONDS = 0
