"""The generic REST connector (seed 002): any JSON CRM API, described by a connection's settings.

Everything that differs between REST CRMs is configuration (config.py): auth, paging, entity
endpoints, the updated-since filter, field maps, how contacts are written. Brivity and
TopProducer are this class with different `default_settings` (their own packages).

Reads: `read_entity()` pages through any configured entity, incrementally when the API has
an updated-since filter; pull_contacts/pull_deals are read_entity on those two entities.
Writes: contacts go one request each (a generic API has no batch upsert we can rely on),
so a batch yields one result per contact and one bad contact never fails the others.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from integrations.auth import (
    ApiKeyHeader,
    AuthStrategy,
    ConnectionTokenStore,
    JwtLogin,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
)
from integrations.connectors.base import (
    Capability,
    Connector,
    ContactPayload,
    CredentialCheck,
    Page,
    PushResult,
    RecordWrite,
)
from integrations.connectors.rest.config import (
    ENTITIES,
    RestConfig,
    RestSettingsSerializer,
    preset_serializer,
)
from integrations.connectors.rest.mapping import format_timestamp, record_from_item
from integrations.connectors.rest.paging import Pager, PullCursor
from integrations.connectors.rest.push import RECORD_ACTIONS, ContactWriter, RecordWriter
from integrations.errors import CapabilityNotSupported, CrmAuthError, CrmError, CrmValidationError
from integrations.http import CrmHttpClient
from integrations.ratelimit import limiter_for

GENERIC_SETTINGS: dict[str, Any] = {
    # Seed 002's layout: https://host/api/v1/<entity>.
    "api_version": "v1",
    "base_path": "/api/{api_version}",
    "endpoints": {entity: f"/{entity}" for entity in ENTITIES},
    # Contacts under the local names until a connection maps them otherwise.
    "field_maps": {
        "contacts": {
            name: name for name in ("first_name", "last_name", "email", "phone", "company", "job_title")
        }
    },
}


class RestConnector(Connector):
    kind = "rest"
    display_name = "REST API (generic)"
    capabilities = frozenset(
        {
            Capability.PUSH_CONTACTS,
            Capability.PULL_CONTACTS,
            Capability.PULL_DEALS,
            Capability.TEST_CREDENTIALS,
            Capability.WRITE_RECORDS,
        }
    )
    account_fields = ("base_url", "auth", "tested")
    # Contacts are written one request each; the batch is only the unit of work of a push task.
    batch_size_max = 100
    # Seed 002's default (rate_limit_per_minute=100); settings.rate_limits.default changes it.
    default_rate_limit = (100, 60.0)
    credential_fields = ("api_key", "username", "password", "client_id", "client_secret", "refresh_token")
    # Settings a connection starts from; presets override this whole dict.
    default_settings: ClassVar[dict[str, Any]] = GENERIC_SETTINGS
    default_field_mapping = dict(GENERIC_SETTINGS["field_maps"]["contacts"])
    # Validates CrmConnection.settings (what a connection changes, merged over default_settings).
    config_serializer: ClassVar[type[RestSettingsSerializer]] = preset_serializer(
        "RestConnectorSettingsSerializer", GENERIC_SETTINGS
    )

    # -- configuration --------------------------------------------------------------------
    @cached_property
    def config(self) -> RestConfig:
        settings = self.connection.settings or {}
        serializer = self.config_serializer(data=settings)
        if not serializer.is_valid():
            raise CrmValidationError(
                f"The connection's settings are invalid: {serializer.errors}",
                body=serializer.errors,
                crm=self.kind,
            )
        return RestConfig.from_validated(serializer.validated_data)

    def auth_strategy(self) -> AuthStrategy:
        """The auth of `settings.auth`; its login and token paths are relative to the base URL
        (not under base_path: token endpoints rarely live under an API's version prefix)."""
        auth, creds = self.config.auth, self.credentials
        if auth["type"] == "api_key":
            return ApiKeyHeader(
                auth["header"], str(creds.get(auth["credential_field"], "")), format=auth["format"]
            )
        store = ConnectionTokenStore(self.connection)
        if auth["type"] == "jwt":
            refresh = auth["refresh_path"]
            return JwtLogin(
                login_url=auth["login_path"],
                refresh_url=refresh,
                username=str(creds.get("username", "")),
                password=str(creds.get("password", "")),
                username_field=auth["username_field"],
                password_field=auth["password_field"],
                refresh_field=auth["refresh_field"],
                store=store,
            )
        if auth["grant_type"] == "refresh_token":
            return OAuth2RefreshToken(
                token_url=auth["token_url"],
                client_id=str(creds.get("client_id", "")),
                client_secret=str(creds.get("client_secret", "")),
                refresh_token=str(creds.get("refresh_token", "")),
                store=store,
            )
        return OAuth2ClientCredentials(
            token_url=auth["token_url"],
            client_id=str(creds.get("client_id", "")),
            client_secret=str(creds.get("client_secret", "")),
            scope=auth["scope"],
            client_auth=auth["client_auth"],
            store=store,
        )

    @cached_property
    def client(self) -> CrmHttpClient:
        self.config  # noqa: B018 - validate the settings before the client reads timeouts and headers
        client = CrmHttpClient.for_connection(
            self.connection,
            auth=self.auth_strategy(),
            limiters={
                "default": limiter_for(self.connection, default=self.rate_limit_default(self.connection))
            },
        )
        if not client.base_url:
            raise CrmValidationError("This connection has no base URL; set one.", crm=self.kind)
        return client

    def endpoint(self, entity: str) -> str:
        path = self.config.endpoint_path(entity)
        if path is None:
            raise CapabilityNotSupported(
                f"No endpoint is configured for {entity}; add settings.endpoints.{entity}.", crm=self.kind
            )
        return path

    def entity_field_map(self, entity: str) -> dict[str, str]:
        """An entity's field map; for contacts, the connection's field_mapping goes on top."""
        field_map = dict(self.config.field_maps.get(entity, {}))
        if entity == "contacts":
            # Same rule as the other connectors: "" or null removes a field from the map.
            for local, remote in (self.connection.field_mapping or {}).items():
                if remote:
                    field_map[local] = remote
                else:
                    field_map.pop(local, None)
        return field_map

    # -- reads ----------------------------------------------------------------------------
    def read_entity(
        self, entity: str, *, since: datetime | None = None, cursor: str | None = None
    ) -> Iterator[Page]:
        """Page through `entity` changed since `since` (all of it when None), oldest first.

        Records are RemoteRecords whose object_type is the entity's name ("contacts",
        "deals", "projects"...), with the entity's field map applied.

        Each Page's next_cursor resumes right after it (it carries the filter, the next
        page token and the newest updated-at seen); the last page's is None. With a cursor,
        `since` is ignored: the cursor's own filter holds for the whole pass.
        """
        if entity not in ENTITIES:
            raise CapabilityNotSupported(
                f"Unknown entity {entity!r}; use one of {list(ENTITIES)}.", crm=self.kind
            )
        path = self.endpoint(entity)
        pager = Pager(self.config.paging, crm=self.kind)
        if cursor:
            state = PullCursor.decode(cursor, crm=self.kind)
        else:
            state = PullCursor(since=since, page=pager.first_token(), newest=since)
        field_map = self.entity_field_map(entity)
        token, newest = state.page, state.newest
        while True:
            response = self.client.get(path, params=self._list_params(state.since, pager, token))
            items = pager.items(response.data)
            records = []
            for item in items:
                record = record_from_item(
                    item=item,
                    object_type=entity,
                    field_map=field_map,
                    id_path=self.config.id_path,
                    updated_at_path=self.config.updated_at_path,
                )
                if record is None:
                    continue
                records.append(record)
                if record.updated_at and (newest is None or record.updated_at > newest):
                    newest = record.updated_at
            token = pager.next_token(token, response.data, items)
            next_cursor = PullCursor(since=state.since, page=token, newest=newest).encode() if token else None
            yield Page(records=records, next_cursor=next_cursor, raw_count=len(items))
            if token is None:
                return

    def _list_params(self, since: datetime | None, pager: Pager, token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.config.list_params)
        if since is not None and self.config.updated_since_param:
            params[self.config.updated_since_param] = format_timestamp(
                since, style=self.config.updated_since_format
            )
        params.update(pager.params(token))
        return params

    # Local object type names of entities whose CRM name differs (TopProducer: deals are transactions).
    object_type_names: ClassVar[dict[str, str]] = {}

    def pull_object_types(self) -> tuple[str, ...]:
        """Every entity this connection has an endpoint for, contacts first."""
        try:
            configured = set(self.config.endpoints)
        except CrmError:
            return ()
        entities = [entity for entity in ENTITIES if entity in configured]
        entities.sort(key=lambda entity: entity != "contacts")
        return tuple(self.object_type_names.get(entity, entity) for entity in entities)

    def pull(self, object_type: str, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        if object_type not in self.pull_object_types():
            raise CapabilityNotSupported(
                f"{self.kind} does not pull {object_type!r}; it pulls {list(self.pull_object_types())}",
                crm=self.kind,
            )
        entity = {name: entity for entity, name in self.object_type_names.items()}.get(
            object_type, object_type
        )
        for page in self.read_entity(entity, since=since, cursor=cursor):
            for record in page.records:
                record.object_type = object_type
            yield page

    def pull_contacts(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        return self.read_entity("contacts", since=since, cursor=cursor)

    def pull_deals(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        return self.read_entity("deals", since=since, cursor=cursor)

    # -- writes ---------------------------------------------------------------------------
    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        writer = ContactWriter(
            client=self.client,
            path=self.endpoint("contacts"),
            field_map=self.entity_field_map("contacts"),
            options=self.config.contacts,
            pager=Pager(self.config.paging, crm=self.kind),
            id_path=self.config.id_path,
            crm=self.kind,
        )
        return writer.push(records)

    record_actions = RECORD_ACTIONS

    def _record_writer(self, entity: str) -> RecordWriter:
        return RecordWriter(
            client=self.client,
            path=self.endpoint(entity),
            field_map=self.entity_field_map(entity),
            method=self.config.contacts.get("update_method", "PATCH"),
        )

    def write_record(self, *, entity: str, remote_id: str, values: dict, current: dict) -> RecordWrite:
        """Update one record (seed 002: PUT/PATCH /api/v1/{entity}/{id}) with the connection's
        update verb (settings.contacts.update_method); field names go through the entity's map."""
        return self._record_writer(entity).update(remote_id=remote_id, values=values, current=current)

    def record_action(self, *, entity: str, remote_id: str, action: str, body: dict) -> RecordWrite:
        if action not in self.record_actions.get(entity, {}):
            raise CapabilityNotSupported(f"{entity} has no action {action!r}.", crm=self.kind)
        return self._record_writer(entity).action(remote_id=remote_id, action=action, body=body)

    # -- credentials ----------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        """An authenticated GET of one record of a configured list (reads, never writes):
        `test_entity`, else contacts, else the first configured entity.

        Auth failures and misconfiguration (wrong path, bad settings) answer ok=False with
        the CRM's message; transient failures (unavailable, timeout, rate-limited) raise,
        since they say nothing about the credentials.
        """
        try:
            endpoints = self.config.endpoints
            entity = self.config.test_entity or (
                "contacts" if "contacts" in endpoints else next(iter(endpoints), "")
            )
            path = self.endpoint(entity) if entity else None
            if path is None:
                return CredentialCheck(ok=False, message="No endpoint is configured to test against.")
            pager = Pager(self.config.paging, crm=self.kind)
            params = pager.params(pager.first_token())
            size_param = {"page": pager.config.per_page_param}.get(
                pager.config.style, pager.config.limit_param
            )
            if size_param:
                params[size_param] = 1
            response = self.client.get(path, params=params)
            pager.items(response.data)
        except CrmError as exc:
            if exc.retriable:
                raise
            prefix = "Authentication failed" if isinstance(exc, CrmAuthError) else "The test request failed"
            return CredentialCheck(ok=False, message=f"{prefix}: {exc.message}")
        return CredentialCheck(
            ok=True,
            account={"base_url": self.client.base_url, "auth": self.config.auth["type"], "tested": path},
            message=f"Authenticated GET {path} succeeded.",
        )
