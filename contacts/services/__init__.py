"""Writes of the contacts app: contacts, events and registrations, from-event, idempotency."""
