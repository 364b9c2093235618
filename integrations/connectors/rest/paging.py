"""Paging styles of list endpoints, and the incremental cursor a pull hands back.

Three styles cover the APIs this connector targets: page/per_page, offset/limit and an
opaque cursor returned in the body. A page token is a string for all three (the page
number, the offset, or the API's cursor), so the pull cursor can carry any of them.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.connectors.rest.mapping import MISSING, parse_timestamp, path_get
from integrations.errors import CrmUnavailable, CrmValidationError

PAGE = "page"
OFFSET = "offset"
CURSOR = "cursor"
STYLES = (PAGE, OFFSET, CURSOR)


@dataclass(frozen=True)
class PagingConfig:
    style: str = PAGE
    page_size: int = 100
    page_param: str = "page"
    per_page_param: str = "per_page"
    first_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    items_path: str = "data"
    total_path: str = ""
    has_more_path: str = ""


class Pager:
    """Query parameters for a page token, and the token of the page after it."""

    def __init__(self, config: PagingConfig, *, crm: str = "") -> None:
        self.config = config
        self.crm = crm

    def first_token(self) -> str | None:
        if self.config.style == PAGE:
            return str(self.config.first_page)
        if self.config.style == OFFSET:
            return "0"
        return None  # a cursor API's first page has no cursor

    def params(self, token: str | None) -> dict[str, Any]:
        c = self.config
        if c.style == PAGE:
            return {c.page_param: token or str(c.first_page), c.per_page_param: c.page_size}
        if c.style == OFFSET:
            return {c.offset_param: token or "0", c.limit_param: c.page_size}
        params: dict[str, Any] = {c.limit_param: c.page_size} if c.limit_param else {}
        if token:
            params[c.cursor_param] = token
        return params

    def items(self, body: Any) -> list[dict]:
        """The records of a list response; anything but a list of objects is a broken response."""
        items = path_get(body, self.config.items_path)
        if items is MISSING or not isinstance(items, list):
            where = f"at '{self.config.items_path}'" if self.config.items_path else "as the body"
            raise CrmUnavailable(f"The list response has no list of records {where}.", crm=self.crm)
        if not all(isinstance(item, dict) for item in items):
            raise CrmUnavailable("The list response holds items that are not JSON objects.", crm=self.crm)
        return items

    def next_token(self, token: str | None, body: Any, items: list[dict]) -> str | None:
        """The token of the next page, or None when this page was the last."""
        c = self.config
        if c.style == CURSOR:
            nxt = path_get(body, c.next_cursor_path, None)
            if nxt in (None, "", False):
                return None
            if str(nxt) == token:
                raise CrmUnavailable(
                    "The API returned the same cursor twice; stopping to avoid a loop.", crm=self.crm
                )
            return str(nxt)
        if not items:
            return None
        if c.style == PAGE:
            current = int(token or c.first_page)
            following = str(current + 1)
            consumed = (current - c.first_page + 1) * c.page_size
        else:
            current = int(token or 0)
            following = str(current + len(items))
            consumed = current + len(items)
        if c.has_more_path:
            has_more = path_get(body, c.has_more_path, None)
            if isinstance(has_more, bool):
                return following if has_more else None
        if c.total_path:
            total = path_get(body, c.total_path, None)
            if isinstance(total, int) and not isinstance(total, bool):
                return following if consumed < total else None
        # Without a total or a flag, a short page is the last one.
        return following if len(items) >= c.page_size else None


@dataclass(frozen=True)
class PullCursor:
    """Where an incremental read stands: the filter it runs with, the next page, the newest seen.

    `since` stays fixed for one pass so page tokens stay valid; `newest` is the highest
    updated-at seen so far, the `since` of the next pass.
    """

    since: datetime | None
    page: str | None
    newest: datetime | None

    def encode(self) -> str:
        data = {
            "v": 1,
            "since": self.since.isoformat() if self.since else None,
            "page": self.page,
            "newest": self.newest.isoformat() if self.newest else None,
        }
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, *, crm: str = "") -> "PullCursor":
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(data, dict) or data.get("v") != 1:
                raise ValueError("unknown cursor version")
            page = data.get("page")
            return cls(
                since=parse_timestamp(data.get("since")),
                page=str(page) if page is not None else None,
                newest=parse_timestamp(data.get("newest")),
            )
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise CrmValidationError(f"The pull cursor is not one this connector wrote: {exc}", crm=crm)
