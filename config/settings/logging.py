"""Logging: plain lines by default, JSON lines when LOG_FORMAT=json; secrets redacted everywhere."""

from config.env import env

LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# Routine lines held back: beat's "Sending due task" and the worker's received/succeeded pair for
# every tick of the 5 s dispatcher would bury everything else, and kombu warns on every connection
# to the file broker that it has no host name. runstack (make run) turns it on.
LOG_QUIET_ROUTINE = env.bool("LOG_QUIET_ROUTINE", default=False)
_ROUTINE_LOGGERS = {
    "celery.beat": "WARNING",
    "celery.app.trace": "WARNING",
    "celery.worker.strategy": "WARNING",
    "kombu.connection": "ERROR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "core.logging.RedactSecretsFilter"},
        "request_id": {"()": "core.logging.RequestIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["request_id", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # django-axes logs every login at INFO; its warnings (failures, lock-outs) are what matter.
        "axes": {"level": "WARNING"},
        **({name: {"level": level} for name, level in _ROUTINE_LOGGERS.items()} if LOG_QUIET_ROUTINE else {}),
    },
}
