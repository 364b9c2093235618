"""A CRM a test fills with records: pages them in modified order, with an integer cursor.

Registered only inside tests (register_temporarily). `records[object_type]` holds dicts
{"id", "updated_at", "email", ...properties}; `fail_before_page` raises the given exception
when the pull asks for that page number (counted from 1 within one call), the way a killed
worker or a CRM outage interrupts a pass. Every page served is kept in `served`.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

from integrations.connectors.base import Capability, Connector, Page, RemoteRecord


class PagedConnector(Connector):
    kind = "paged"
    display_name = "Paged CRM"
    capabilities = frozenset({Capability.PULL_CONTACTS, Capability.PULL_DEALS})
    default_field_mapping = {
        "first_name": "firstname",
        "last_name": "lastname",
        "email": "email",
        "company": "company",
    }
    page_size = 3

    records: dict[str, list[dict]] = {}
    fail_before_page: dict[int, BaseException] = {}
    served: list[list[str]] = []

    @classmethod
    def reset(cls) -> None:
        cls.records = {"contacts": [], "deals": []}
        cls.fail_before_page = {}
        cls.served = []

    def _record(self, object_type: str, item: dict) -> RemoteRecord:
        reverse = {remote: local for local, remote in self.field_mapping.items()}
        skip = ("id", "updated_at", "archived", "merged_ids", "contact_id")
        properties = {reverse.get(k, k): v for k, v in item.items() if k not in skip}
        if item.get("contact_id"):
            properties["contact_id"] = item["contact_id"]
        return RemoteRecord(
            remote_id=str(item["id"]),
            object_type=object_type,
            properties=properties,
            updated_at=item.get("updated_at"),
            email=(item.get("email") or "").lower() or None,
            raw=dict(item, updated_at=str(item.get("updated_at"))),
            archived=bool(item.get("archived")),
            merged_ids=tuple(item.get("merged_ids", ())),
            links={"contacts": str(item["contact_id"])} if item.get("contact_id") else {},
        )

    def _pages(self, object_type: str, since: datetime | None, cursor: str | None) -> Iterator[Page]:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        items = sorted(
            (
                i
                for i in type(self).records[object_type]
                if since is None or i.get("updated_at") is None or i["updated_at"] >= since
            ),
            key=lambda i: i.get("updated_at") or epoch,
        )
        start = int(cursor) if cursor else 0
        number = 0
        while True:
            number += 1
            failure = type(self).fail_before_page.get(number)
            if failure is not None:
                raise failure
            chunk = items[start : start + self.page_size]
            start += len(chunk)
            more = start < len(items)
            type(self).served.append([str(i["id"]) for i in chunk])
            yield Page(
                records=[self._record(object_type, i) for i in chunk],
                next_cursor=str(start) if more else None,
            )
            if not more:
                return

    def pull_contacts(self, *, since=None, cursor=None):
        return self._pages("contacts", since, cursor)

    def pull_deals(self, *, since=None, cursor=None):
        return self._pages("deals", since, cursor)
