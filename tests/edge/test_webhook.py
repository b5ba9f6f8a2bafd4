"""Webhook authentication: published vectors, the bad-input catalog (reliability-and-security.md §9) and fuzzing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ram_delegate.errors import SignatureError
from ram_delegate.webhook import (
    decode_secret,
    generate_secret,
    sign,
    verify_hub_signature,
    verify_standard_webhook,
)

VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_NOW = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=timezone.utc)

SECRET = generate_secret()
NEW_SECRET = generate_secret()
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
BODY = json.dumps({"specversion": "1.0", "id": "evt-1", "data": {"ticket": "OPS-1"}}).encode()


def signed(body: bytes = BODY, *, secret: str = SECRET, at: datetime = NOW, msg_id: str = "evt-1") -> dict[str, str]:
    return sign(secret, msg_id, int(at.timestamp()), body)


def verify(headers: dict[str, str], body: bytes = BODY, secrets: list[str] | None = None, now: datetime = NOW) -> str:
    return verify_standard_webhook(headers, body, [SECRET] if secrets is None else secrets, now=now)


# --- published vectors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [VECTOR_SECRET, "whsec_" + VECTOR_SECRET], ids=["bare", "whsec-prefix"])
def test_standard_webhooks_vector_signs_and_verifies(secret: str) -> None:
    headers = sign(secret, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    assert verify_standard_webhook(headers, VECTOR_BODY, [secret], now=VECTOR_NOW) == VECTOR_ID


def test_github_vector_verifies() -> None:
    expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    secret = "It's a Secret to Everybody"
    assert hmac.new(secret.encode(), b"Hello, World!", hashlib.sha256).hexdigest() == expected
    verify_hub_signature({"X-Hub-Signature-256": f"sha256={expected}"}, b"Hello, World!", [secret])
    verify_hub_signature({"X-Hub-Signature": f"sha256={expected.upper()}"}, b"Hello, World!", [secret])
    with pytest.raises(SignatureError):
        verify_hub_signature({"X-Hub-Signature-256": f"sha256={expected}"}, b"Hello, World?", [secret])


def test_generated_secret_is_a_32_byte_whsec_secret() -> None:
    assert SECRET.startswith("whsec_")
    assert len(decode_secret(SECRET)) == 32
    assert SECRET != NEW_SECRET


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in signed().items()}
    assert verify(headers) == "evt-1"


# --- catalog 1-4: forged, changed, missing, malformed --------------------------------------------------------------


def test_forged_signature_with_a_wrong_key_is_refused() -> None:
    with pytest.raises(SignatureError, match="no matching"):
        verify(signed(secret=generate_secret()))


def test_body_changed_by_one_byte_is_refused() -> None:
    changed = BODY[:-2] + bytes([BODY[-2] ^ 1]) + BODY[-1:]
    with pytest.raises(SignatureError):
        verify(signed(), body=changed)


def test_reserialised_json_is_refused() -> None:
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialised != BODY
    with pytest.raises(SignatureError):
        verify(signed(), body=reserialised)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_refused(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify(headers)


@pytest.mark.parametrize("secrets", [[], [""], ["whsec_not base64!"], ["whsec_" + base64.b64encode(b"short").decode()]])
def test_no_usable_secret_is_refused(secrets: list[str]) -> None:
    with pytest.raises(SignatureError):
        verify(signed(), secrets=secrets)


@pytest.mark.parametrize(
    "signature",
    [
        "v1",
        "v1,a,b",
        "v1,!!!not-base64!!!",
        "v1," + base64.b64encode(b"short").decode(),
        "v2," + signed()["webhook-signature"].split(",", 1)[1],
        " ".join(["v1,AAAA"] * 10_000),
        "",
        ",",
        "v1,",
    ],
    ids=[
        "bare-v1",
        "three-parts",
        "bad-base64",
        "short-digest",
        "only-v2",
        "10000-tokens",
        "empty",
        "comma",
        "v1-empty",
    ],
)
def test_malformed_signature_tokens_are_refused(signature: str) -> None:
    headers = {**signed(), "webhook-signature": signature}
    with pytest.raises(SignatureError):
        verify(headers)


def test_a_valid_entry_among_malformed_ones_is_accepted() -> None:
    good = signed()["webhook-signature"]
    headers = {**signed(), "webhook-signature": f"v1 v1,a,b v2,xyz {good}"}
    assert verify(headers) == "evt-1"


@pytest.mark.parametrize("msg_id", ["evt.1", "evt 1", "x" * 257])
def test_ids_with_dots_or_odd_characters_are_refused(msg_id: str) -> None:
    headers = {**signed(), "webhook-id": msg_id}
    with pytest.raises(SignatureError):
        verify(headers)


def test_non_string_header_values_are_refused() -> None:
    headers: dict[str, object] = {**signed(), "webhook-timestamp": int(NOW.timestamp())}
    with pytest.raises(SignatureError):
        verify_standard_webhook(headers, BODY, [SECRET], now=NOW)  # type: ignore[arg-type]


# --- catalog 5 and 25: time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-299, 0, 299], ids=["minus-299", "zero", "plus-299"])
def test_timestamps_within_tolerance_are_accepted(offset: int) -> None:
    assert verify(signed(at=NOW + timedelta(seconds=offset))) == "evt-1"


@pytest.mark.parametrize(
    "offset", [-301, 301, -600, 600], ids=["minus-301", "plus-301", "skew-minus-10m", "skew-plus-10m"]
)
def test_timestamps_outside_tolerance_are_refused_with_a_distinct_reason(offset: int) -> None:
    with pytest.raises(SignatureError, match="outside the tolerance"):
        verify(signed(at=NOW + timedelta(seconds=offset)))


@pytest.mark.parametrize("timestamp", ["hello", "1e9", "nan", "-1614265330", "1614265330.5", " 1614265330", "0x10"])
def test_malformed_timestamps_are_refused(timestamp: str) -> None:
    headers = {**signed(), "webhook-timestamp": timestamp}
    with pytest.raises(SignatureError, match="malformed"):
        verify(headers)


def test_tolerance_uses_the_given_now_not_the_host_clock() -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=timezone.utc)
    assert verify(signed(at=long_ago), now=long_ago) == "evt-1"


# --- catalog 6-9: replay, redelivery, unsigned headers, rotation --------------------------------------------------


def test_exact_replay_inside_the_window_verifies_again() -> None:
    headers = signed()
    assert verify(headers) == verify(headers, now=NOW + timedelta(seconds=60)) == "evt-1"


def test_redelivery_days_later_with_a_fresh_signature_keeps_the_id() -> None:
    later = NOW + timedelta(days=3)
    assert verify(signed(at=later), now=later) == "evt-1"
    with pytest.raises(SignatureError):
        verify(signed(), now=later)  # the original delivery's headers are stale by then


def test_changed_unsigned_delivery_header_does_not_affect_the_hub_check() -> None:
    secret = "jira-shared-secret"
    digest = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    for delivery in ("delivery-1", "delivery-2"):
        verify_hub_signature({"x-hub-signature-256": f"sha256={digest}", "x-github-delivery": delivery}, BODY, [secret])


def test_rotation_accepts_old_and_new_during_the_overlap_and_only_new_after() -> None:
    old_sig = signed(secret=SECRET)["webhook-signature"]
    new_sig = signed(secret=NEW_SECRET)["webhook-signature"]
    both = {**signed(), "webhook-signature": f"{old_sig} {new_sig}"}
    assert verify(both, secrets=[SECRET, NEW_SECRET]) == "evt-1"
    assert verify(both, secrets=[NEW_SECRET]) == "evt-1"
    assert verify(signed(secret=NEW_SECRET), secrets=[SECRET, NEW_SECRET]) == "evt-1"
    with pytest.raises(SignatureError):
        verify(signed(secret=SECRET), secrets=[NEW_SECRET])


@pytest.mark.parametrize(
    "header",
    ["sha256=zz", "sha1=" + "0" * 40, "sha256=" + "0" * 63, "", "sha256=" + "0" * 64],
    ids=["not-hex", "sha1", "short", "empty", "wrong-digest"],
)
def test_malformed_or_wrong_hub_signatures_are_refused(header: str) -> None:
    with pytest.raises(SignatureError):
        verify_hub_signature({"x-hub-signature-256": header}, BODY, ["secret"])


def test_hub_check_without_secret_or_header_is_refused() -> None:
    with pytest.raises(SignatureError):
        verify_hub_signature({}, BODY, ["secret"])
    with pytest.raises(SignatureError):
        verify_hub_signature({"x-hub-signature-256": "sha256=" + "0" * 64}, BODY, [])


# --- catalog 28 (lite): random header mutations only ever raise SignatureError --------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
_NAMES = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Signature", "other"])


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(
        _NAMES, st.one_of(_TEXT, st.binary(max_size=40).map(lambda b: "v1," + base64.b64encode(b).decode()))
    ),
    drop=st.lists(_NAMES, max_size=3),
    body=st.one_of(st.just(BODY), st.binary(max_size=64)),
)
def test_mutated_headers_only_ever_raise_signature_error(changes: dict[str, str], drop: list[str], body: bytes) -> None:
    headers = {**signed(), **changes}
    for name in drop:
        headers.pop(name, None)
    with contextlib.suppress(SignatureError):
        assert verify(headers, body=body) == headers.get("webhook-id", "evt-1")


@settings(max_examples=500, deadline=None)
@given(header=_TEXT, body=st.binary(max_size=64))
def test_mutated_hub_headers_only_ever_raise_signature_error(header: str, body: bytes) -> None:
    try:
        verify_hub_signature({"x-hub-signature-256": header}, body, ["secret"])
    except SignatureError:
        pass
    else:
        raise AssertionError("a random hub header verified")
