import json
import logging

from core.logging import JsonFormatter, RedactSecretsFilter, redact, redact_data


def format_record(msg, *args, formatter=None, exc_info=None):
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)
    RedactSecretsFilter().filter(record)
    return (formatter or logging.Formatter("%(message)s")).format(record)


def test_authorization_headers_are_redacted():
    line = format_record("headers: %s", {"Authorization": "Bearer pat-na1-0123456789", "Accept": "json"})
    assert "pat-na1" not in line
    assert "json" in line


def test_api_keys_tokens_and_passwords_are_redacted():
    text = redact(
        "GET /v3/contacts?api_key=xkeysib-abcdef123 password=hunter2 "
        '{"access_token": "ya29.abc", "refresh_token": "1//r"} '
        "Api-Key AbCdEf12.SeCrEt99 Token token=brv-123456"
    )
    for secret in ("xkeysib-abcdef123", "hunter2", "ya29.abc", "1//r", "SeCrEt99", "brv-123456"):
        assert secret not in text


def test_known_secret_values_are_removed_anywhere():
    assert redact("weird place: zzTOPSECRETzz", secrets=("TOPSECRET",)) == "weird place: zz[REDACTED]zz"


def test_redact_data_drops_secret_named_keys():
    data = redact_data({"credentials": {"api_key": "abc", "client_id": "visible"}, "note": "Bearer abcdefgh"})
    assert data["credentials"]["api_key"] == "[REDACTED]"
    assert data["credentials"]["client_id"] == "visible"
    assert "abcdefgh" not in data["note"]


def test_tracebacks_are_redacted_and_json_lines_parse():
    try:
        raise ValueError("login failed with password=hunter2")
    except ValueError:
        import sys

        line = format_record("boom", formatter=JsonFormatter(), exc_info=sys.exc_info())
    payload = json.loads(line)
    assert payload["message"] == "boom"
    assert "hunter2" not in line
    assert "ValueError" in payload["exc"]


def test_the_trigger_gate_never_changes_what_redact_returns():
    """redact() skips its patterns when no trigger word occurs: it must agree with the patterns run always."""
    from core.logging import _PATTERNS

    samples = [
        "Ada Lovelace",
        "ada@example.com",
        "2026-11-26T10:00:00Z",
        "Authorization: Bearer abcdefghijkl",
        "AUTHORIZATION=xyz123",
        "header Api-Key 0123456789abc",
        "Basic dXNlcjpwYXNz",
        'Token token="abcdef123456"',
        "https://crm.example.com/api?api_key=SEKRET123&x=1",
        '{"client_secret": "s3cr3t-value", "name": "n"}',
        "my_password=hunter22 and PASSWD: zz",
        "x-signature=deadbeef00",
        "refresh-token: r-0123456789",
        "bearer",
        "apikey=abc",
        "tok\u212aen=abcdef123",  # a Kelvin sign: IGNORECASE reads it as "k"
        "\u017fecret: value-12345",  # a long s: IGNORECASE reads it as "s"
        "Zoë Brontë",
    ]

    def patterns_always(text: str) -> str:
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    for text in samples:
        assert redact(text) == patterns_always(text), text
    assert redact("Ada Lovelace") == "Ada Lovelace"
    assert "hunter22" not in redact("my_password=hunter22")


def test_the_ascii_folding_escapes_are_every_non_ascii_letter_ignorecase_matches():
    import re

    from core.logging import _ASCII_FOLDING_ESCAPES

    letter = re.compile("(?i)[a-z]")
    folding = [f"\\u{c:04x}" for c in range(128, 0x30000) if letter.fullmatch(chr(c))]
    assert sorted(folding) == sorted(_ASCII_FOLDING_ESCAPES)


def _slow_redact_capped(value, *, secrets=(), max_chars=8192):
    import json

    from core import jsontext
    from core.logging import redact_data

    text = jsontext.dumps(redact_data(json.loads(jsontext.dumps(value, default=str)), secrets=secrets))
    if len(text) <= max_chars:
        return json.loads(text)
    return {"truncated": True, "size": len(text), "preview": text[:max_chars]}


