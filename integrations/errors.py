"""One error taxonomy for every CRM.

Connectors and the HTTP client raise only these; the sync engine decides what to do by
`category` and `retriable`, never by a CRM's status code. Each carries the CRM's own
message (secrets redacted) so an operator sees what the CRM said.
"""

from datetime import datetime
from typing import Any, ClassVar

# A CRM's message is text from another server: it is kept (in sync states, runs, the circuit
# reason, test-credentials answers) only up to this length.
MESSAGE_MAX_CHARS = 1000


class CrmError(Exception):
    category: ClassVar[str] = "unknown"
    retriable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
        crm: str = "",
    ):
        super().__init__(message)
        self.message = message[:MESSAGE_MAX_CHARS]
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.crm = crm

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "retriable": self.retriable,
            "message": self.message,
            "status": self.status,
            "retry_after": self.retry_after,
        }

    def __str__(self) -> str:
        prefix = f"{self.crm} " if self.crm else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{prefix}{self.category}{status}: {self.message}"


class CrmAuthError(CrmError):
    category = "auth"


class CrmTargetRefused(CrmAuthError):
    """The outbound rules (integrations/outbound.py) or the credentials' host binding refused the
    call before anything was sent. An auth error, so a sync pauses the connection (its circuit)
    until someone fixes its base URL or credentials, instead of retrying."""


class CrmRateLimited(CrmError):
    """Not a failed attempt: wait `retry_after` seconds (or the window) and try again.

    `policy` names the CRM's limit when it says which (HubSpot's policyName:
    TEN_SECONDLY_ROLLING, SECONDLY, DAILY); `resets_at` is set for a daily quota, which no
    short wait can outlast: the connection is held until then.
    """

    category = "rate_limited"
    retriable = True

    def __init__(self, message: str, *, policy: str = "", resets_at: datetime | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.policy = policy
        self.resets_at = resets_at

    @property
    def daily(self) -> bool:
        return self.resets_at is not None

    def as_dict(self) -> dict:
        body = super().as_dict()
        if self.policy:
            body["policy"] = self.policy
        if self.resets_at is not None:
            body["resets_at"] = self.resets_at.isoformat()
        return body


class CrmValidationError(CrmError):
    category = "validation"


class CrmConflict(CrmError):
    category = "conflict"


class CrmNotFound(CrmError):
    category = "not_found"


class CrmLocked(CrmError):
    """HubSpot 423: another write holds the record; its docs say wait about 2 seconds."""

    category = "locked"
    retriable = True


class CrmUnavailable(CrmError):
    """Connection refused, DNS, 5xx, or a response we cannot parse."""

    category = "unavailable"
    retriable = True


class CrmTimeout(CrmError):
    category = "timeout"
    retriable = True


class CapabilityNotSupported(CrmError):
    category = "not_supported"


ERROR_CLASSES: dict[str, type[CrmError]] = {
    cls.category: cls
    for cls in (
        CrmAuthError,
        CrmRateLimited,
        CrmValidationError,
        CrmConflict,
        CrmNotFound,
        CrmLocked,
        CrmUnavailable,
        CrmTimeout,
        CapabilityNotSupported,
    )
}
