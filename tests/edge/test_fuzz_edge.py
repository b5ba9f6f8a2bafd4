"""Catalog 28: fuzzing the payload model and the whole webhook edge; only the typed 4xx answers ever come out.

Hypothesis drives the inputs (seeded by its database-free default profile, so a failure prints the example to
replay). The signature header parser has its own fuzz tests in test_webhook.py; here the body and the FC envelope
are mangled, signed or not, and the answer must be one of the documented statuses, never a 500.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ram_delegate import app
from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.events import parse_event
from ram_delegate.notify import HttpNotifier
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret, sign

EVENTS = Path(__file__).resolve().parents[1] / "events"
SECRET = generate_secret()
OWNER_KEY = Credentials("AKIDENTERPRISEA0000001", "secret-a")
APPROVED: dict[str, Any] = json.loads((EVENTS / "edge-approved.json").read_text())
TRIGGER: dict[str, Any] = json.loads((EVENTS / "edge-http-trigger.json").read_text())
DOCUMENTED = {200, 400, 401, 405, 413, 422}

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40), st.just("")
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


APPROVED_PATHS = _paths(APPROVED)


@settings(max_examples=600, deadline=None)
@given(path=st.sampled_from(APPROVED_PATHS), value=_JSON)
def test_a_mangled_event_is_either_valid_or_invalid_input(path: tuple[Any, ...], value: Any) -> None:
    problems = _problems(json.dumps(_replaced(APPROVED, path, value), allow_nan=True))
    assert problems is None or len(problems) >= 1


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), _JSON.map(lambda d: json.dumps(d, allow_nan=True).encode())))
def test_arbitrary_bytes_are_either_an_event_or_invalid_input(raw: bytes | str) -> None:
    problems = _problems(raw)
    assert problems is None or len(problems) >= 1


def _problems(raw: bytes | str) -> list[Problem] | None:
    """The problems of an invalid event, None for a valid one; any other exception escapes and fails the test."""
    try:
        parse_event(raw)
    except InvalidInputError as exc:
        return list(exc.problems)
    return None


def _no_wait(_seconds: float) -> None:
    """Backoff without waiting."""


def _deps(emulator: Any) -> Deps:
    config = Settings(
        side="owner",
        account_id="1111111111111111",
        endpoint=emulator.endpoint,
        protocol="http",
        webhook_secrets=(SECRET,),
        allowed_partners=("2222222222222222",),
    )
    return Deps(
        settings=config,
        cloud=CloudClients(
            config, Credentials("AKIDENTERPRISEA0000001", "secret-a"), retry=RetryPolicy(sleep=_no_wait)
        ),
        clock=emulator.clock.now,
        notifier=HttpNotifier(),  # never used: no partner endpoint is configured
        audit=AuditLog(),
        profiles=load_profiles(),
    )


def _trigger_event(
    body: bytes, headers: dict[str, str], now: datetime, envelope_path: tuple[Any, ...], value: Any
) -> bytes:
    event = json.loads(json.dumps(TRIGGER))
    event["headers"] = {**event["headers"], **headers}
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    event["requestContext"]["timeEpoch"] = str(int(now.timestamp() * 1000))
    if envelope_path:
        event = _replaced(event, envelope_path, value)
    return json.dumps(event, allow_nan=True).encode()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(APPROVED_PATHS),
    value=_JSON,
    signed=st.booleans(),
    skew=st.integers(min_value=-400, max_value=400),
    envelope_path=st.sampled_from([(), ("headers",), ("body",), ("isBase64Encoded",), ("requestContext",),
                                   ("requestContext", "timeEpoch"), ("requestContext", "http", "method")]),
    envelope_value=_JSON,
)  # fmt: skip
def test_the_owner_endpoint_only_ever_answers_documented_statuses(
    aliyun_emulator: Any,
    path: tuple[Any, ...],
    value: Any,
    signed: bool,
    skew: int,
    envelope_path: tuple[Any, ...],
    envelope_value: Any,
) -> None:
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    document = _replaced(APPROVED, path, value)
    if isinstance(document, dict):
        document = {**document, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = json.dumps(document, allow_nan=True).encode()
    signed_at = int((now + timedelta(seconds=skew)).timestamp())
    headers = sign(SECRET if signed else generate_secret(), "evt-fuzz", signed_at, body)
    event = _trigger_event(body, headers, now, envelope_path, envelope_value)
    response = app.owner_onboard(event, None, deps=_deps(aliyun_emulator))
    assert response["statusCode"] in DOCUMENTED, response["body"]
    if not signed or abs(skew) > 300:
        assert response["statusCode"] in {400, 401, 405, 413}
