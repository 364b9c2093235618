"""Who did something: a user, an API key or the system. Services take one to audit writes."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    type: str  # AuditEvent.ActorType value
    user: Any = None
    api_key: Any = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type="system", label=label)

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(type="user", user=user, label=user.get_username())

    @classmethod
    def for_api_key(cls, api_key) -> "Actor":
        return cls(type="api_key", api_key=api_key, label=f"api_key:{api_key.prefix} ({api_key.name})")

    @classmethod
    def from_request(cls, request) -> "Actor":
        from accounts.authentication import ApiKeyPrincipal

        if isinstance(request.user, ApiKeyPrincipal):
            return cls.for_api_key(request.user.api_key)
        if getattr(request.user, "is_authenticated", False):
            return cls.for_user(request.user)
        return cls.system("anonymous")
