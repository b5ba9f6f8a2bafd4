"""The 64 captured SDK requests replayed over real HTTP, then mutated a few thousand times.

An account whose root key is the captures' ``AKID_TEST`` / ``secret-test`` makes them valid requests once the
emulator clock is set to the capture time. After every capture has run once (burning its nonce), every mutation must
get a 4xx in Alibaba's error format, never a 5xx, a dropped connection or a hang, and must leave the state alone.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from xml.etree import ElementTree

import pytest
from sdk_captures import CAPTURE_TIME, Capture, load_captures
from wire_support import RawAnswer, send_raw

from aliyun_emulator.emulator import Emulator

CAPTURE_SEED = {
    "accounts": [
        {
            "uid": "1234567890123456",
            "alias": "capture-account",
            "access_key_id": "AKID_TEST",
            "access_key_secret": "secret-test",
            "resource_groups": [],
            "load_balancers": [],
        }
    ]
}
AUTHENTICATION_CODES = {
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId.NotFound",
    "InvalidTimeStamp.Expired",
    "SignatureNonceUsed",
    "InvalidContentSha256",
}
MUTATIONS = 4000
CAPTURES = load_captures()
AK_CAPTURES = [capture for capture in CAPTURES if capture.mode.endswith("_ak")]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(CAPTURE_SEED) as running:
        running.clock.set(CAPTURE_TIME)
        yield running


def _wire(
    method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes, content_length: int | None = None
) -> bytes:
    lines = [method.encode("latin-1") + b" " + target.encode("latin-1") + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in headers if name.lower() not in (b"content-length", b"connection")]
    lines += [b"Content-Length: %d" % (len(body) if content_length is None else content_length), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _replay(emulator: Emulator, capture: Capture) -> RawAnswer:
    headers = [(name.encode("latin-1"), value.encode("utf-8")) for name, value in capture.headers]
    return send_raw(emulator, _wire(capture.method, capture.raw_path, headers, capture.body))


def _assert_alibaba_error(answer: RawAnswer) -> str:
    """The error's code; JSON, or XML when a mutation dropped a legacy call's ``Format`` (the RPC default)."""
    fields = {"RequestId", "HostId", "Code", "Message", "Recommend"}
    if answer.headers["content-type"].startswith("text/xml"):
        root = ElementTree.fromstring(answer.body)  # noqa: S314 - our own answer, over loopback
        assert (root.tag, {child.tag for child in root}) == ("Error", fields)
        return str(root.findtext("Code"))
    document = answer.json()
    assert set(document) == fields
    assert answer.headers["content-type"].startswith("application/json")
    return str(document["Code"])


def test_every_captured_request_is_accepted_at_capture_time(emulator: Emulator) -> None:
    outcomes = {}
    for capture in CAPTURES:
        answer = _replay(emulator, capture)
        code = "" if answer.status == 200 else _assert_alibaba_error(answer)
        outcomes[(capture.mode, capture.index)] = (answer.status, code)

    for capture in AK_CAPTURES:
        status, code = outcomes[(capture.mode, capture.index)]
        assert status < 500, (capture.name, status, code)
        assert code not in AUTHENTICATION_CODES, (capture.name, status, code)
    # STS.AKID is no credential this emulator issued.
    assert {outcomes[(c.mode, c.index)] for c in CAPTURES if c.mode.endswith("_sts")} == {
        (404, "InvalidAccessKeyId.NotFound")
    }
    assert outcomes[("default_ak", 0)] == (200, "")  # ram.CreateRole
    assert outcomes[("v2_ak", 14)] == (200, "")  # sts.GetCallerIdentity


def test_captures_outside_the_clock_window_are_refused_as_expired(emulator: Emulator) -> None:
    emulator.clock.advance(16 * 60)

    codes = {_assert_alibaba_error(_replay(emulator, capture)) for capture in AK_CAPTURES}

    assert codes == {"InvalidTimeStamp.Expired"}


def test_a_second_replay_is_refused_as_nonce_reuse(emulator: Emulator) -> None:
    for capture in AK_CAPTURES:
        _replay(emulator, capture)
    state = emulator.state.dump()

    answers = [_replay(emulator, capture) for capture in AK_CAPTURES]

    assert {(answer.status, _assert_alibaba_error(answer)) for answer in answers} == {(400, "SignatureNonceUsed")}
    assert emulator.state.dump() == state


Mutation = Callable[[random.Random, Capture], bytes]


def _headers(capture: Capture) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("utf-8")) for name, value in capture.headers]


def _noise(rng: random.Random) -> bytes:
    """Mostly printable, sometimes NUL or non-ASCII; never CR/LF (header framing is the malformed-HTTP tests' job)."""
    pool = [*range(0x21, 0x7F), 0x00, 0x09, 0x80, 0xC3, 0xFF]
    return bytes([rng.choice(pool)])


def _edit(rng: random.Random, data: bytes) -> bytes:
    position = rng.randrange(len(data) + 1)
    operation = rng.choice(("flip", "insert", "delete"))
    if operation == "insert" or not data:
        return data[:position] + _noise(rng) + data[position:]
    position = min(position, len(data) - 1)
    if operation == "delete":
        return data[:position] + data[position + 1 :]
    return data[:position] + _noise(rng) + data[position + 1 :]


def _mutate_query(rng: random.Random, capture: Capture) -> bytes:
    path, _, query = capture.raw_path.partition("?")
    mutated = _edit(rng, query.encode("utf-8")).decode("latin-1")
    return _wire(capture.method, f"{path}?{mutated}", _headers(capture), capture.body)


def _mutate_header(rng: random.Random, capture: Capture) -> bytes:
    headers = _headers(capture)
    index = rng.randrange(len(headers))
    name, value = headers[index]
    if rng.random() < 0.2:
        name = _edit(rng, name).replace(b":", b"") or b"X"
    else:
        value = _edit(rng, value)
    headers[index] = (name, value)
    return _wire(capture.method, capture.raw_path, headers, capture.body)


def _mutate_authorization(rng: random.Random, capture: Capture) -> bytes:
    headers = _headers(capture)
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"authorization":
            for _ in range(rng.randint(1, 3)):
                value = _edit(rng, value)
            headers[index] = (name, value)
            return _wire(capture.method, capture.raw_path, headers, capture.body)
    return _mutate_query(rng, capture)


def _mutate_method(rng: random.Random, capture: Capture) -> bytes:
    method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post", "P0ST", "POSTT", "TRACE"])
    return _wire(method, capture.raw_path, _headers(capture), capture.body)


def _mutate_body(rng: random.Random, capture: Capture) -> bytes:
    headers = _headers(capture)
    if rng.random() < 0.5:
        headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    body = rng.choice([b"RoleName=evil", b"{}", bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))])
    return _wire(capture.method, capture.raw_path, headers, body)


