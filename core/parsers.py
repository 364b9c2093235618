"""The API's JSON parser: DRF's, refusing nesting deeper than JSON_MAX_DEPTH before parsing.

Python's json module parses by recursion, so a body nested 100,000 levels deep raises
RecursionError (a 500) mid-parse. Depth is counted here without recursion before json sees
the text; no request the API serves needs more than a handful of levels.
"""

import codecs
import json
import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from core.errors import InvalidInput

JSON_MAX_DEPTH = 64

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth_exceeds(text: str, *, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether `text` opens more than `limit` arrays/objects inside each other (strings skipped)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_loads_bounded(text: str, *, limit: int = JSON_MAX_DEPTH, parse_constant=None):
    """json.loads, after refusing excessive depth with InvalidInput (400 json_too_deep)."""
    if json_depth_exceeds(text, limit=limit):
        raise InvalidInput(
            f"The JSON is nested more than {limit} levels deep.",
            code="json_too_deep",
            details={"max_depth": limit},
        )
    return json.loads(text, parse_constant=parse_constant)


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_loads_bounded(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
