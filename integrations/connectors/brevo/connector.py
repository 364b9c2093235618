"""BrevoConnector: push, pull, attributes and credential test against Brevo API v3.

Push has two paths (CRM-APIS.md §2.2, §2.4, §7.2):
- per contact, `POST /v3/contacts` with `updateEnabled: true` — synchronous, one request
  per contact (10 contacts/s on the General tier), and the only endpoint that creates
  *and* updates and reports each contact's outcome (201 with id / 204 updated);
- bulk, `POST /v3/contacts/import` with `jsonBody` — asynchronous (202 {processId}),
  thousands of contacts a request, no per-contact outcome: a contact is reported
  *accepted*, and `import_status(process_id)` confirms the process completed.
`push_contacts` takes the bulk path only when a batch is larger than
settings.import_threshold (default 200: at 10 requests/s that is 20 s of per-contact calls)
and the connection names the list(s) imports go to (settings.import_list_ids), which
Brevo's import requires. The deprecated `POST /v3/contacts/batch` is never used.
"""

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from django.core.cache import cache

from integrations.connectors.base import (
    Capability,
    Connector,
    ContactPayload,
    CredentialCheck,
    Page,
    PushResult,
    RemoteProperty,
)
from integrations.connectors.base import snippet as body_snippet
from integrations.errors import (
    CapabilityNotSupported,
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmNotFound,
    CrmValidationError,
)

from . import mapping
from .bulk import BrevoImportMixin, ImportJob
from .client import BrevoClient

__all__ = ["BrevoConnector", "ImportJob"]

TIER_RATES = {"general": (10, 1.0), "advanced": (20, 1.0), "extended": (60, 1.0)}
PAGE_SIZE_MAX = 1000
ACCOUNT_CACHE_SECONDS = 600  # /v3/account sits in the 100-requests-per-hour bucket
ATTRIBUTES_CACHE_SECONDS = 300
# Errors that would hit every following contact the same way: stop sending the batch.
BATCH_STOPPING = ("auth", "rate_limited", "unavailable", "timeout")


def _copy_error(error: CrmError, prefix: str) -> CrmError:
    return type(error)(
        f"{prefix}{error.message}", status=error.status, retry_after=error.retry_after, crm=error.crm
    )


