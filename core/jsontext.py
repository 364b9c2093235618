"""JSON text for the push pipeline's hot paths.

A push batch turns a few hundred small documents into JSON: the request body, the bodies
kept for operators, the rows written back in one statement. orjson does that several times
faster than the standard library. It refuses a few things the standard library accepts
(integers beyond 64 bits, say); those take the standard library's path, so a caller never
sees a difference other than speed and orjson's compact style: no spaces, non-ASCII
characters as they are, datetimes as RFC 3339 with a "T", NaN and infinities as null (the
standard library writes NaN, which is not JSON at all).

Parsing a CRM's text stays with the standard library: orjson reads an integer beyond 64 bits
as a float, which would silently change a CRM's numeric id. Text orjson itself wrote holds no
such integer, so `dumps_and_copy` reads it back with orjson.
"""

import json
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # {1: …} becomes {"1": …}, as json.dumps writes it


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """`value` as compact JSON text; `default` converts what JSON has no type for."""
    return dumps_bytes(value, default=default).decode()


def dumps_bytes(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """`value` as compact UTF-8 JSON, ready for an HTTP body."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except TypeError:
        # Out of orjson's range (a huge integer, a lone surrogate): the standard library
        # either manages, escaping to ASCII, or raises the error it always raised.
        return json.dumps(value, default=default, separators=(",", ":")).encode()


def dumps_and_copy(value: Any, *, default: Callable[[Any], Any] | None = None) -> tuple[str, Any]:
    """`value` as compact JSON text, and a JSON-native copy of it (what parsing the text gives)."""
    try:
        raw = orjson.dumps(value, default=default, option=_OPTIONS)
    except TypeError:
        text = json.dumps(value, default=default, separators=(",", ":"))
        return text, json.loads(text)
    return raw.decode(), orjson.loads(raw)
