"""Settings for every mode. Defaults are the embedded mode; production overrides by environment.

Every variable read here is listed, with a comment, in .env.example.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, VAR_DIR, env, local_secret, new_fernet_key, new_secret_key

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _required_in_production(name: str, *, embedded_default):
    """Read `name`, falling back to an embedded default only while DEBUG is on.

    With DEBUG off a missing value stops start-up and names the variable, so a
    production deploy can never run on a laptop key.
    """
    value = env(name, default=None)
    if value:
        return value
    if DEBUG:
        return embedded_default()
    raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off.")


SECRET_KEY = _required_in_production(
    "DJANGO_SECRET_KEY", embedded_default=lambda: local_secret("secret_key", new_secret_key)
)
# Fernet keys for encrypted fields: comma-separated, the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in _required_in_production(
        "FIELD_ENCRYPTION_KEYS", embedded_default=lambda: local_secret("field_encryption_key", new_fernet_key)
    ).split(",")
    if key.strip()
]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "axes",
    "core",
    "accounts",
    "contacts",
    "properties",
    "integrations",
    "sandbox",
    "crm_sync",
    "webhooks",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.ApiTrailingSlashMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.security_headers.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out user and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database: SQLite under var/ by default, PostgreSQL through DATABASE_URL.
# ------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes contended writers wait for the lock instead of failing mid-transaction;
    # WAL lets readers (the web) go on while a worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT compiles any statement whose estimated cost passes jit_above_cost: here that
    # is the few that read a million rows (sync-stats, the dashboard's counts, queue-all), whose
    # work is simple and whose compile took 30–110 ms each (docs/benchmarks.md "bench/queue_all.py"),
    # the whole margin of a 100 ms budget. Off for this application's sessions unless DATABASE_JIT.
    if not env.bool("DATABASE_JIT", default=False):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()

# The run activity index INCLUDEs its counters so PostgreSQL answers from the index alone;
# SQLite builds the same index without them, which is all the embedded mode needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# ------------------------------------------------------------------------------
# Cache: local memory by default, Redis in production (throttling and CRM rate limits live here).
# ------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://crm-sync-hub")}
# Seconds an organization's cached yes/no facts live (core/org_flags.py: has auto-sync
# connections, webhook subscriptions, contact property definitions). Writes forget them at
# once; this bounds only several web processes on the local-memory cache. 0: no cache.
ORG_FLAGS_CACHE_SECONDS = env.int("ORG_FLAGS_CACHE_SECONDS", default=10)

# ------------------------------------------------------------------------------
# Auth, i18n, static
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))

# A request body over this is refused with 413 before anything parses it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Admin CSV import and export need the model's permissions ("add" for import, to which the
# contact admin adds "change"; "view" for export); without these settings any staff user could.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# ------------------------------------------------------------------------------
# Security (production)
# ------------------------------------------------------------------------------
# Headers, HSTS, CSP and lock-outs are in config/settings/security.py.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)

# ------------------------------------------------------------------------------
# Per-topic blocks
# ------------------------------------------------------------------------------
from config.settings.apps import *  # noqa: E402,F403
from config.settings.celery import *  # noqa: E402,F403
from config.settings.contacts import *  # noqa: E402,F403
from config.settings.crm_sync import *  # noqa: E402,F403
from config.settings.drf import *  # noqa: E402,F403
from config.settings.integrations import *  # noqa: E402,F403
from config.settings.logging import *  # noqa: E402,F403
from config.settings.properties import *  # noqa: E402,F403
from config.settings.security import *  # noqa: E402,F403
from config.settings.webhooks import *  # noqa: E402,F403
