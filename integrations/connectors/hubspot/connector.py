"""HubSpot CRM v3: push by batch upsert on email, pull by search, properties, credential test.

Push: POST /crm/v3/objects/contacts/batch/upsert with idProperty=email, at most 100 inputs a
call, one objectWriteTraceId per input so a 207's results and errors map back to contacts.
HubSpot documents that with idProperty=email one bad input may fail the whole batch, so a
batch refused as a whole (400/409) is split in halves until the bad input is isolated: one
bad contact costs about log2(100) extra calls and never fails 99 good ones. A 409 "Contact
already exists. Existing ID: N" (an email held as another contact's additional email)
becomes an update of contact N.

Pull: POST /crm/v3/objects/{contacts|deals}/search on lastmodifieddate (deals:
hs_lastmodifieddate) GTE the cursor, ascending, 200 a page, through the search limiter (5 a
second). Search stops at 10,000 results per query, so before `after` would pass that, the
query restarts anchored on the last timestamp seen, skipping the ids already returned at that
exact millisecond; a millisecond holding a whole window is read by id. Then the archived
records (list endpoint, archived=true), which search never returns. Search returns no
associations either: after each page of deals, one v4 batch read of their contacts links each
deal to a contact (RemoteRecord.links).
"""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from core import jsontext
from integrations.connectors.base import (
    Capability,
    Connector,
    ContactPayload,
    CredentialCheck,
    Page,
    PushResult,
    RemoteProperty,
)
from integrations.errors import (
    CrmAuthError,
    CrmConflict,
    CrmError,
    CrmUnavailable,
    CrmValidationError,
)
from integrations.ratelimit import daily_quota_for

from . import mapping
from .client import HubSpotClient

SEARCH_PAGE_SIZE = 200
LIST_PAGE_SIZE = 100
SEARCH_RESULT_CAP = 10_000
DEFAULT_OVERLAP_SECONDS = 300  # search is eventually consistent: re-read the last 5 minutes

# Burst requests per 10 s and daily requests, per tier (CRM-APIS.md §1.9).
RATE_TIERS: dict[str, tuple[int, int | None]] = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 625_000),
    "enterprise": (190, 1_000_000),
    "api_limit_increase": (250, 2_000_000),
    "oauth": (110, None),  # public OAuth apps: 110 per 10 s per account, no daily limit
}
TIER_BY_BURST = {100: "free", 190: "professional", 250: "api_limit_increase", 110: "oauth"}


def _tier(connection) -> tuple[int, int | None]:
    tier = (connection.settings or {}).get("rate_tier", "free")
    if isinstance(tier, int) or (isinstance(tier, str) and tier.isdigit()):
        tier = TIER_BY_BURST.get(int(tier), "free")
    return RATE_TIERS.get(str(tier).lower(), RATE_TIERS["free"])