class BrevoConnector(BrevoImportMixin, Connector):
    kind = "brevo"
    display_name = "Brevo"
    capabilities = frozenset(
        {
            Capability.PUSH_CONTACTS,
            Capability.PULL_CONTACTS,
            Capability.SYNC_PROPERTIES,
            Capability.TEST_CREDENTIALS,
        }
    )
    default_base_url = "https://api.brevo.com/v3"
    account_fields = ("email", "company_name", "first_name", "last_name", "plans")
    api_hosts = ("api.brevo.com",)
    # Per-contact pushes are one request each; bigger batches go through the import path.
    batch_size_max = 5000
    default_field_mapping: ClassVar[dict[str, str]] = mapping.DEFAULT_FIELD_MAPPING
    default_rate_limit = TIER_RATES["general"]
    credential_fields = ("api_key",)

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._client: BrevoClient | None = None
        self._attributes: dict[str, dict] | None = None

    @classmethod
    def rate_limit_default(cls, connection) -> tuple[int, float] | None:
        """settings.tier (general | advanced | extended) picks Brevo's contacts-group limit."""
        tier = str((connection.settings or {}).get("tier") or "general").lower()
        return TIER_RATES.get(tier, cls.default_rate_limit)

    # -- plumbing -------------------------------------------------------------------------
    @property
    def client(self) -> BrevoClient:
        if self._client is None:
            self._client = BrevoClient(
                self.connection,
                credentials=self.credentials,
                rate_limit=self.rate_limit_default(self.connection),
            )
        return self._client

    @property
    def options(self) -> dict[str, Any]:
        return self.connection.settings or {}

    def _mapping(self) -> dict[str, str]:
        return mapping.effective_mapping(default=self.field_mapping, override=None)

    def _cache_key(self, name: str) -> str:
        """Per connection *and* credentials: a new API key never reuses the old key's answers."""
        fingerprint = hashlib.sha256(
            f"{self.client.http.base_url}|{self.credentials.get('api_key', '')}".encode()
        ).hexdigest()[:16]
        return f"crm:brevo:{self.connection.pk or 'unsaved'}:{fingerprint}:{name}"

    def _secrets(self) -> tuple[str, ...]:
        return self.client.http.secrets()

    # -- credential test ------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        """GET /v3/account, with a success cached for 10 minutes per connection and key.

        /v3/account is in Brevo's 100-requests-per-hour bucket, so an admin clicking
        "test" repeatedly must not spend it. A refused key gives ok=False (never cached);
        transient failures (rate limit, outage, timeout) raise their CrmError.
        """
        key = self._cache_key("account")
        cached = cache.get(key)
        if cached is not None:
            return CredentialCheck(
                ok=True, account=cached, message="Brevo accepted the API key (checked recently)."
            )
        try:
            data = self.client.get_account()
        except CrmAuthError as error:
            return CredentialCheck(ok=False, message=error.message)
        account = {
            "email": data.get("email"),
            "company_name": data.get("companyName"),
            "first_name": data.get("firstName"),
            "last_name": data.get("lastName"),
            "plans": [plan.get("type") for plan in data.get("plan") or [] if isinstance(plan, dict)],
        }
        cache.set(key, account, ACCOUNT_CACHE_SECONDS)
        return CredentialCheck(ok=True, account=account, message="Brevo accepted the API key.")

    # -- attributes -----------------------------------------------------------------------
    def _attribute_index(self, *, refresh: bool = False) -> dict[str, dict]:
        """The account's attributes by name, cached a few minutes (pushes need them per batch)."""
        if self._attributes is not None and not refresh:
            return self._attributes
        key = self._cache_key("attributes")
        attributes = None if refresh else cache.get(key)
        if attributes is None:
            attributes = self.client.list_attributes()
            cache.set(key, attributes, ATTRIBUTES_CACHE_SECONDS)
        self._attributes = {a["name"].upper(): a for a in attributes}
        return self._attributes

    def _remember_attribute(self, attribute: dict) -> None:
        index = self._attribute_index()
        index[attribute["name"].upper()] = attribute
        cache.set(self._cache_key("attributes"), list(index.values()), ATTRIBUTES_CACHE_SECONDS)

    def _create_attribute(self, *, category: str, name: str, body: dict) -> bool:
        """Create one attribute; False when it already existed (another worker won the race)."""
        try:
            self.client.create_attribute(category=category, name=name, body=body)
        except (CrmConflict, CrmValidationError) as error:
            if "exist" not in error.message.lower():
                raise
            self._remember_attribute({"name": name, "category": category, "type": body.get("type")})
            return False
        attribute = {"name": name, "category": category, "type": body.get("type")}
        if body.get("enumeration"):
            attribute["enumeration"] = body["enumeration"]
        if body.get("multiCategoryOptions"):
            attribute["multiCategoryOptions"] = body["multiCategoryOptions"]
        self._remember_attribute(attribute)
        return True

    def _ensure_attributes(self, bodies: dict[int, dict]) -> dict[str, CrmError]:
        """Create the normal attributes the bodies use and the account lacks.

        Brevo ignores (or rejects) attributes that do not exist, so they are created first,
        typed from the first value seen. Returns name → error for attributes that could not
        be created (the contacts using them fail); batch-wide errors propagate.
        """
        existing = self._attribute_index()
        wanted: dict[str, Any] = {}
        for body in bodies.values():
            attributes = body["attributes"]
            for name, value in list(attributes.items()):
                if name in existing or name == "EMAIL":
                    continue
                if value in (None, ""):
                    # Nothing to clear in an attribute the account does not have; Brevo would
                    # refuse the whole contact for naming it.
                    del attributes[name]
                else:
                    wanted.setdefault(name, value)
        failures: dict[str, CrmError] = {}
        for name, value in wanted.items():
            attr_type = mapping.attribute_type_for_value(value)
            body: dict[str, Any] = {"type": attr_type}
            if attr_type == "multiple-choice":
                options = {str(v) for b in bodies.values() for v in b["attributes"].get(name) or []}
                body["multiCategoryOptions"] = sorted(options)
            try:
                self._create_attribute(category="normal", name=name, body=body)
            except CrmError as error:
                if error.category in BATCH_STOPPING:
                    raise
                failures[name] = error
        return failures

    # -- push -----------------------------------------------------------------------------
    def _bodies(self, records: Sequence[ContactPayload]) -> tuple[dict[int, dict], dict[int, PushResult]]:
        """Contact bodies by input index, and results for the contacts that cannot be sent."""
        contact_mapping = self._mapping()
        attributes = self._attribute_index()
        country = str(self.options.get("default_country_code") or "")
        bodies: dict[int, dict] = {}
        failed: dict[int, PushResult] = {}
        for index, record in enumerate(records):
            try:
                bodies[index] = mapping.contact_body(
                    payload=record,
                    mapping=contact_mapping,
                    attributes=attributes,
                    default_country_code=country,
                )
            except mapping.ContactMappingError as error:
                failed[index] = PushResult(
                    contact_id=record.contact_id,
                    ok=False,
                    error=CrmValidationError(str(error), crm=self.kind),
                    request=body_snippet(dict(record.properties), secrets=self._secrets()),
                )
        return bodies, failed

    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        """One PushResult per input, in input order (bulk import for big batches, see module doc)."""
        records = list(records)
        if not records:
            return []
        results: list[PushResult | None] = [None] * len(records)
        try:
            bodies, failed = self._bodies(records)
            for index, result in failed.items():
                results[index] = result
            attribute_failures = self._ensure_attributes(bodies)
        except CrmError as error:
            return [
                results[i] or PushResult(contact_id=r.contact_id, ok=False, error=error)
                for i, r in enumerate(records)
            ]
        for index, body in list(bodies.items()):
            broken = [name for name in body["attributes"] if name in attribute_failures]
            if broken:
                error = attribute_failures[broken[0]]
                results[index] = PushResult(
                    contact_id=records[index].contact_id,
                    ok=False,
                    error=type(error)(
                        f"attribute {broken[0]} could not be created: {error.message}", crm=self.kind
                    ),
                    request=body_snippet(body, secrets=self._secrets()),
                )
                del bodies[index]
        if self._use_import(len(bodies)):
            self._push_by_import(records, bodies, results)
        else:
            self._push_each(records, bodies, results)
        return [result for result in results if result is not None]

    def _push_each(self, records, bodies: dict[int, dict], results: list) -> None:
        stop: CrmError | None = None
        for index, body in bodies.items():
            record = records[index]
            request = body_snippet(body, secrets=self._secrets())
            if stop is not None:
                error = _copy_error(stop, "not sent after an earlier failure in this batch: ")
                results[index] = PushResult(
                    contact_id=record.contact_id, ok=False, error=error, request=request
                )
                continue
            try:
                response = self.client.create_contact(body)
            except CrmError as error:
                results[index] = PushResult(
                    contact_id=record.contact_id,
                    ok=False,
                    error=error,
                    request=request,
                    response=body_snippet(
                        {"status": error.status, "body": error.body}, secrets=self._secrets()
                    ),
                )
                if error.category in BATCH_STOPPING:
                    stop = error
                continue
            created = response.status == 201
            remote_id = None
            if created and isinstance(response.data, dict) and response.data.get("id") is not None:
                remote_id = str(response.data["id"])
            elif not created:
                remote_id = record.remote_id or self._lookup_id(body.get("email"))
            results[index] = PushResult(
                contact_id=record.contact_id,
                ok=True,
                remote_id=remote_id,
                created=created,
                request=request,
                response=body_snippet(
                    {"status": response.status, "body": response.data}, secrets=self._secrets()
                ),
            )

    def _lookup_id(self, email: str | None) -> str | None:
        """The id of an updated contact (a 204 carries none); None when it cannot be read now."""
        if not email:
            return None
        try:
            data = self.client.get_contact(email)
        except CrmError:
            return None
        return str(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None

    # -- pull -----------------------------------------------------------------------------
    def pull_contacts(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        """GET /v3/contacts?modifiedSince=…&sort=asc&limit=…&offset=…, page by page.

        Brevo sorts by *creation*, so with a fixed modifiedSince the offset walk is stable
        (a contact modified during the walk keeps its place; a new one lands at the end).
        The cursor is `{"since", "offset"}`; None after the last page. A contact already
        yielded in this walk is not yielded again.
        """
        state = json.loads(cursor) if cursor else {}
        modified_since = state.get("since") or (mapping.format_datetime(since) if since else None)
        offset = int(state.get("offset") or 0)
        limit = max(1, min(int(self.options.get("page_size") or PAGE_SIZE_MAX), PAGE_SIZE_MAX))
        contact_mapping = self._mapping()
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": "asc"}
            if modified_since:
                params["modifiedSince"] = modified_since
            data = self.client.list_contacts(params=params)
            items = [item for item in data.get("contacts") or [] if isinstance(item, dict) and "id" in item]
            records = []
            for item in items:
                record = mapping.remote_record(item=item, mapping=contact_mapping)
                if record.remote_id not in seen:
                    seen.add(record.remote_id)
                    records.append(record)
            offset += len(items)
            total = data.get("count")
            more = len(items) >= limit and (not isinstance(total, int) or offset < total)
            next_cursor = json.dumps({"since": modified_since, "offset": offset}) if more else None
            yield Page(records=records, next_cursor=next_cursor, raw_count=len(items))
            if not more:
                return

    # -- properties -----------------------------------------------------------------------
    def _only_contacts(self, object_type: str) -> None:
        if object_type not in ("contacts", "contact"):
            raise CapabilityNotSupported(
                f"Brevo has contact attributes only, not {object_type}", crm=self.kind
            )

    @classmethod
    def remote_property_name(cls, name: str) -> str:
        return mapping.attribute_name(name)

    def property_projection(self, prop: RemoteProperty) -> RemoteProperty:
        """What Brevo would list for this definition (upper-case name, no label, its own categories).

        Property sync diffs this, not the definition itself, so a second run with nothing
        changed finds nothing to update.
        """
        category, name, body = mapping.attribute_definition(prop)
        return mapping.remote_property({"name": name, "category": category, **body})

    def list_properties(self, *, object_type: str) -> list[RemoteProperty]:
        self._only_contacts(object_type)
        return [mapping.remote_property(a) for a in self._attribute_index(refresh=True).values()]

    def create_properties(
        self, *, object_type: str, properties: Sequence[RemoteProperty]
    ) -> list[PushResult]:
        """Create each missing attribute; one result per input (an existing one is ok, created=False)."""
        self._only_contacts(object_type)
        existing = self._attribute_index(refresh=True)
        results = []
        for prop in properties:
            category, name, body = mapping.attribute_definition(prop)
            request = {"category": category, "name": name, **body}
            if name in existing:
                results.append(
                    PushResult(contact_id=prop.name, ok=True, remote_id=f"{category}/{name}", created=False)
                )
                continue
            try:
                created = self._create_attribute(category=category, name=name, body=body)
            except CrmError as error:
                results.append(PushResult(contact_id=prop.name, ok=False, error=error, request=request))
                continue
            results.append(
                PushResult(
                    contact_id=prop.name,
                    ok=True,
                    remote_id=f"{category}/{name}",
                    created=created,
                    request=request,
                    response={"status": 201},
                )
            )
        return results

    def update_property(self, *, object_type: str, prop: RemoteProperty) -> RemoteProperty:
        """Bring an attribute's options up to date (Brevo cannot change a type or a name)."""
        self._only_contacts(object_type)
        name = mapping.attribute_name(prop.name)
        existing = self._attribute_index(refresh=True).get(name)
        if existing is None:
            raise CrmNotFound(f"Brevo has no attribute {name}", status=404, crm=self.kind)
        _category, _name, wanted = mapping.attribute_definition(prop)
        have = "category" if existing.get("enumeration") else existing.get("type") or "text"
        if wanted["type"] != have and not (
            wanted["type"] == "category" and existing.get("category") == "category"
        ):
            raise CrmValidationError(
                f"Brevo cannot change attribute {name} from {have} to {wanted['type']}", crm=self.kind
            )
        change = mapping.attribute_update(prop=prop, existing=existing)
        if change is None:
            return mapping.remote_property(existing)
        category, name, body = change
        self.client.update_attribute(category=category, name=name, body=body)
        updated = dict(existing)
        if "enumeration" in body:
            updated["enumeration"] = body["enumeration"]
        if "multiCategoryOptions" in body:
            updated["multiCategoryOptions"] = list(existing.get("multiCategoryOptions") or []) + list(
                body["multiCategoryOptions"]
            )
        self._remember_attribute(updated)
        return mapping.remote_property(updated)
