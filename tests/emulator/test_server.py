"""The wire through the official SDK clients in both signing modes: auth, errors, faults, request log, speed."""

from __future__ import annotations

import base64
import http.client
import socket
import statistics
import threading
import time
from typing import Any

import pytest
import requests
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_resourcemanager20200331 import models as rm_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions
from pytest_mock import MockerFixture
from wire_support import ROOT_A, ROOT_B, partner_session_keys, partner_user_keys, send_raw

from aliyun_emulator.core.server import EmulatorHTTPServer
from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.testing import (
    ENTERPRISE_A_UID,
    ENTERPRISE_B_UID,
    Signing,
    ram_client,
    rm_client,
    sdk_config,
    slb_client,
    sts_client,
)

SIGNING_MODES: list[Signing] = ["v3", "v2"]


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_root_reaches_all_four_products_in_both_signing_modes(aliyun_emulator: Emulator, signing: Signing) -> None:
    roles = ram_client(aliyun_emulator, *ROOT_A, signing=signing).list_roles(ram_models.ListRolesRequest())
    identity = sts_client(aliyun_emulator, *ROOT_A, signing=signing).get_caller_identity()
    balancers = slb_client(aliyun_emulator, *ROOT_A, signing=signing).describe_load_balancers(
        slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou")
    )
    groups = rm_client(aliyun_emulator, *ROOT_A, signing=signing).list_resource_groups(
        rm_models.ListResourceGroupsRequest()
    )

    assert roles.status_code == 200
    assert roles.body.is_truncated is False
    assert identity.body.account_id == ENTERPRISE_A_UID
    assert identity.body.identity_type == "Account"
    assert balancers.body.total_count == 3
    assert isinstance(balancers.body.page_size, int)
    assert groups.status_code == 200
    assert roles.headers["x-acs-request-id"] == roles.body.request_id


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_sts_credentials_work_in_both_signing_modes(aliyun_emulator: Emulator, signing: Signing) -> None:
    session = partner_session_keys(aliyun_emulator)
    client = sts_client(
        aliyun_emulator, session.access_key_id, session.access_key_secret, session.security_token, signing
    )

    identity = client.get_caller_identity().body

    assert session.access_key_id.startswith("STS.")
    assert identity.identity_type == "AssumedRoleUser"
    assert identity.account_id == ENTERPRISE_A_UID


def _client_error(call: Any) -> ClientException:
    with pytest.raises(ClientException) as raised:
        call()
    return raised.value


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_unknown_access_key_is_404_in_alibaba_error_format(aliyun_emulator: Emulator, signing: Signing) -> None:
    client = sts_client(aliyun_emulator, "AKIDUNKNOWN000000001", "whatever", signing=signing)

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert error.data["HostId"] == "sts.aliyuncs.com"
    assert error.data["Recommend"].endswith("InvalidAccessKeyId.NotFound")
    assert error.request_id == error.data["RequestId"]
    assert error.data["Message"]


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_wrong_secret_is_signature_does_not_match(aliyun_emulator: Emulator, signing: Signing) -> None:
    client = ram_client(aliyun_emulator, ROOT_A[0], "not-the-secret", signing=signing)

    error = _client_error(lambda: client.list_roles(ram_models.ListRolesRequest()))

    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_sts_key_without_its_token_is_refused(aliyun_emulator: Emulator, signing: Signing) -> None:
    session = partner_session_keys(aliyun_emulator)
    client = sts_client(aliyun_emulator, session.access_key_id, session.access_key_secret, signing=signing)

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("MissingSecurityToken", 400)


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_sts_key_with_another_token_is_refused(aliyun_emulator: Emulator, signing: Signing) -> None:
    session = partner_session_keys(aliyun_emulator)
    client = sts_client(
        aliyun_emulator, session.access_key_id, session.access_key_secret, "CAIS-not-the-token", signing
    )

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("InvalidSecurityToken.Malformed", 400)