class HubSpotConnector(Connector):
    kind = "hubspot"
    display_name = "HubSpot"
    capabilities = frozenset(
        {
            Capability.PUSH_CONTACTS,
            Capability.PULL_CONTACTS,
            Capability.PULL_DEALS,
            Capability.SYNC_PROPERTIES,
            Capability.TEST_CREDENTIALS,
        }
    )
    default_base_url = "https://api.hubapi.com"
    account_fields = (
        "portalId",
        "accountType",
        "timeZone",
        "companyCurrency",
        "uiDomain",
        "dataHostingLocation",
        "daily_quota",
    )
    api_hosts = ("api.hubapi.com",)
    batch_size_max = 100
    default_field_mapping = mapping.DEFAULT_FIELD_MAPPING
    default_rate_limit = (100, 10.0)
    default_daily_quota = 250_000
    rate_limiter_names = ("default", "search")
    credential_fields = ("access_token", "client_id", "client_secret", "refresh_token")
    property_object_types = ("contacts", "deals", "leads")

    @classmethod
    def rate_limit_default(cls, connection) -> tuple[int, float]:
        return (_tier(connection)[0], 10.0)

    @classmethod
    def daily_quota_default(cls, connection) -> int | None:
        return _tier(connection)[1]

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._client: HubSpotClient | None = None

    @property
    def client(self) -> HubSpotClient:
        if self._client is None:
            self._client = HubSpotClient.for_hubspot(self)
        return self._client

    # -- credential test ------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        """GET /account-info/v3/details; refused credentials are ok=False, outages raise."""
        try:
            data = self.client.account_details().data or {}
        except CrmAuthError as exc:
            return CredentialCheck(ok=False, message=exc.message)
        account = {
            key: data.get(key)
            for key in (
                "portalId",
                "accountType",
                "timeZone",
                "companyCurrency",
                "uiDomain",
                "dataHostingLocation",
            )
            if key in data
        }
        if isinstance(data.get("timeZone"), str):
            # The daily limit resets at midnight in the portal's time zone: remember which.
            from integrations.services import connection_account_time_zone_set

            connection_account_time_zone_set(connection=self.connection, time_zone=data["timeZone"])
        quota = daily_quota_for(self.connection, default_limit=self.daily_quota_default(self.connection))
        if quota is not None:
            account["daily_quota"] = quota.status()
        return CredentialCheck(
            ok=True, account=account, message=f"Connected to HubSpot portal {data.get('portalId')}."
        )

    # -- push -----------------------------------------------------------------------------
    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        results: list[PushResult | None] = [None] * len(records)
        field_map = self.field_mapping
        push_unmapped = bool((self.connection.settings or {}).get("push_unmapped", False))
        pending: list[tuple[int, ContactPayload, dict]] = []
        for index, record in enumerate(records):
            if not record.email:
                results[index] = PushResult(
                    contact_id=record.contact_id,
                    ok=False,
                    error=CrmValidationError(
                        "HubSpot upserts by email; this contact has none", crm=self.kind
                    ),
                )
                continue
            props = mapping.contact_properties(record, field_map, push_unmapped=push_unmapped)
            pending.append((index, record, props))

        for batch in self._batches(pending):
            for index, result in self._push_batch(batch):
                results[index] = result
        return [r for r in results if r is not None]

    def _batches(self, pending):
        """Chunks of at most batch_size, each email once per chunk (HubSpot refuses duplicate ids)."""
        size = self.batch_size
        rounds: list[list] = []
        seen_per_round: list[set] = []
        for item in pending:
            email = item[1].email.strip().lower()
            for round_items, seen in zip(rounds, seen_per_round, strict=True):
                if email not in seen:
                    round_items.append(item)
                    seen.add(email)
                    break
            else:
                rounds.append([item])
                seen_per_round.append({email})
        for round_items in rounds:
            for start in range(0, len(round_items), size):
                yield round_items[start : start + size]

    def _inputs(self, batch) -> list[dict]:
        return [
            {
                "id": record.email.strip().lower(),
                "idProperty": "email",
                "objectWriteTraceId": str(index),
                "properties": props,
            }
            for index, record, props in batch
        ]

    def _push_batch(self, batch) -> list[tuple[int, PushResult]]:
        inputs = self._inputs(batch)
        try:
            response = self.client.batch_upsert("contacts", inputs)
        except (CrmValidationError, CrmConflict) as exc:
            if len(batch) > 1:
                middle = len(batch) // 2
                return self._push_batch(batch[:middle]) + self._push_batch(batch[middle:])
            index, record, props = batch[0]
            if isinstance(exc, CrmConflict):
                return [(index, self._update_existing(record, props, exc, request=inputs[0]))]
            return [(index, self._failed(record, exc, request=inputs[0]))]
        except CrmError as exc:
            # Auth, rate limit, outage: the whole batch shares the fate; the sync layer retries.
            return [
                (index, self._failed(record, exc, request=inp))
                for (index, record, _), inp in zip(batch, inputs, strict=True)
            ]
        return self._results_from(batch, inputs, response.data or {})

    def _results_from(self, batch, inputs, body: dict) -> list[tuple[int, PushResult]]:
        by_trace = {str(index): (index, record, props) for index, record, props in batch}
        by_email = {record.email.strip().lower(): str(index) for index, record, _ in batch}
        request_by_trace = {inp["objectWriteTraceId"]: inp for inp in inputs}
        out: dict[str, PushResult] = {}
        for result in body.get("results") or []:
            trace = result.get("objectWriteTraceId")
            if trace not in by_trace:
                email = str((result.get("properties") or {}).get("email") or "").lower()
                trace = by_email.get(email)
            if trace is None or trace not in by_trace:
                continue
            _, record, _ = by_trace[trace]
            out[trace] = PushResult(
                contact_id=record.contact_id,
                ok=True,
                remote_id=str(result.get("id")),
                created=result.get("new"),
                request=request_by_trace[trace],
                response=_capped(result),
            )
        unattributed: list[dict] = []
        conflicts: list[tuple[str, CrmError]] = []
        for error in body.get("errors") or []:
            traces = self._traces_of(error, by_trace, by_email)
            if not traces:
                unattributed.append(error)
            for trace in traces:
                crm_error = mapping.error_from_standard(error)
                if isinstance(crm_error, CrmConflict) and mapping.existing_id_from(crm_error.message):
                    conflicts.append((trace, crm_error))
                    continue
                _, record, _ = by_trace[trace]
                out[trace] = self._failed(record, crm_error, request=request_by_trace[trace])
        for trace, crm_error in conflicts:
            _, record, props = by_trace[trace]
            out[trace] = self._update_existing(record, props, crm_error, request=request_by_trace[trace])

        missing = [trace for trace in by_trace if trace not in out]
        for trace in missing:
            _, record, _ = by_trace[trace]
            if unattributed and len(missing) == 1:
                error = mapping.error_from_standard(unattributed[0])
            else:
                error = CrmUnavailable(
                    "HubSpot returned no result for this contact", body=_capped(body), crm=self.kind
                )
            out[trace] = self._failed(record, error, request=request_by_trace[trace])
        return [(by_trace[trace][0], out[trace]) for trace in by_trace]

    @staticmethod
    def _traces_of(error: dict, by_trace: dict, by_email: dict) -> list[str]:
        context = error.get("context") or {}
        traces = [str(t) for t in context.get("objectWriteTraceId") or [] if str(t) in by_trace]
        if traces:
            return traces
        for key in ("ids", "id", "emails", "email"):
            values = context.get(key) or []
            found = [by_email[str(v).lower()] for v in values if str(v).lower() in by_email]
            if found:
                return found
        return []

    def _update_existing(
        self, record: ContactPayload, props: dict, conflict: CrmError, *, request
    ) -> PushResult:
        existing_id = mapping.existing_id_from(conflict.message)
        if not existing_id:
            return self._failed(record, conflict, request=request)
        update = {"id": existing_id, "properties": {k: v for k, v in props.items() if k != "email"}}
        try:
            response = self.client.batch_update("contacts", [update])
        except CrmError as exc:
            return self._failed(record, exc, request=update)
        body = response.data or {}
        results = body.get("results") or []
        if results:
            return PushResult(
                contact_id=record.contact_id,
                ok=True,
                remote_id=str(results[0].get("id") or existing_id),
                created=False,
                request=update,
                response=_capped(results[0]),
            )
        errors = body.get("errors") or []
        error = (
            mapping.error_from_standard(errors[0])
            if errors
            else CrmUnavailable("HubSpot returned no result for the update", crm=self.kind)
        )
        return self._failed(record, error, request=update)

    @staticmethod
    def _failed(record: ContactPayload, error: CrmError, *, request) -> PushResult:
        return PushResult(
            contact_id=record.contact_id, ok=False, error=error, request=request, response=_capped(error.body)
        )

    # -- pull -----------------------------------------------------------------------------
    def pull_contacts(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        return self._pull("contacts", since=since, cursor=cursor)

    def pull_deals(self, *, since: datetime | None, cursor: str | None = None) -> Iterator[Page]:
        return self._pull("deals", since=since, cursor=cursor)

    def _pull(self, object_type: str, *, since: datetime | None, cursor: str | None) -> Iterator[Page]:
        """Yield pages; each page's next_cursor resumes right after it (None at the end).

        Phases: "window" searches lastmodifieddate ascending, re-anchored before the result
        cap; "tie" reads, by id, one millisecond that alone fills a window; "archived" lists
        the archived records (search never returns them) when settings.pull_archived is on.
        """
        state = self._cursor_state(since, cursor)
        modified = mapping.MODIFIED_PROPERTY[object_type]
        properties = sorted(
            set(mapping.PULL_PROPERTIES[object_type])
            | (set(self.field_mapping.values()) if object_type == "contacts" else set())
        )
        field_mapping = self.field_mapping if object_type == "contacts" else None
        while True:
            phase = state.get("phase", "window")
            if phase == "archived":
                data = (
                    self.client.list_objects(
                        object_type,
                        params={
                            "archived": "true",
                            "limit": LIST_PAGE_SIZE,
                            "properties": ",".join(properties),
                            **({"after": state["after"]} if state.get("after") else {}),
                        },
                    ).data
                    or {}
                )
                raw = data.get("results") or []
                records = [
                    mapping.record_from_object(obj, object_type=object_type, field_mapping=field_mapping)
                    for obj in raw
                    if obj.get("archived") is True
                ]
                next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
                state = {"phase": "archived", "after": str(next_after)} if next_after else None
            else:
                data = (
                    self.client.search(object_type, self._search_body(state, modified, properties)).data or {}
                )
                raw = data.get("results") or []
                skip = set(state.get("skip", []))
                records = [
                    mapping.record_from_object(obj, object_type=object_type, field_mapping=field_mapping)
                    for obj in raw
                    if str(obj.get("id")) not in skip
                ]
                next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if phase == "tie":
                    state = self._advance_tie(state, raw, next_after)
                else:
                    state = self._advance(state, records, raw, next_after, cap=self._result_cap)
                if state is None and self._pull_archived:
                    state = {"phase": "archived", "after": ""}
                self._link(object_type, records)
            yield Page(records=records, next_cursor=json.dumps(state) if state else None, raw_count=len(raw))
            if not state:
                return

    def _link(self, object_type: str, records: list) -> None:
        """Set the links of a page of live records from one batch read of their associations.

        Search never returns associations, so each page costs one more call (through the same
        client: the burst limit, the daily quota and the run's call count see it). A failed call
        fails the page, which the next run reads again: no page is stored half-linked.
        """
        to_type, association = mapping.PULL_ASSOCIATIONS.get(object_type, (None, None))
        ids = [record.remote_id for record in records if not record.archived]
        if to_type is None or not ids:
            return
        body = self.client.batch_read_associations(object_type, to_type, ids).data
        found = mapping.associations_by_id(body if isinstance(body, dict) else None)
        for record in records:
            mapping.record_link(
                record, to_type=to_type, ids=found.get(record.remote_id, []), association=association
            )

    @property
    def _result_cap(self) -> int:
        """Search's result cap (10,000); a sandbox with a smaller cap sets settings.search_result_cap."""
        cap = (self.connection.settings or {}).get("search_result_cap", SEARCH_RESULT_CAP)
        return max(int(cap), SEARCH_PAGE_SIZE * 2)

    @property
    def _pull_archived(self) -> bool:
        return bool((self.connection.settings or {}).get("pull_archived", True))

    @staticmethod
    def _search_body(state: dict, modified: str, properties: list[str]) -> dict:
        if state.get("phase") == "tie":
            anchor = int(state["anchor"])
            filters = [
                {"propertyName": modified, "operator": "GTE", "value": str(anchor)},
                {"propertyName": modified, "operator": "LT", "value": str(anchor + 1)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(state.get("after_id", 0))},
            ]
            sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
            after = "0"
        else:
            filters = [
                {"propertyName": modified, "operator": state.get("op", "GTE"), "value": str(state["anchor"])}
            ]
            sorts = [{"propertyName": modified, "direction": "ASCENDING"}]
            after = str(state["after"])
        return {
            "filterGroups": [{"filters": filters}],
            "sorts": sorts,
            "properties": properties,
            "limit": SEARCH_PAGE_SIZE,
            "after": after,
        }

    def _cursor_state(self, since: datetime | None, cursor: str | None) -> dict:
        if cursor:
            try:
                state = json.loads(cursor)
                if isinstance(state, dict) and (
                    ("anchor" in state and "after" in state) or state.get("phase") == "archived"
                ):
                    return state
            except ValueError:
                pass
            raise CrmValidationError(f"not a HubSpot pull cursor: {cursor[:80]!r}", crm=self.kind)
        overlap = int((self.connection.settings or {}).get("pull_overlap_seconds", DEFAULT_OVERLAP_SECONDS))
        anchor = mapping.to_epoch_ms(since - timedelta(seconds=overlap)) if since else 0
        return {"anchor": max(0, anchor), "after": 0, "op": "GTE", "skip": []}

    @staticmethod
    def _advance(state: dict, records, raw: list, next_after, *, cap: int = SEARCH_RESULT_CAP) -> dict | None:
        """The state after a page of a window, or None when nothing more is there now.

        `tail_ms`/`tail_ids` follow the ids read at the newest millisecond of the window, so
        a re-anchored window (GTE that millisecond) skips exactly those: nothing at the edge
        is lost and nothing is read twice, whatever order the CRM gives equal timestamps.
        """
        tail_ms, tail_ids = state.get("tail_ms"), list(state.get("tail_ids", []))
        for record in records:
            if record.updated_at is None:
                continue
            ms = mapping.to_epoch_ms(record.updated_at)
            if ms != tail_ms:
                tail_ms, tail_ids = ms, []
            tail_ids.append(record.remote_id)
        if not next_after:
            return None
        after = int(next_after)
        if after + SEARCH_PAGE_SIZE < cap:  # re-anchor from the last page under the cap on
            return {**state, "after": after, "tail_ms": tail_ms, "tail_ids": tail_ids}
        if tail_ms is None:
            return {**state, "after": after}
        if tail_ms == state["anchor"]:
            # One millisecond fills the whole window: read it by id (skipping the ids this
            # window already returned at it), then move past it.
            return {"phase": "tie", "anchor": tail_ms, "after_id": 0, "skip": tail_ids}
        return {
            "anchor": tail_ms,
            "after": 0,
            "op": "GTE",
            "skip": tail_ids,
            "tail_ms": tail_ms,
            "tail_ids": tail_ids,
        }

    @staticmethod
    def _advance_tie(state: dict, raw: list, next_after) -> dict:
        """Within one millisecond, keyset on id; then the window restarts just after it."""
        ids = [int(obj["id"]) for obj in raw if str(obj.get("id", "")).isdigit()]
        if next_after and ids:
            return {**state, "after_id": max(ids)}
        return {"anchor": int(state["anchor"]) + 1, "after": 0, "op": "GTE", "skip": []}

    # -- properties -----------------------------------------------------------------------
    def list_properties(self, *, object_type: str) -> list[RemoteProperty]:
        data = self.client.list_properties(object_type).data or {}
        return [mapping.property_from_hubspot(p) for p in data.get("results") or []]

    def create_properties(
        self, *, object_type: str, properties: Sequence[RemoteProperty]
    ) -> list[PushResult]:
        """Batch create; an input the batch refused is retried alone, and "already exists" becomes a PATCH."""
        if not properties:
            return []
        inputs = [mapping.property_to_hubspot(p, object_type=object_type, create=True) for p in properties]
        try:
            data = self.client.batch_create_properties(object_type, inputs).data or {}
        except (CrmValidationError, CrmConflict):
            return [self._create_one(object_type, prop) for prop in properties]
        created = {r.get("name"): r for r in data.get("results") or []}
        results = []
        for prop, body in zip(properties, inputs, strict=True):
            if prop.name in created:
                results.append(
                    PushResult(
                        contact_id=prop.name,
                        ok=True,
                        remote_id=prop.name,
                        created=True,
                        request=body,
                        response=_capped(created[prop.name]),
                    )
                )
            else:
                results.append(self._create_one(object_type, prop))
        return results

    def _create_one(self, object_type: str, prop: RemoteProperty) -> PushResult:
        body = mapping.property_to_hubspot(prop, object_type=object_type, create=True)
        try:
            data = self.client.create_property(object_type, body).data or {}
            return PushResult(
                contact_id=prop.name,
                ok=True,
                remote_id=prop.name,
                created=True,
                request=body,
                response=_capped(data),
            )
        except CrmConflict:
            try:
                updated = self.update_property(object_type=object_type, prop=prop)
            except CrmError as exc:
                return PushResult(contact_id=prop.name, ok=False, error=exc, request=body)
            return PushResult(
                contact_id=prop.name,
                ok=True,
                remote_id=updated.name,
                created=False,
                request=body,
                response=updated.raw,
            )
        except CrmError as exc:
            return PushResult(
                contact_id=prop.name, ok=False, error=exc, request=body, response=_capped(exc.body)
            )

    def update_property(self, *, object_type: str, prop: RemoteProperty) -> RemoteProperty:
        if prop.crm_defined:
            raise CrmValidationError(
                f"{prop.name} is a HubSpot-defined property; it is never modified", crm=self.kind
            )
        body = mapping.property_to_hubspot(prop, object_type=object_type, create=False)
        data = self.client.update_property(object_type, prop.name, body).data or {}
        return mapping.property_from_hubspot(data)

    def ensure_property_group(self, *, object_type: str, name: str, label: str) -> None:
        groups = self.client.list_groups(object_type).data or {}
        if any(g.get("name") == name for g in groups.get("results") or []):
            return
        try:
            self.client.create_group(object_type, {"name": name, "label": label, "displayOrder": -1})
        except CrmConflict:
            return  # created meanwhile by another worker


def _capped(value: Any, limit: int = 4000) -> Any:
    """Operator-facing copies of request/response bodies stay small."""
    if value is None:
        return None
    try:
        text = jsontext.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)[:limit]
    return value if len(text) <= limit else text[:limit]


__all__ = ["HubSpotConnector"]
