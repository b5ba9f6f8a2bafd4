"""The request path's shortcuts (done once instead of per request) give exactly what the slow path gave."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aliyun_emulator.core import http
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.requestlog import RequestLog, RequestLogEntry
from aliyun_emulator.core.server import json_bytes
from aliyun_emulator.core.signing import (
    MAX_CACHED_VALUE,
    acs3_string_to_sign,
    authorization_fields,
    parse_pairs,
    parse_timestamp,
    sign,
    v2_string_to_sign,
)
from aliyun_emulator.ram.models import DATE_FORMAT, format_date, random_token


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from([None, timezone.utc, timezone(timedelta(hours=8))]),
)
def test_format_date_is_strftime_of_the_date_format(moment: datetime, zone: timezone | None) -> None:
    moment = moment.replace(tzinfo=zone)

    assert format_date(moment) == moment.strftime(DATE_FORMAT)


@given(st.text(max_size=200), st.text(max_size=60))
def test_one_shot_signatures_equal_hmac_objects(text: str, secret: str) -> None:
    acs3 = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    v2 = base64.b64encode(hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()).decode()

    assert sign("ACS3", text, secret) == acs3
    assert sign("v2", text, secret) == v2


def test_a_refused_timestamp_is_refused_every_time_not_remembered() -> None:
    for _ in range(3):
        with pytest.raises(ApiError) as refused:
            parse_timestamp("2026-02-30T00:00:00Z", "x-acs-date")
        assert refused.value.code == "InvalidTimeStamp.Format"
    assert parse_timestamp("2026-02-28T00:00:00Z", "x-acs-date") == datetime(2026, 2, 28, tzinfo=timezone.utc)


def test_canonical_headers_join_repeated_values_sorted_and_trimmed() -> None:
    headers = {"host": (" h ",), "x-acs-a": ("b ", " a")}
    text = acs3_string_to_sign("POST", "/", (), headers, ("host", "x-acs-a", "x-acs-missing"), "e3")
    canonical = "POST\n/\n\nhost:h\nx-acs-a:a,b\nx-acs-missing:\n\nhost;x-acs-a;x-acs-missing\ne3"

    assert text == "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()


_OLD_AUTHORIZATION = re.compile(
    r"^(ACS3-[A-Z0-9-]+) Credential=([^,\s]+), ?SignedHeaders=([^,\s]*), ?Signature=([0-9a-f]{64})$"
)
_HEX = "0123456789abcdef" * 4
_AUTHORIZATION_PIECES = st.sampled_from(
    [
        *("ACS3-HMAC-SHA256", "ACS3-X", "acs3-a", " Credential=", "AK1", ",", ", ", " ", "SignedHeaders="),
        *("host;x-acs-date", "Signature=", _HEX, _HEX.upper(), "ab", "\n", "Signature=Signature="),
    ]
)


@given(st.lists(_AUTHORIZATION_PIECES, max_size=12).map("".join))
@example(f"ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;x-acs-date,Signature={_HEX}")
@example(f"ACS3-HMAC-SHA256 Credential=AKSignature=1, SignedHeaders=Signature=, Signature={_HEX}")
@example(f"ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=,Signature={_HEX}x")
def test_authorization_fields_read_what_the_full_pattern_reads(text: str) -> None:
    text = text.strip()
    match = _OLD_AUTHORIZATION.match(text)

    assert authorization_fields(text) == (None if match is None else match.groups())
    assert authorization_fields(text) == (None if match is None else match.groups())  # cached head, same answer


@given(st.text(max_size=300))
def test_percent_encoding_is_quote_and_decoding_is_unquote_plus(text: str) -> None:
    encoded = quote(text, safe="~")
    long_text = text + "/" * MAX_CACHED_VALUE  # past the cache bound: worked out each time

    for _ in range(2):  # the second time from the caches
        assert v2_string_to_sign("GET", (("k", text),)) == "GET&%2F&" + quote(f"k={encoded}", safe="~")
        assert v2_string_to_sign("GET", (("k", long_text),)).endswith(quote(quote(long_text, safe="~"), safe="~"))
        assert parse_pairs(f"k={encoded}&p={quote(text, safe='')}") == [("k", text), ("p", text)]
        assert parse_pairs(f"k={quote(long_text)}") == [("k", unquote_plus(quote(long_text)))]


def test_an_undecodable_value_is_refused_every_time_not_remembered() -> None:
    for _ in range(3):
        with pytest.raises(ApiError) as refused:
            parse_pairs("k=%FF%FE+x")
        assert refused.value.code == "InvalidParameter"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
def test_answers_are_encoded_as_json_dumps_encodes_them(document: dict[str, Any]) -> None:
    expected = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")

    assert json_bytes(document) == expected


def test_request_counts_per_action_and_per_product() -> None:
    log = RequestLog()
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for product, action in [("ram", "CreateRole"), ("sts", "AssumeRole"), ("ram", "CreateRole"), ("x", "AssumeRole")]:
        log.record(RequestLogEntry(now, "id", product, action, "1", "arn", 200, ""))
    log.record(RequestLogEntry(now, "id", "", "", "", "", 400, "MissingParameter"))

    assert log.counts() == {"CreateRole": 2, "AssumeRole": 2}
    assert log.counts_by_product() == {"ram:CreateRole": 2, "sts:AssumeRole": 1, "x:AssumeRole": 1}
    assert log.snapshot(0)["counts"] == log.counts()
    assert log.total == 5


def test_a_token_takes_the_entropy_drawn_for_it_and_draws_more_when_short() -> None:
    assert random_token(3, b"abc") == "YWJ"  # URL-safe base64 of b"abc" is "YWJj"
    topped_up = random_token(4, b"\xfb\xff\xbf")  # "-_-_": nothing usable, four more characters are drawn

    assert len(topped_up) == 4
    assert topped_up.isascii()
    assert topped_up.isalnum()


def test_header_lines_are_read_alike_from_the_table_which_stays_bounded() -> None:
    for index in range(http.MAX_KNOWN_HEADER_LINES + 10):
        line = f"X-Custom: value-{index} ".encode()
        read = ("x-custom", ("X-Custom", f"value-{index}"), (f"value-{index}",))
        assert http._header_line(line) == read
        assert http._HEADER_LINES.get(line, read) == read
    assert len(http._HEADER_LINES) <= http.MAX_KNOWN_HEADER_LINES
    http._header_line(b"x-acs-signature-nonce: 1234")
    assert b"x-acs-signature-nonce: 1234" not in http._HEADER_LINES  # changes with every call: not kept
    assert http._header_line(b" folded: x") is None
    assert http._header_line(b"no colon") is None


_ESCAPES = st.integers(0, 255).map(lambda byte: f"%{byte:02X}")


@given(st.lists(st.sampled_from(["a", "Z", "0", "-", ".", "_", "~", "+", "%3a"]) | _ESCAPES, max_size=30).map("".join))
def test_values_sent_percent_encoded_decode_as_unquote_plus_and_encode_back_as_quote(raw: str) -> None:
    try:
        expected = unquote_plus(raw, errors="strict")
    except UnicodeDecodeError as error:
        with pytest.raises(ApiError, match=re.escape(str(error))):
            parse_pairs(f"k={raw}")
        return

    assert parse_pairs(f"k={raw}") == [("k", expected)]
    assert v2_string_to_sign("GET", (("k", expected),)) == "GET&%2F&" + quote(
        f"k={quote(expected, safe='~')}", safe="~"
    )
