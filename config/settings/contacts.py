"""Settings of the contacts app. Every variable read here is listed in .env.example."""

from config.env import env  # noqa: F401