def test_redact_capped_skips_the_walk_only_when_it_would_change_nothing():
    import random
    from datetime import UTC, datetime

    from core.logging import redact_capped

    fragments = [
        "Ada", "ada@example.com", " ", "=", ":", '"', "Authorization", "Bearer ", "abcdefgh1234",
        "api_key", "API-KEY", "apikey", "x-api-key", "Token", "token token=", "client_secret",
        "password", "PASSWD", "pwd", "signature", "Cookie", "basic ", "access-token", "tok\u212aen",
        "\u017fecret", "SUPERSECRET", "s\"q", "é", "\\",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(3000):
        words = lambda: "".join(rng.choice(fragments) for _ in range(rng.randint(0, 4)))  # noqa: E731
        value = {
            words() or "k": words(),
            "nested": [{words() or "n": words()}, words(), 3, None, True],
            "at": datetime(2026, 11, 26, tzinfo=UTC),
        }
        secrets = (rng.choice(["SUPERSECRET", 's"q-secret-value', "é-long-secret"]),)
        assert redact_capped(value, secrets=secrets, max_chars=8192) == _slow_redact_capped(
            value, secrets=secrets
        ), value


def test_redact_capped_still_redacts_keys_values_and_secrets_and_caps():
    from core.logging import redact_capped

    value = {"properties": {"email": "a@example.com", "api_key": "k-123456"}, "note": "Bearer abcdefghij"}
    out = redact_capped(value, secrets=("a@example",), max_chars=8192)
    assert out == {
        "properties": {"email": "[REDACTED].com", "api_key": "[REDACTED]"},
        "note": "Bearer [REDACTED]",
    }
    assert redact_capped({"email": "x@example.com"}, max_chars=8192) == {"email": "x@example.com"}
    capped = redact_capped({"big": "x" * 100}, max_chars=20)
    assert capped["truncated"] is True and capped["size"] > 100 and len(capped["preview"]) == 20


def test_redact_capped_many_equals_redact_capped_of_each_value():
    import random

    from core.logging import redact_capped_many

    fragments = ["Ada", "ada@example.com", "tok", "en", "Bearer ", "abcdefgh1234", "SUPER", "SECRET", "x"]
    rng = random.Random(11)
    for _ in range(500):
        words = lambda: "".join(rng.choice(fragments) for _ in range(rng.randint(0, 3)))  # noqa: E731
        values = [{"k": words(), "list": [words()]} if rng.random() > 0.1 else None for _ in range(5)]
        secrets = ("SUPERSECRET",)
        assert redact_capped_many(values, secrets=secrets, max_chars=40) == [
            _slow_redact_capped(value, secrets=secrets, max_chars=40) if value is not None else None
            for value in values
        ], values


def test_short_or_ordinary_credential_values_do_not_blank_words_in_urls_and_texts():
    """A username like "sandbox" or "admin" is no secret: the URL and the message stay readable."""
    url = "GET http://127.0.0.1:8000/sandbox/mautic/api/contacts?search=admin -> 200"
    assert redact(url, secrets=("sandbox", "admin", "contacts", "hunter2")) == url
    assert redact("Ada administers accounts", secrets=("admin", "accounts")) == "Ada administers accounts"


def test_values_that_look_like_secrets_are_still_removed_anywhere():
    text = redact("echoed: sk-Demo-2f9c41 and pass-7781x", secrets=("sk-Demo-2f9c41", "pass-7781x"))
    assert text == "echoed: [REDACTED] and [REDACTED]"


def test_short_passwords_are_still_hidden_in_credential_positions():
    text = redact(
        'password=admin "api_key": "sandbox" Authorization: Basic YWRtaW46YWRtaW4=', secrets=("admin",)
    )
    assert "admin" not in text.replace("[REDACTED]", "") and "sandbox" not in text


def test_identity_credentials_are_not_secrets_of_the_http_client():
    from integrations.http import _flatten_strings

    values = list(_flatten_strings({"username": "sandbox-user", "password": "p4ss-w0rd!", "login": "ops-9"}))
    assert values == ["p4ss-w0rd!"]
