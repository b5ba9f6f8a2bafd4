"""Signature verification against the 64 real SDK requests, and the mutations that must break them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sdk_captures import CAPTURE_TIME, SECURITY_TOKEN, Capture, load_captures

from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.signing import (
    NonceCache,
    RawRequest,
    parse_signed_request,
    sign,
    signature_matches,
    string_to_sign,
)

CAPTURES = load_captures()
ACS3_CAPTURES = [capture for capture in CAPTURES if capture.mode.startswith("default")]
V2_CAPTURES = [capture for capture in CAPTURES if capture.mode.startswith("v2")]


def _id(capture: Capture) -> str:
    return f"{capture.mode}-{capture.index}-{capture.name}"


def _verifies(raw: RawRequest, secret: str) -> bool:
    return signature_matches(raw, parse_signed_request(raw), secret)


def _with_header(raw: RawRequest, name: str, value: str) -> RawRequest:
    return raw._replace(headers={**raw.headers, name: (value,)})


def test_all_64_captures_are_present() -> None:
    assert len(CAPTURES) == 64
    assert {capture.mode for capture in CAPTURES} == {"default_ak", "default_sts", "v2_ak", "v2_sts"}


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_every_capture_verifies_with_its_secret(capture: Capture) -> None:
    raw = capture.raw_request()
    claim = parse_signed_request(raw)

    assert signature_matches(raw, claim, capture.secret)
    assert claim.access_key_id == capture.access_key_id
    assert claim.scheme == ("ACS3" if capture.mode.startswith("default") else "v2")
    assert abs(claim.timestamp - CAPTURE_TIME) < timedelta(seconds=10)
    assert claim.security_token == (SECURITY_TOKEN if capture.mode.endswith("_sts") else None)


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_the_router_reads_action_version_and_api_parameters(capture: Capture) -> None:
    claim = parse_signed_request(capture.raw_request())
    product, action = capture.name.split(".")

    assert claim.action == action
    assert claim.version == {"ram": "2015-05-01", "sts": "2015-04-01", "slb": "2014-05-15"}[product]
    assert not {"Action", "Version", "Signature", "SignatureNonce", "AccessKeyId", "SecurityToken"} & set(claim.params)


def test_encoding_vector_decodes_plus_slash_and_utf8() -> None:
    create_role = next(c for c in ACS3_CAPTURES if c.name == "ram.CreateRole")
    claim = parse_signed_request(create_role.raw_request())

    assert claim.params["Description"] == "my role + spaces/ü"
    assert claim.params["MaxSessionDuration"] == "3600"


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_wrong_secret_does_not_match(capture: Capture) -> None:
    assert not _verifies(capture.raw_request(), capture.secret + "x")


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_replaying_post_as_get_does_not_match(capture: Capture) -> None:
    assert not _verifies(capture.raw_request()._replace(method="GET"), capture.secret)


@pytest.mark.parametrize("capture", [c for c in CAPTURES if c.query], ids=_id)
def test_tampered_query_value_does_not_match(capture: Capture) -> None:
    raw = capture.raw_request()
    key, _, value = raw.query.partition("&")[0].partition("=")
    tampered = raw._replace(query=raw.query.replace(f"{key}={value}", f"{key}={value}0", 1))

    assert not _verifies(tampered, capture.secret)


@pytest.mark.parametrize("capture", ACS3_CAPTURES, ids=_id)
@pytest.mark.parametrize(("header", "value"), [("host", "127.0.0.1:1"), ("x-acs-action", "DeleteUser")])
def test_tampered_signed_header_does_not_match(capture: Capture, header: str, value: str) -> None:
    assert not _verifies(_with_header(capture.raw_request(), header, value), capture.secret)


@pytest.mark.parametrize("capture", [c for c in CAPTURES if c.mode.endswith("_sts")], ids=_id)
def test_tampered_security_token_does_not_match(capture: Capture) -> None:
    raw = capture.raw_request()
    if capture.mode == "default_sts":
        tampered = _with_header(raw, "x-acs-security-token", "CAIS-token-other")
    else:
        tampered = raw._replace(query=raw.query.replace(SECURITY_TOKEN, "CAIS-token-other"))

    assert not _verifies(tampered, capture.secret)


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_changed_unsigned_headers_still_verify(capture: Capture) -> None:
    raw = _with_header(capture.raw_request(), "accept-encoding", "gzip, br")
    raw = _with_header(raw, "content-length", "0")
    raw = _with_header(raw, "x-forwarded-for", "10.0.0.1")

    assert _verifies(raw, capture.secret)


@pytest.mark.parametrize("capture", ACS3_CAPTURES, ids=_id)
def test_body_added_under_the_recorded_hash_is_a_content_mismatch(capture: Capture) -> None:
    raw = capture.raw_request()._replace(body=b"RoleName=other")

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw)

    assert (raised.value.code, raised.value.status) == ("InvalidContentSha256", 400)


@pytest.mark.parametrize("capture", V2_CAPTURES, ids=_id)
def test_v2_form_body_parameters_are_signed(capture: Capture) -> None:
    raw = capture.raw_request()._replace(
        body=b"Extra=1",
        headers={**capture.raw_request().headers, "content-type": ("application/x-www-form-urlencoded",)},
    )

    assert not _verifies(raw, capture.secret)


def test_v2_worked_example_string_to_sign() -> None:
    capture = next(c for c in V2_CAPTURES if c.mode == "v2_ak" and c.name == "sts.GetCallerIdentity")
    raw = capture.raw_request()
    claim = parse_signed_request(raw)

    assert sign("v2", string_to_sign(raw, claim), "secret-test") == "qo5JCoQIUoaW3sTK/+8Oblbb618="


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("ACS3-HMAC-SHA256 Credential=AKID_TEST", "IncompleteSignature"),
        ("Bearer abc", "IncompleteSignature"),
        ("ACS3-HMAC-SM3 Credential=AKID_TEST,SignedHeaders=host,Signature=" + "0" * 64, "InvalidSignatureMethod"),
        ("ACS3-HMAC-SHA256 Credential=AKID_TEST,SignedHeaders=host,Signature=" + "0" * 64, "IncompleteSignature"),
        (
            "ACS3-HMAC-SHA256 Credential=AKID_TEST,SignedHeaders=host;host;x-acs-date,Signature=" + "0" * 64,
            "IncompleteSignature",
        ),
    ],
)
def test_malformed_authorization_is_refused_with_its_code(authorization: str, code: str) -> None:
    raw = _with_header(ACS3_CAPTURES[0].raw_request(), "authorization", authorization)

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw)

    assert (raised.value.code, raised.value.status) == (code, 400)


def test_signed_header_missing_from_the_request_is_refused() -> None:
    raw = ACS3_CAPTURES[0].raw_request()
    headers = {name: values for name, values in raw.headers.items() if name != "user-agent"}

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw._replace(headers=headers))

    assert raised.value.code == "IncompleteSignature"
    assert "user-agent" in raised.value.message


@pytest.mark.parametrize(
    "name",
    [
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-action",
        "x-acs-version",
        "x-acs-security-token",
        "x-acs-accesskey-id",
        "authorization",
    ],
)
def test_a_protocol_header_sent_twice_is_refused_by_name(name: str) -> None:
    """Two values of a header the claim reads would be a guess at which one was signed: refused, whichever it is."""
    raw = next(capture for capture in ACS3_CAPTURES if capture.mode == "default_sts").raw_request()
    sent = raw.headers.get(name, ("value",))

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw._replace(headers={**raw.headers, name: (*sent, sent[0])}))

    assert (raised.value.code, raised.value.status) == ("InvalidParameter", 400)
    assert raised.value.message == f"The header {name} must be sent once."


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("RoleName=a&RoleName=b", "InvalidParameter.RoleName"),
        ("RoleName=%ff", "InvalidParameter"),
        ("a&&b", "InvalidParameter"),
    ],
)
def test_malformed_or_repeated_parameters_are_refused(query: str, code: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_signed_request(ACS3_CAPTURES[0].raw_request()._replace(query=query))

    assert (raised.value.code, raised.value.status) == (code, 400)


@pytest.mark.parametrize(
    ("remove", "code"),
    [
        ("Timestamp", "MissingParameter"),
        ("SignatureNonce", "MissingParameter"),
        ("AccessKeyId", "MissingParameter"),
        ("Action", "MissingParameter"),
        ("SignatureMethod", "MissingParameter"),
        ("Signature", "MissingParameter"),
    ],
)
def test_v2_protocol_parameters_are_required(remove: str, code: str) -> None:
    raw = V2_CAPTURES[0].raw_request()
    query = "&".join(pair for pair in raw.query.split("&") if not pair.startswith(f"{remove}="))

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw._replace(query=query))

    assert (raised.value.code, raised.value.status) == (code, 400)


def test_v2_bad_timestamp_format_is_refused() -> None:
    raw = V2_CAPTURES[0].raw_request()
    query = raw.query.replace("Timestamp=2026-11-28T21%3A59%3A", "Timestamp=2026-11-28+21%3A59%3A")

    with pytest.raises(ApiError) as raised:
        parse_signed_request(raw._replace(query=query))

    assert raised.value.code == "InvalidTimeStamp.Format"


def test_nonce_cache_refuses_a_replay_per_access_key() -> None:
    nonces = NonceCache()

    assert nonces.remember("AK1", "n1", CAPTURE_TIME, CAPTURE_TIME)
    assert not nonces.remember("AK1", "n1", CAPTURE_TIME, CAPTURE_TIME)
    assert nonces.remember("AK2", "n1", CAPTURE_TIME, CAPTURE_TIME)


def test_nonce_cache_forgets_nonces_older_than_the_window() -> None:
    nonces = NonceCache(window=timedelta(minutes=15), prune_every=2)
    later = CAPTURE_TIME + timedelta(hours=1)

    nonces.remember("AK", "old", CAPTURE_TIME, CAPTURE_TIME)
    nonces.remember("AK", "new", later, later)

    assert len(nonces) == 1
    assert not nonces.remember("AK", "new", later, later)
