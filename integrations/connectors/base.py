"""The connector contract: a class per CRM kind, bound per use to one CrmConnection.

A connector is stateless metadata on the class (kind, capabilities, limits, default field
mapping) plus narrow capability methods on the instance. A method a connector does not
support raises CapabilityNotSupported; `capabilities` must agree with what it overrides
(the registry checks at start-up).
"""

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from core.logging import redact_capped
from integrations.errors import CapabilityNotSupported, CrmError

# How much of a request or response body a PushResult keeps for operators.
SNIPPET_MAX_CHARS = 2000


def snippet(value: Any, *, secrets: tuple[str, ...] = ()) -> Any:
    """A redacted, size-capped copy of a body for PushResult.request / .response."""
    return redact_capped(value, secrets=secrets, max_chars=SNIPPET_MAX_CHARS)


class Capability(enum.StrEnum):
    PUSH_CONTACTS = "push_contacts"
    PULL_CONTACTS = "pull_contacts"
    PULL_DEALS = "pull_deals"
    SYNC_PROPERTIES = "sync_properties"
    TEST_CREDENTIALS = "test_credentials"
    # Change one pulled record (a REST CRM's project, task...) and run its actions.
    WRITE_RECORDS = "write_records"


@dataclass(frozen=True)
class RecordWrite:
    """One accepted write of a record: the exchange, redacted and size-capped, for operators."""

    request: dict
    response: Any = None


@dataclass(frozen=True)
class ContactPayload:
    """What the sync engine hands a connector for one contact.

    `properties` holds local field names and custom properties (already merged); the
    connector maps them to remote names with the connection's field mapping.
    `idempotency_key` changes whenever the payload does (the payload hash).
    """

    contact_id: str
    email: str | None
    properties: dict[str, Any]
    remote_id: str | None = None
    idempotency_key: str = ""


@dataclass
class PushResult:
    contact_id: str
    ok: bool
    remote_id: str | None = None
    created: bool | None = None
    error: CrmError | None = None
    # What was sent and what came back for this contact, redacted and size-capped, for operators.
    request: Any = None
    response: Any = None


@dataclass
class RemoteRecord:
    """One object read from a CRM (a contact, a deal...).

    `properties` carry mapped fields under local names (the rest keep the CRM's names);
    `raw` is the object as the CRM sent it. `archived` marks a record the CRM archived or
    deleted; `merged_ids` are ids the CRM merged into this one (they point at it from now on).
    `links` name related records by object type: {"contacts": "<the CRM's contact id>"}.
    """

    remote_id: str
    object_type: str
    properties: dict[str, Any]
    updated_at: datetime | None = None
    email: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    archived_at: datetime | None = None
    merged_ids: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    records: list[RemoteRecord]
    next_cursor: str | None  # None: nothing more now; pass it back to continue
    raw_count: int = 0


@dataclass
class RemoteProperty:
    """A property (custom field) definition as the CRM has it."""

    name: str
    label: str
    type: str
    field_type: str = ""
    group_name: str = ""
    description: str = ""
    options: list[dict] = field(default_factory=list)
    remote_id: str | None = None
    crm_defined: bool = False  # HubSpot's own properties are never modified
    raw: dict = field(default_factory=dict)


@dataclass
class CredentialCheck:
    ok: bool
    account: dict[str, Any] = field(default_factory=dict)  # what the CRM says about the account
    message: str = ""