def _duplicate_parameter(rng: random.Random, capture: Capture) -> bytes:
    path, _, query = capture.raw_path.partition("?")
    pairs = query.split("&") if query else ["Action=GetRole"]
    pairs.insert(rng.randrange(len(pairs) + 1), rng.choice(pairs))
    return _wire(capture.method, f"{path}?{'&'.join(pairs)}", _headers(capture), capture.body)


def _duplicate_header(rng: random.Random, capture: Capture) -> bytes:
    headers = _headers(capture)
    name, value = rng.choice(headers)
    headers.insert(rng.randrange(len(headers) + 1), (name, _edit(rng, value) if rng.random() < 0.5 else value))
    return _wire(capture.method, capture.raw_path, headers, capture.body)


def _huge_value(rng: random.Random, capture: Capture) -> bytes:
    path, _, query = capture.raw_path.partition("?")
    size = rng.choice([7_000, 30_000, 64_000, 80_000])
    pairs = [*(query.split("&") if query else []), f"Huge={'x' * size}"]
    if rng.random() < 0.5:
        return _wire(capture.method, path, [*_headers(capture), (b"X-Huge", b"y" * size)], capture.body)
    return _wire(capture.method, f"{path}?{'&'.join(pairs)}", _headers(capture), capture.body)


def _drop_header(rng: random.Random, capture: Capture) -> bytes:
    headers = _headers(capture)
    headers.pop(rng.randrange(len(headers)))
    return _wire(capture.method, capture.raw_path, headers, capture.body)


def _mutate_path(rng: random.Random, capture: Capture) -> bytes:
    path, _, query = capture.raw_path.partition("?")
    mutated = rng.choice(["//", "/x", "/_emulatorx", "/%2F", "http://127.0.0.1/", "*"]) if rng.random() < 0.5 else path
    return _wire(capture.method, f"{mutated}?{query}", _headers(capture), capture.body)


MUTATORS: list[Mutation] = [
    _mutate_query,
    _mutate_header,
    _mutate_authorization,
    _mutate_method,
    _mutate_body,
    _duplicate_parameter,
    _duplicate_header,
    _huge_value,
    _drop_header,
    _mutate_path,
]


@pytest.mark.slow
def test_thousands_of_mutated_captures_get_4xx_errors_and_change_nothing(emulator: Emulator) -> None:
    for capture in CAPTURES:
        _replay(emulator, capture)  # burn every nonce: a mutation that stays valid is still a replay
    state = emulator.state.dump()
    rng = random.Random(20261128)
    codes: Counter[str] = Counter()

    for attempt in range(MUTATIONS):
        capture = rng.choice(CAPTURES)
        mutator = MUTATORS[attempt % len(MUTATORS)]
        answer = send_raw(emulator, mutator(rng, capture))
        assert 400 <= answer.status < 500, (mutator.__name__, capture.name, answer.status, answer.body[:300])
        codes[_assert_alibaba_error(answer)] += 1

    assert emulator.state.dump() == state
    assert codes["SignatureDoesNotMatch"] > 0
    assert codes["SignatureNonceUsed"] > 0
