"""Settings of the webhooks app. Every variable read here is listed in .env.example."""

from config.env import env

# Attempts of one delivery before it is given up (the first one included).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Backoff between attempts: base * 2**attempt seconds with jitter, capped.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_CAP_SECONDS = env.float("WEBHOOK_RETRY_CAP_SECONDS", default=3600.0)
# Failed attempts in a row (any delivery) after which a subscription is paused.
WEBHOOK_PAUSE_AFTER_FAILURES = env.int("WEBHOOK_PAUSE_AFTER_FAILURES", default=10)
# Seconds a receiver has to answer (connect, read).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A subscription held by a sender for longer than this is freed (its worker died).
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
# Characters of a receiver's answer kept on the delivery.
WEBHOOK_RESPONSE_MAX_CHARS = env.int("WEBHOOK_RESPONSE_MAX_CHARS", default=2000)
