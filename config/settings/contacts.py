"""Settings of the contacts app. Every variable read here is listed in .env.example."""

from config.env import env

# Hours an Idempotency-Key is remembered on POST /contacts/ and /contacts/from-event/.
CONTACTS_IDEMPOTENCY_TTL_HOURS = env.int("CONTACTS_IDEMPOTENCY_TTL_HOURS", default=24)
