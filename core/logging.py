"""Log redaction and formatting.

Secrets reach logs through the most ordinary paths: a formatted request header, an
exception that quotes a URL with ?api_key=, a dict of credentials. `redact()` scrubs
text, and the filter applies it to every record's message, arguments and traceback.
"""

import contextvars
import functools
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from core import jsontext

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REDACTED = "[REDACTED]"
SECRET_KEYS = re.compile(
    r"(authorization|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|"
    r"client[-_]?secret|password|passwd|pwd|signature|cookie|x-api-key)",
    re.IGNORECASE,
)
_PATTERNS = [
    # Authorization headers and their schemes: "Authorization: Bearer abc", "Api-Key abc", "Basic abc".
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n,}]+)"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer|api-key|basic|token token=)\s+([A-Za-z0-9._~+/=\-]{6,})"), r"\1 " + REDACTED),
    # key=value and "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"(?i)([\"']?(?:[a-z0-9_-]*(?:api[-_]?key|apikey|token|secret|password|passwd|signature))[\"']?"
            r"\s*[:=]\s*[\"']?)([^\"'&\s,}]+)"
        ),
        r"\1" + REDACTED,
    ),
]
# Lower-case words one of which every redaction needs: each SECRET_KEYS and _PATTERNS alternative
# contains one. Text with none of them (names, emails, dates: nearly every value in a CRM body)
# has nothing to redact, and plain substring tests are far cheaper than the regexes.
_REDACTION_WORDS = (
    "authorization", "bearer", "basic", "token", "api-key", "api_key", "apikey",
    "secret", "password", "passwd", "pwd", "signature", "cookie",
)  # fmt: skip
# The non-ASCII letters re.IGNORECASE matches to ASCII ones (İ ı ſ K), as JSON escapes them.
_ASCII_FOLDING_ESCAPES = ("\\u0130", "\\u0131", "\\u017f", "\\u212a")


def _may_hold_secrets(text: str) -> bool:
    """False only when no SECRET_KEYS or _PATTERNS alternative can match `text`.

    Non-ASCII text may hold a letter re.IGNORECASE folds to ASCII, so it always counts; in
    ASCII JSON those letters appear as escapes, which count too.
    """
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(word in lowered for word in _REDACTION_WORDS + _ASCII_FOLDING_ESCAPES)


SECRET_VALUE_MIN_CHARS = 8
_PLAIN_WORD = re.compile(r"[a-z]+")


def secret_value_redactable(value: str) -> bool:
    """Whether a known credential value may be removed wherever it appears in free text.

    Only values that look like secrets: at least 8 characters and not a plain lower-case word.
    A short or ordinary value ("admin", "sandbox", "contacts") would otherwise blank the same
    word in every URL and message (`/sandbox/` printed as `/[REDACTED]/`). Such values are
    still hidden where they stand in a credential position: the patterns below catch
    `password=...`, `"api_key": "..."` and Authorization headers whatever the value.
    """
    return len(value) >= SECRET_VALUE_MIN_CHARS and not _PLAIN_WORD.fullmatch(value)


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """Return `text` with credentials replaced by [REDACTED].

    `secrets` are exact values (a connection's token, say) to remove wherever they appear,
    even where no pattern would recognise them, when they look like secrets
    (secret_value_redactable).
    """
    if not text:
        return text
    for secret in secrets:
        if secret and secret_value_redactable(secret):
            text = text.replace(secret, REDACTED)
    if not _may_hold_secrets(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value, *, secrets: tuple[str, ...] = ()):
    """Redact a JSON-like structure: secret-named keys lose their values, strings are scrubbed."""
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if isinstance(key, str) and SECRET_KEYS.search(key)
                else redact_data(v, secrets=secrets)
            )
            for key, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_data(v, secrets=secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets=secrets)
    return value


def _needs_redaction(text: str, secrets: tuple[str, ...]) -> bool:
    """Whether anything in a JSON text could be redacted: a secret-named key, a pattern's
    trigger word, or one of `secrets` as JSON writes it. False means redact_data would return
    an equal copy, so the walk can be skipped."""
    if _may_hold_secrets(text):
        return True
    written = (
        form
        for secret in secrets
        if secret and secret_value_redactable(secret)
        for form in _json_forms(secret)
    )
    return any(form in text for form in written)


@functools.lru_cache(maxsize=256)
def _json_forms(text: str) -> tuple[str, ...]:
    """How `text` can appear inside JSON text: as orjson writes it and as ASCII-escaped JSON."""
    return tuple({jsontext.dumps(text)[1:-1], json.dumps(text)[1:-1]})


def redact_capped(value: Any, *, secrets: tuple[str, ...] = (), max_chars: int) -> Any:
    """A redacted, JSON-safe copy of a request or response body, for operators to read later.

    Past `max_chars` of JSON it becomes `{"truncated": true, "size": n, "preview": "..."}` so a
    huge body never bloats the row that keeps it. Most CRM bodies hold nothing to redact: one
    scan of their JSON text says so, and the per-value walk only runs when it might matter.
    """
    return redact_capped_many([value], secrets=secrets, max_chars=max_chars)[0]


def redact_capped_many(values: list[Any], *, secrets: tuple[str, ...] = (), max_chars: int) -> list[Any]:
    """redact_capped() of each value. A push keeps two bodies for each of 100 contacts, and
    they are scanned together first: a batch with nothing to redact costs one scan, not 200."""
    copies = [None if value is None else jsontext.dumps_and_copy(value, default=str) for value in values]
    # A newline never occurs inside JSON text, so no trigger word or secret spans two bodies.
    suspect = _needs_redaction("\n".join(copy[0] for copy in copies if copy is not None), secrets)
    kept = []
    for copy in copies:
        if copy is None:
            kept.append(None)
            continue
        text, data = copy
        if suspect and (len(copies) == 1 or _needs_redaction(text, secrets)):
            data = redact_data(data, secrets=secrets)
            text = jsontext.dumps(data)
        kept.append(
            data
            if len(text) <= max_chars
            else {"truncated": True, "size": len(text), "preview": text[:max_chars]}
        )
    return kept


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}
        if extra:
            payload["extra"] = redact_data(extra)
        if record.exc_text:
            payload["exc"] = record.exc_text
        elif record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)