def test_sts_key_with_a_well_formed_token_of_another_session_is_a_mismatch(aliyun_emulator: Emulator) -> None:
    session = partner_session_keys(aliyun_emulator)
    other_token = "CAIS" + base64.b64encode(bytes(132)).decode("ascii")  # the shape STS issues, not this session's
    client = sts_client(aliyun_emulator, session.access_key_id, session.access_key_secret, other_token)

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("InvalidSecurityToken.MismatchWithAccessKey", 400)


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_sts_credentials_stop_working_at_their_expiry(aliyun_emulator: Emulator, signing: Signing) -> None:
    session = partner_session_keys(aliyun_emulator, duration_seconds=900)
    client = slb_client(
        aliyun_emulator, session.access_key_id, session.access_key_secret, session.security_token, signing
    )
    listing = slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou")
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time; this test moves the emulator's
    aliyun_emulator.clock.advance(899)
    client.describe_load_balancers(listing)

    aliyun_emulator.clock.advance(1)
    error = _client_error(lambda: client.describe_load_balancers(listing))

    assert (error.code, error.status_code) == ("InvalidSecurityToken.Expired", 400)


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_a_request_signed_with_the_host_clock_is_refused_once_the_emulator_clock_has_moved(
    aliyun_emulator: Emulator, signing: Signing
) -> None:
    client = sts_client(aliyun_emulator, *ROOT_A, signing=signing)
    client.get_caller_identity()
    aliyun_emulator.clock.advance(30 * 86_400)

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("InvalidTimeStamp.Expired", 400)
    aliyun_emulator.accept_host_clock = True  # the explicit option: the host's time passes as well
    assert client.get_caller_identity().body.account_id == "1111111111111111"
    aliyun_emulator.reset()
    assert not aliyun_emulator.accept_host_clock


def test_deactivated_user_key_is_refused_with_403(aliyun_emulator: Emulator) -> None:
    user = partner_user_keys(aliyun_emulator)
    ram_client(aliyun_emulator, *ROOT_B).update_access_key(
        ram_models.UpdateAccessKeyRequest(user_name="partner", user_access_key_id=user.access_key_id, status="Inactive")
    )
    client = sts_client(aliyun_emulator, user.access_key_id, user.access_key_secret)

    error = _client_error(client.get_caller_identity)

    assert (error.code, error.status_code) == ("InvalidAccessKeyId.Inactive", 403)


@pytest.mark.parametrize("signing", SIGNING_MODES)
def test_replayed_request_is_refused_and_changes_nothing(
    aliyun_emulator: Emulator, signing: Signing, mocker: MockerFixture
) -> None:
    sent = mocker.spy(requests.Session, "send")
    client = ram_client(aliyun_emulator, *ROOT_A, signing=signing)
    client.create_role(
        ram_models.CreateRoleRequest(
            role_name="replayed",
            assume_role_policy_document='{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
            '"Principal":{"RAM":["acs:ram::2222222222222222:root"]}}]}',
        )
    )
    prepared: requests.PreparedRequest = sent.call_args.args[1]
    client.delete_role(ram_models.DeleteRoleRequest(role_name="replayed"))
    state_before = aliyun_emulator.state.dump()
    # Moving the emulator clock (as tests do to expire sessions) must not make the nonce cache forget the request.
    aliyun_emulator.accept_host_clock = True
    aliyun_emulator.clock.advance(7200)

    connection = http.client.HTTPConnection(aliyun_emulator.host, aliyun_emulator.port, timeout=5)
    connection.request(str(prepared.method), str(prepared.path_url), body=prepared.body, headers=dict(prepared.headers))
    answer = connection.getresponse()
    error = answer.read()
    connection.close()

    assert answer.status == 400
    assert b'"Code":"SignatureNonceUsed"' in error
    assert aliyun_emulator.state.dump() == state_before


