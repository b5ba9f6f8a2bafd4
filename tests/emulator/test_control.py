"""The /_emulator control interface, through its HTTP client ``EmulatorControl`` and as raw JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException
from wire_support import ROOT_A, request_bytes, send_raw

from aliyun_emulator.control import ControlError, EmulatorControl
from aliyun_emulator.core.requestlog import RequestLog, RequestLogEntry
from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_A_UID, ram_client, sts_client


@pytest.fixture
def control(aliyun_emulator: Emulator) -> EmulatorControl:
    return EmulatorControl(aliyun_emulator.url)


def test_health_answers_200(aliyun_emulator: Emulator, control: EmulatorControl) -> None:
    answer = send_raw(aliyun_emulator, request_bytes("GET", "/_emulator/health", [("Host", "x")]))

    assert (answer.status, answer.json()) == (200, {"status": "ok"})
    assert control.health()


def test_clock_reads_advances_and_jumps(aliyun_emulator: Emulator, control: EmulatorControl) -> None:
    start = control.clock.now()
    advanced = control.clock.advance(3600)
    target = datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    jumped = control.clock.set(target)

    assert abs(start - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert advanced - start >= timedelta(seconds=3600)
    assert jumped == target
    assert abs(aliyun_emulator.clock.now() - target) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"advance_seconds": -5}',
        b'{"advance_seconds": "10"}',
        b'{"advance_seconds": true}',
        b'{"now": "yesterday"}',
        b'{"now": "2030-01-01T00:00:00"}',
        b'{"now": "2030-01-01T00:00:00Z", "advance_seconds": 1}',
    ],
)
def test_malformed_clock_input_is_a_400_and_moves_nothing(aliyun_emulator: Emulator, body: bytes) -> None:
    before = aliyun_emulator.clock.now()
    answer = send_raw(aliyun_emulator, request_bytes("POST", "/_emulator/clock", [("Host", "x")], body))

    assert answer.status == 400
    assert answer.json()["Code"] in {"MalformedJSON", "InvalidParameter"}
    assert abs(aliyun_emulator.clock.now() - before) < timedelta(seconds=5)


def test_faults_added_over_http_affect_sdk_calls(aliyun_emulator: Emulator, control: EmulatorControl) -> None:
    control.faults.add_error("ListRoles", "Throttling.User", 400, count=1, account_id=ENTERPRISE_A_UID)
    control.faults.set_rate_limit("GetCallerIdentity", 1)
    control.faults.add_latency("GetUser", 5)
    client = ram_client(aliyun_emulator, *ROOT_A)

    with pytest.raises(ClientException) as raised:
        client.list_roles(ram_models.ListRolesRequest())
    snapshot = control.faults.snapshot()

    assert raised.value.code == "Throttling.User"
    assert snapshot == {
        "errors": [],
        "latencies": [{"action": "GetUser", "milliseconds": 5.0, "account_id": None}],
        "rate_limits": [{"action": "GetCallerIdentity", "per_second": 1.0, "account_id": None}],
    }
    control.faults.clear()
    assert aliyun_emulator.faults.snapshot() == {"errors": [], "latencies": [], "rate_limits": []}


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "error", "action": "ListRoles", "code": "X"},
        {"kind": "error", "action": "ListRoles", "code": "X", "status": 200},
        {"kind": "error", "action": "ListRoles", "code": "X", "status": "500"},
        {"kind": "error", "action": "ListRoles", "code": "X", "status": 500, "count": 0},
        {"kind": "error", "action": "ListRoles", "code": "X", "status": 500, "colour": "red"},
        {"kind": "latency", "action": "ListRoles", "milliseconds": -1},
        {"kind": "rate_limit", "action": "ListRoles", "per_second": 0},
        {"kind": "rate_limit", "action": "", "per_second": 1},
        {"kind": "meteor", "action": "ListRoles"},
    ],
)
def test_invalid_fault_definitions_are_refused(control: EmulatorControl, document: dict[str, object]) -> None:
    with pytest.raises(ControlError) as raised:
        control.call("POST", "/faults", document)

    assert raised.value.status == 400
    assert control.faults.snapshot() == {"errors": [], "latencies": [], "rate_limits": []}


@pytest.mark.parametrize("body", [b"{oops", b"", b"\xff\xfe", b'"a string"', b"[]"])
def test_malformed_fault_json_is_a_400_and_adds_nothing(aliyun_emulator: Emulator, body: bytes) -> None:
    answer = send_raw(aliyun_emulator, request_bytes("POST", "/_emulator/faults", [("Host", "x")], body))

    assert answer.status == 400
    assert answer.json()["Code"] in {"MalformedJSON", "InvalidParameter"}
    assert aliyun_emulator.faults.snapshot() == {"errors": [], "latencies": [], "rate_limits": []}


def test_request_log_snapshot_and_clear(aliyun_emulator: Emulator, control: EmulatorControl) -> None:
    sts_client(aliyun_emulator, *ROOT_A).get_caller_identity()
    sts_client(aliyun_emulator, *ROOT_A).get_caller_identity()

    snapshot = control.requests.snapshot(limit=1)

    assert snapshot["total"] == 2
    assert control.requests.counts() == {"GetCallerIdentity": 2}
    assert control.requests.counts_by_product() == {"sts:GetCallerIdentity": 2}
    assert len(snapshot["entries"]) == 1
    assert snapshot["entries"][0]["principal_arn"] == f"acs:ram::{ENTERPRISE_A_UID}:root"
    control.requests.clear()
    assert control.requests.total == 0


def test_request_log_snapshot_keeps_the_newest_entries_in_order() -> None:
    log = RequestLog(max_entries=5)
    for index in range(7):
        log.record(
            RequestLogEntry(datetime.now(timezone.utc), f"r{index}", "sts", "GetCallerIdentity", "", "", 200, "")
        )

    def ids(limit: int | None) -> list[str]:
        return [entry["request_id"] for entry in log.snapshot(limit)["entries"]]

    assert ids(None) == ["r2", "r3", "r4", "r5", "r6"]
    assert ids(2) == ["r5", "r6"]
    assert ids(9) == ids(None)
    assert ids(0) == ids(-1) == []
    assert log.snapshot(0)["total"] == 7


def test_state_dump_and_reset(aliyun_emulator: Emulator, control: EmulatorControl) -> None:
    seeded = control.state()
    ram_client(aliyun_emulator, *ROOT_A).create_user(ram_models.CreateUserRequest(user_name="temporary"))
    changed = control.state()
    control.clock.advance(7200)
    control.faults.add_latency("*", 1)

    control.reset()

    assert changed != seeded
    assert control.state() == seeded
    assert control.faults.snapshot()["latencies"] == []
    assert abs(control.clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert aliyun_emulator.requests.total == 0


@pytest.mark.parametrize(
    ("method", "route", "status", "code"),
    [
        ("GET", "/_emulator/nothing", 404, "NotFound"),
        ("GET", "/_emulator", 404, "NotFound"),
        ("PUT", "/_emulator/clock", 405, "UnsupportedHTTPMethod"),
        ("POST", "/_emulator/state", 405, "UnsupportedHTTPMethod"),
        ("GET", "/_emulator/requests?limit=abc", 400, "InvalidParameter"),
    ],
)
def test_unknown_routes_and_methods(aliyun_emulator: Emulator, method: str, route: str, status: int, code: str) -> None:
    answer = send_raw(aliyun_emulator, request_bytes(method, route, [("Host", "x")]))

    assert (answer.status, answer.json()["Code"]) == (status, code)


def test_control_interface_refuses_callers_that_are_not_on_loopback(aliyun_emulator: Emulator) -> None:
    server_side = aliyun_emulator.app

    answer = server_side.handle_control("POST", "/_emulator/reset", "", b"", "192.0.2.10")
    allowed = server_side.handle_control("GET", "/_emulator/health", "", b"", "::1")

    assert answer.status == 403
    assert allowed.status == 200


def test_control_client_reports_an_unreachable_emulator_as_unhealthy() -> None:
    assert not EmulatorControl("http://127.0.0.1:9", timeout=1).health()