class Connector:
    kind: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    default_base_url: ClassVar[str] = ""
    # A hosted CRM's API hosts: its connections may call no other host unless the operator lists
    # one (integrations/outbound.py). Empty for self-hosted kinds, which may call any public host.
    api_hosts: ClassVar[tuple[str, ...]] = ()
    batch_size_max: ClassVar[int] = 100
    default_field_mapping: ClassVar[dict[str, str]] = {}
    # Requests per window, from the CRM's documentation; None means unlimited unless configured.
    default_rate_limit: ClassVar[tuple[int, float] | None] = None
    # Requests per day (HubSpot's account quota); None: no daily quota.
    default_daily_quota: ClassVar[int | None] = None
    # The named limiters its client uses (crm-config shows which are paused after a 429).
    rate_limiter_names: ClassVar[tuple[str, ...]] = ("default",)
    # What a credential test may report about the account: only these keys of
    # CredentialCheck.account reach a response, each value cut short (crm_sync/services/credentials.py).
    account_fields: ClassVar[tuple[str, ...]] = ()
    # Names of the credential fields this connector reads (all are treated as secret).
    credential_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, connection) -> None:
        self.connection = connection

    # -- helpers for subclasses -----------------------------------------------------------
    @classmethod
    def daily_quota_default(cls, connection) -> int | None:
        """The daily quota a connection starts from (a connector may derive it from settings)."""
        return cls.default_daily_quota

    @classmethod
    def rate_limit_default(cls, connection) -> tuple[int, float] | None:
        """The preset of the "default" limiter (a connector may derive it from settings)."""
        return cls.default_rate_limit

    @property
    def credentials(self) -> dict[str, Any]:
        """Stored credentials, or the environment's for the default organization."""
        from integrations.selectors import connection_credentials

        return connection_credentials(connection=self.connection)

    @cached_property
    def field_mapping(self) -> dict[str, str]:
        """The connector's default mapping with the connection's overrides on top.

        Cached for this instance (one use: a batch or a pull), as it costs a query.
        """
        from integrations.selectors import connection_field_mapping

        return connection_field_mapping(connection=self.connection)

    @property
    def batch_size(self) -> int:
        return max(1, min(self.connection.batch_size or self.batch_size_max, self.batch_size_max))

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _unsupported(self, capability: Capability):
        raise CapabilityNotSupported(f"{self.kind} does not support {capability.value}", crm=self.kind)

    # -- capabilities -------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        self._unsupported(Capability.TEST_CREDENTIALS)

    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        """Push a batch; return exactly one PushResult per input, in input order."""
        self._unsupported(Capability.PUSH_CONTACTS)

    def pull_contacts(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        self._unsupported(Capability.PULL_CONTACTS)

    def pull_deals(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        self._unsupported(Capability.PULL_DEALS)

    def pull_object_types(self) -> tuple[str, ...]:
        """The object types a pull reads from this connection, contacts first."""
        types = []
        if self.supports(Capability.PULL_CONTACTS):
            types.append("contacts")
        if self.supports(Capability.PULL_DEALS):
            types.append("deals")
        return tuple(types)

    def pull(self, object_type: str, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        """Pages of `object_type` changed since `since` (or resumed at `cursor`), oldest first.

        Each page's next_cursor resumes right after it; the last page's is None.
        """
        if object_type not in self.pull_object_types():
            raise CapabilityNotSupported(
                f"{self.kind} does not pull {object_type!r}; it pulls {list(self.pull_object_types())}",
                crm=self.kind,
            )
        if object_type == "contacts":
            return self.pull_contacts(since=since, cursor=cursor)
        return self.pull_deals(since=since, cursor=cursor)

    def write_record(self, *, entity: str, remote_id: str, values: dict, current: dict) -> RecordWrite:
        """Change the fields `values` (local names) of one record; `current` is the record's raw
        body as last pulled, for APIs whose update replaces the whole record."""
        self._unsupported(Capability.WRITE_RECORDS)

    def record_action(self, *, entity: str, remote_id: str, action: str, body: dict) -> RecordWrite:
        """Run one of the CRM's actions on a record (seed 002: a task's assign and status)."""
        self._unsupported(Capability.WRITE_RECORDS)

    # Actions each entity offers: {entity: {action: the field the action sets}}.
    record_actions: ClassVar[dict[str, dict[str, str]]] = {}

    def list_properties(self, *, object_type: str) -> list[RemoteProperty]:
        self._unsupported(Capability.SYNC_PROPERTIES)

    def create_properties(
        self, *, object_type: str, properties: Sequence[RemoteProperty]
    ) -> list[PushResult]:
        self._unsupported(Capability.SYNC_PROPERTIES)

    def update_property(self, *, object_type: str, prop: RemoteProperty) -> RemoteProperty:
        self._unsupported(Capability.SYNC_PROPERTIES)

    # Object types whose property definitions this CRM keeps (Brevo and Mautic: contacts only).
    property_object_types: ClassVar[tuple[str, ...]] = ("contacts",)

    @classmethod
    def remote_property_name(cls, name: str) -> str:
        """The CRM's name for a custom property our definitions call `name` (property sync creates it)."""
        return name

    def property_projection(self, prop: RemoteProperty) -> RemoteProperty:
        """How this CRM would store a local definition (names, types, options as it lists them).

        Property sync diffs the projection against the CRM's own listing, so a CRM that
        upper-cases names or has no labels does not look changed on every run.
        """
        return prop

    def ensure_property_group(self, *, object_type: str, name: str, label: str) -> None:
        """Create a property group when missing (CRMs without groups do nothing)."""
