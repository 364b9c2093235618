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