def test_unknown_version_and_unknown_action_are_refused(aliyun_emulator: Emulator) -> None:
    client = OpenApiClient(sdk_config(aliyun_emulator, *ROOT_A))

    def call(action: str, version: str) -> None:
        params = Params(
            action=action,
            version=version,
            protocol="HTTP",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        client.call_api(params, OpenApiRequest(query={"RoleName": "x"}), RuntimeOptions())

    unknown_version = _client_error(lambda: call("GetRole", "2099-01-01"))
    unknown_action = _client_error(lambda: call("FlyToTheMoon", "2015-05-01"))

    assert (unknown_version.code, unknown_version.status_code) == ("InvalidVersion", 400)
    assert (unknown_action.code, unknown_action.status_code) == ("InvalidAction.NotFound", 404)


def test_rate_limit_throttles_per_account_as_a_plain_client_exception(aliyun_emulator: Emulator) -> None:
    aliyun_emulator.faults.set_rate_limit("GetCallerIdentity", per_second=2)
    account_a = sts_client(aliyun_emulator, *ROOT_A)
    account_b = sts_client(aliyun_emulator, *ROOT_B)
    account_a.get_caller_identity()
    account_a.get_caller_identity()

    error = _client_error(account_a.get_caller_identity)
    account_b.get_caller_identity()

    assert (error.code, error.status_code) == ("Throttling.User", 400)
    assert type(error) is ClientException
    assert error.retry_after is None


def test_injected_error_answers_the_next_n_matching_calls_then_stops(aliyun_emulator: Emulator) -> None:
    aliyun_emulator.faults.add_error("ListRoles", "ServiceUnavailable", 503, count=2, account_id=ENTERPRISE_A_UID)
    owner = ram_client(aliyun_emulator, *ROOT_A)
    partner = ram_client(aliyun_emulator, *ROOT_B)

    partner.list_roles(ram_models.ListRolesRequest())
    for _ in range(2):
        with pytest.raises(ServerException) as raised:
            owner.list_roles(ram_models.ListRolesRequest())
        assert (raised.value.code, raised.value.status_code) == ("ServiceUnavailable", 503)
    owner.list_roles(ram_models.ListRolesRequest())

    assert aliyun_emulator.faults.snapshot()["errors"] == []


def test_injected_error_does_not_run_the_action(aliyun_emulator: Emulator) -> None:
    aliyun_emulator.faults.add_error("CreateUser", "InternalError", 500)
    client = ram_client(aliyun_emulator, *ROOT_B)

    with pytest.raises(ServerException):
        client.create_user(ram_models.CreateUserRequest(user_name="ghost"))

    assert client.list_users(ram_models.ListUsersRequest()).body.users.user == []


def test_added_latency_delays_matching_calls_only(aliyun_emulator: Emulator) -> None:
    client = sts_client(aliyun_emulator, *ROOT_A)
    client.get_caller_identity()
    aliyun_emulator.faults.add_latency("GetCallerIdentity", 120)

    started = time.perf_counter()
    client.get_caller_identity()
    delayed = time.perf_counter() - started
    started = time.perf_counter()
    ram_client(aliyun_emulator, *ROOT_A).list_roles(ram_models.ListRolesRequest())
    undelayed = time.perf_counter() - started

    assert delayed >= 0.12
    assert undelayed < 0.12


def test_an_sdk_call_costs_about_a_millisecond_not_a_nagle_delay(aliyun_emulator: Emulator) -> None:
    client = sts_client(aliyun_emulator, *ROOT_A)
    client.get_caller_identity()
    durations = []
    for _ in range(30):
        started = time.perf_counter()
        client.get_caller_identity()
        durations.append(time.perf_counter() - started)

    assert statistics.median(durations) < 0.015


def test_request_log_counts_calls_by_action_and_product(aliyun_emulator: Emulator) -> None:
    sts_client(aliyun_emulator, *ROOT_A).get_caller_identity()
    sts_client(aliyun_emulator, *ROOT_B).get_caller_identity()
    with pytest.raises(ClientException):
        ram_client(aliyun_emulator, *ROOT_A).get_role(ram_models.GetRoleRequest(role_name="missing"))

    log = aliyun_emulator.requests

    assert log.counts() == {"GetCallerIdentity": 2, "GetRole": 1}
    assert log.counts_by_product() == {"sts:GetCallerIdentity": 2, "ram:GetRole": 1}
    assert log.total == 3
    failed = log.entries[-1]
    assert (failed.status, failed.code, failed.principal_arn) == (
        404,
        "EntityNotExist.Role",
        "acs:ram::1111111111111111:root",
    )
    assert [entry.account_id for entry in log.entries[:2]] == [ENTERPRISE_A_UID, ENTERPRISE_B_UID]


def test_keep_alive_serves_several_requests_on_one_connection(aliyun_emulator: Emulator) -> None:
    connection = http.client.HTTPConnection(aliyun_emulator.host, aliyun_emulator.port, timeout=5)
    answers = []
    for _ in range(3):
        connection.request("GET", "/_emulator/health")
        response = connection.getresponse()
        answers.append((response.status, response.read(), response.getheader("Connection")))
    connection.close()

    assert answers == [(200, b'{"status":"ok"}', "keep-alive")] * 3


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400, "MalformedRequest"),
        (b"POST / HTTP/2.0\r\nHost: x\r\n\r\n", 400, "MalformedRequest"),
        (b"BREW / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, "UnsupportedHTTPMethod"),
        (b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, "UnsupportedHTTPMethod"),
        (b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "InvalidAction.NotFound"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, "MissingParameter"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "MalformedRequest"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413, "RequestEntityTooLarge"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "MissingContentLength"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, "RequestHeaderFieldsTooLarge"),
        (b"POST / HTTP/1.1\r\n" + b"X-H: 1\r\n" * 101 + b"\r\n", 431, "RequestHeaderFieldsTooLarge"),
        (b"POST /?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "RequestURITooLong"),
        (b"POST /?Action=GetRole&Action=GetRole HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "InvalidParameter.Action"),
        # Header names are checked once and remembered (core/http.py): a remembered name ("Host", sent above) must
        # not let a line without a colon, with a space before the colon, or a folded line through.
        (b"POST / HTTP/1.1\r\nHost\r\nContent-Length: 0\r\n\r\n", 400, "MalformedRequest"),
        (b"POST / HTTP/1.1\r\nHost : x\r\nContent-Length: 0\r\n\r\n", 400, "MalformedRequest"),
        (b"POST / HTTP/1.1\r\nHost: x\r\n Host: y\r\nContent-Length: 0\r\n\r\n", 400, "MalformedRequest"),
    ],
)
def test_malformed_http_gets_a_4xx_alibaba_error(
    aliyun_emulator: Emulator, data: bytes, status: int, code: str
) -> None:
    answer = send_raw(aliyun_emulator, data)

    assert answer.status == status
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["Code"] == code
    assert set(answer.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_plugin_fixtures_give_seeded_accounts_with_working_root_keys(
    aliyun_emulator: Emulator, emulator_accounts: tuple[SeedAccount, ...]
) -> None:
    identities = [
        sts_client(aliyun_emulator, account.access_key_id, account.access_key_secret).get_caller_identity().body
        for account in emulator_accounts
    ]

    assert [account.alias for account in emulator_accounts] == ["enterprise-a", "enterprise-b"]
    assert [identity.account_id for identity in identities] == [ENTERPRISE_A_UID, ENTERPRISE_B_UID]


@pytest.mark.parametrize(
    "partial", [b"", b"POST / HTTP/1.1\r\nHost: x\r\n", b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"]
)
def test_a_silent_or_slow_client_is_disconnected_after_the_socket_timeout(
    aliyun_emulator: Emulator, partial: bytes
) -> None:
    server = EmulatorHTTPServer(("127.0.0.1", 0), aliyun_emulator.app, socket_timeout=0.3)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as connection:
            connection.sendall(partial)
            started = time.perf_counter()
            leftover = connection.recv(1024)
            waited = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()

    assert leftover == b""
    assert waited < 3


def test_concurrent_clients_are_all_served_and_counted(aliyun_emulator: Emulator) -> None:
    def create_users(worker: int) -> None:
        client = ram_client(aliyun_emulator, *ROOT_B)
        for index in range(10):
            client.create_user(ram_models.CreateUserRequest(user_name=f"user-{worker}-{index}"))

    workers = [threading.Thread(target=create_users, args=(worker,)) for worker in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    listed = ram_client(aliyun_emulator, *ROOT_B).list_users(ram_models.ListUsersRequest(max_items=1000))

    assert len(listed.body.users.user) == 80
    assert aliyun_emulator.requests.counts() == {"CreateUser": 80, "ListUsers": 1}
    assert {entry.status for entry in aliyun_emulator.requests.entries} == {200}
