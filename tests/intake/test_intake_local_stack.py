"""The lifecycle through each adapter on the local stack: the vendor's delivery to ``/<functionName>/<source>``,
answered at once; the job runs as an asynchronous invocation through the local FC host; the partner engineer then
lists A's load balancers through the role; the revocation (or withdrawal) follows and the role is refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from intake_support import ENV, RECEIVER_ID, intake_yaml, payload
from vendor_fakes import VendorFakes

from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.testing import ram_client, slb_client, sts_client
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.grants import list_owner_grants, list_partner_grants
from ram_delegate.intake import senders
from ram_delegate.intake.config import ENV_INTAKE_FILE
from ram_delegate.local.stack import LocalStack
from ram_delegate.settings import ENV_ACCOUNT_ID, ENV_ENDPOINT, ENV_PROTOCOL, Settings

REPO = Path(__file__).resolve().parents[2]
OWNER_ONBOARD = "ram-delegate-owner-onboard"
PARTNER_USER = "alice"


@dataclass
class Env:
    stack: LocalStack
    fakes: VendorFakes
    intake_file: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with VendorFakes() as fakes:
        path = tmp_path_factory.mktemp("intake") / "intake.yml"
        path.write_text(intake_yaml(fakes.url), encoding="utf-8")
        with LocalStack(template=REPO / "template.yml", env={**ENV, ENV_INTAKE_FILE: str(path)}) as stack:
            yield Env(stack, fakes, path)


def deliver(stack: LocalStack, source: str, delivery: senders.Delivery) -> tuple[int, Any]:
    url = f"{stack.function_url(OWNER_ONBOARD)}/{source}"
    if delivery.query:
        url += "?" + urlencode(delivery.query)
    request = urllib.request.Request(url, data=delivery.body, headers=delivery.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def cloud(stack: LocalStack, account: SeedAccount, side: str) -> CloudClients:
    env = {ENV_ENDPOINT: stack.cloud_endpoint, ENV_PROTOCOL: "http", ENV_ACCOUNT_ID: account.uid}
    # The partner keeps ExternalIds encrypted under its functions' seal key: reading them takes that key.
    seal = stack.owner_seal_secret if side == "owner" else stack.partner_seal_secret
    settings = Settings.from_env(env, side=side, seal_secret=seal)
    return CloudClients(settings, Credentials(account.access_key_id, account.access_key_secret))


def list_as_partner(stack: LocalStack, ticket: str) -> list[str]:
    """The partner engineer (a test AccessKey made by B's root, as the demo does) assumes A's role and lists."""
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_slb20140515 import models as slb_models
    from alibabacloud_sts20150401 import models as sts_models

    now = stack.emulator.clock.now()
    [grant] = [g for g in list_partner_grants(cloud(stack, stack.partner, "partner"), now) if g.ticket == ticket]
    ram = ram_client(stack.cloud_endpoint, stack.partner.access_key_id, stack.partner.access_key_secret)
    key = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name=PARTNER_USER)).body.access_key
    try:
        sts = sts_client(stack.cloud_endpoint, key.access_key_id, key.access_key_secret)
        assumed = sts.assume_role(
            sts_models.AssumeRoleRequest(
                role_arn=grant.role_arn, role_session_name="engineer", external_id=grant.external_id
            )
        ).body.credentials
        slb = slb_client(stack.cloud_endpoint, assumed.access_key_id, assumed.access_key_secret, assumed.security_token)
        answer = slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou"))
        return [lb.load_balancer_name for lb in answer.body.load_balancers.load_balancer or []]
    finally:
        ram.delete_access_key(
            ram_models.DeleteAccessKeyRequest(user_name=PARTNER_USER, user_access_key_id=key.access_key_id)
        )


def owner_grant_state(stack: LocalStack, ticket: str) -> str | None:
    now = stack.emulator.clock.now()
    found = [g for g in list_owner_grants(cloud(stack, stack.owner, "owner"), now) if g.ticket == ticket]
    return found[0].state if found else None


# -- each source's approve and revoke deliveries, built from the vendor payloads ---------------------------------


def _partnered(text: str, stack: LocalStack) -> str:
    return text.replace("2222222222222222", stack.partner.uid)


def jira(stack: LocalStack, now: datetime, revoke: bool) -> senders.Delivery:
    document = json.loads(_partnered(json.dumps(payload("jira-issue-updated.json")), stack))
    document["issue"]["key"] = "OPS-7001"
    if revoke:
        document["changelog"]["items"][0]["toString"] = "Access Revoked"
    return senders.jira(json.dumps(document).encode(), "jira-webhook-secret-new")


def github(stack: LocalStack, now: datetime, revoke: bool) -> senders.Delivery:
    document = json.loads(_partnered(json.dumps(payload("github-issues-labeled.json")), stack))
    document["issue"]["number"] = 7002
    document["label"]["name"] = "access-revoked" if revoke else "access-approved"
    return senders.github(json.dumps(document).encode(), ENV["RAM_DELEGATE_GITHUB_SECRET"])


def dingtalk(stack: LocalStack, now: datetime, revoke: bool) -> senders.Delivery:
    name = "dingtalk-bpms-instance-change-terminate.json" if revoke else "dingtalk-bpms-instance-change-finish.json"
    message = json.dumps({**payload(name), "processInstanceId": "dt-7003"}, ensure_ascii=False).encode()
    return senders.dingtalk(
        message,
        token=ENV["RAM_DELEGATE_DINGTALK_TOKEN"],
        aes_key=ENV["RAM_DELEGATE_DINGTALK_AES_KEY"],
        receiver_id=RECEIVER_ID,
        now=now,
    )


def feishu(stack: LocalStack, now: datetime, revoke: bool) -> senders.Delivery:
    document = payload("feishu-approval-instance-reverted.json" if revoke else "feishu-approval-instance-approved.json")
    document["event"]["instance_code"] = "FS-7004"
    return senders.feishu(
        document,
        verification_token=ENV["RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN"],
        encrypt_key=ENV["RAM_DELEGATE_FEISHU_ENCRYPT_KEY"],
        now=now,
    )


def token(stack: LocalStack, now: datetime, revoke: bool) -> senders.Delivery:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    data: dict[str, Any] = {"ticket": "OPS-7005"}
    if not revoke:
        data.update(
            {
                "partner": {"name": "Enterprise B", "account_id": stack.partner.uid, "user": PARTNER_USER},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "requested_by": "bob@enterprise-b.example",
                "approved_by": "carol@enterprise-a.example",
            }
        )
    event = {
        "specversion": "1.0",
        "id": f"jsm-{'revoke' if revoke else 'approve'}-7005",
        "source": "jira-automation",
        "type": "partner.access.revoked" if revoke else "partner.access.approved",
        "time": stamp,
        "data": data,
    }
    return senders.token(json.dumps(event).encode(), "intake-bearer-token-new")


SOURCES: dict[str, tuple[Callable[[LocalStack, datetime, bool], senders.Delivery], str, int]] = {
    "jira": (jira, "OPS-7001", 202),
    "github": (github, "enterprise-a/access-requests#7002", 202),
    "dingtalk": (dingtalk, "dt-7003", 200),
    "feishu": (feishu, "FS-7004", 200),
    "token": (token, "OPS-7005", 202),
}


def prepare_forms(env: Env) -> None:
    partner = env.stack.partner.uid
    instance = json.loads(_partnered(json.dumps(payload("dingtalk-process-instance.json")["result"]), env.stack))
    env.fakes.state.dingtalk_instances["dt-7003"] = instance
    detail = payload("feishu-approval-instance-detail.json")["data"]
    env.fakes.state.feishu_instances["FS-7004"] = {
        **detail,
        "form": detail["form"].replace("2222222222222222", partner),
    }


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_approve_list_revoke_refused(env: Env, source: str) -> None:
    stack = env.stack
    prepare_forms(env)
    build, ticket, accepted = SOURCES[source]
    status, answer = deliver(stack, source, build(stack, stack.emulator.clock.now(), False))
    assert status == accepted, answer
    assert stack.wait_async()
    assert owner_grant_state(stack, ticket) == "active"
    names = list_as_partner(stack, ticket)
    assert names, "the partner engineer sees A's load balancers through the role"

    stack.advance_clock(30)  # the revocation is a later change than the approval
    status, answer = deliver(stack, source, build(stack, stack.emulator.clock.now(), True))
    assert status == accepted, answer
    assert stack.wait_async()
    assert owner_grant_state(stack, ticket) is None
    with pytest.raises(Exception, match=r"EntityNotExist|NoPermission|NotExist|Forbidden|AccessDenied"):
        list_as_partner(stack, ticket)


def test_a_refused_delivery_changes_nothing_on_the_stack(env: Env) -> None:
    stack = env.stack
    delivery = jira(stack, stack.emulator.clock.now(), False)
    delivery.headers["x-hub-signature"] = "sha256=" + "0" * 64
    assert deliver(stack, "jira", delivery)[0] == 401
    assert stack.wait_async()
    assert owner_grant_state(stack, "OPS-7001") is None


def test_the_root_path_still_serves_standard_webhooks(env: Env) -> None:
    status, _ = deliver(env.stack, "", senders.Delivery(b"{}", {"content-type": "application/json"}))
    assert status == 401


def run_cli(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    import io

    from ram_delegate.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), env=env, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("source", ["jira", "github", "dingtalk", "feishu", "token"])
def test_send_source_signs_or_encrypts_a_native_payload(env: Env, source: str, tmp_path: Path) -> None:
    stack = env.stack
    prepare_forms(env)
    delivery_file = tmp_path / "payload.json"
    if source == "dingtalk":
        document: Any = {**payload("dingtalk-bpms-instance-change-finish.json"), "type": "start"}
    elif source == "feishu":
        document = payload("feishu-url-verification.json")
    elif source == "token":
        document = json.loads(token(stack, stack.emulator.clock.now(), True).body)
        document["data"]["ticket"] = "OPS-7999"
    elif source == "jira":
        document = payload("jira-issue-updated.json")
        document["changelog"]["items"][0]["toString"] = "In Progress"
    else:
        document = {**payload("github-issues-labeled.json"), "action": "opened"}
    delivery_file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    cli_env = {**ENV, ENV_INTAKE_FILE: str(env.intake_file)}
    url = stack.function_url(OWNER_ONBOARD)
    code, out, err = run_cli("send", "--source", source, "--url", url, "--event", str(delivery_file), env=cli_env)
    assert code == 0, (out, err)
    assert out.startswith(("HTTP 200", "HTTP 202")), out
    for value in ENV.values():
        for part in value.split(","):
            assert part not in out
            assert part not in err
    code, out, _ = run_cli(
        "send", "--source", source, "--url", url, "--event", str(delivery_file), "--secret", "wrong", env=cli_env
    )
    assert code != 0
    assert "HTTP 401" in out


def _next_tick(moment: datetime) -> datetime:
    """The first owner-expire tick (every 5 minutes, on the minute) at or after ``moment``."""
    floor = moment.replace(second=0, microsecond=0) - timedelta(minutes=moment.minute % 5)
    return floor if floor == moment else floor + timedelta(minutes=5)


def test_reminder_and_expiry_notice_are_written_back_by_owner_expire(env: Env) -> None:
    stack = env.stack
    document = json.loads(_partnered(json.dumps(payload("jira-issue-updated.json")), stack))
    document["issue"]["key"] = "OPS-7100"
    assert deliver(stack, "jira", senders.jira(json.dumps(document).encode(), "jira-webhook-secret-new"))[0] == 202
    assert stack.wait_async()
    now = stack.emulator.clock.now()
    [grant] = [g for g in list_owner_grants(cloud(stack, stack.owner, "owner"), now) if g.ticket == "OPS-7100"]
    assert grant.expires_at is not None
    comments = "/rest/api/2/issue/OPS-7100/comment"
    granted = len(env.fakes.state.calls(comments))

    runs = stack.advance_clock((_next_tick(grant.expires_at - timedelta(days=1)) - now).total_seconds())
    assert any(run.function == "ram-delegate-owner-expire" and run.ok for run in runs)
    texts = [str(call.body["body"]) for call in env.fakes.state.calls(comments)[granted:]]
    assert len(texts) == 1
    assert "(in 1d)" in texts[0]

    now = stack.emulator.clock.now()
    runs = stack.advance_clock((_next_tick(grant.expires_at) - now).total_seconds())
    [expire] = [run for run in runs if run.function == "ram-delegate-owner-expire"]
    assert expire.result["intake_notices"] == {"due": 1, "delivered": 1}
    assert "expired" in str(env.fakes.state.calls(comments)[-1].body["body"])
    assert owner_grant_state(stack, "OPS-7100") is None


def test_a_broken_intake_file_stops_the_start_listing_every_problem(tmp_path: Path) -> None:
    from ram_delegate.errors import ConfigurationError

    path = tmp_path / "intake.yml"
    path.write_text(
        "sources:\n  jira:\n    secret_env: RAM_DELEGATE_JIRA_SECRET\n    approve_statuses: [A]\n"
        "  token:\n    token_env: RAM_DELEGATE_INTAKE_TOKEN\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        LocalStack(template=REPO / "template.yml", env={ENV_INTAKE_FILE: str(path)}).start()
    message = caught.value.message
    assert "RAM_DELEGATE_JIRA_SECRET" in message
    assert "RAM_DELEGATE_INTAKE_TOKEN" in message


def test_a_failing_job_is_retried_by_the_local_host_as_fc_does(env: Env) -> None:
    stack, state = env.stack, env.fakes.state
    host = stack.function_host
    host.async_backoff_seconds = 0.05
    instance = json.loads(_partnered(json.dumps(payload("dingtalk-process-instance.json")["result"]), stack))
    message = {**payload("dingtalk-bpms-instance-change-finish.json"), "processInstanceId": "dt-7200"}
    state.dingtalk_instances["dt-7200"] = instance

    def send(instance_id: str) -> None:
        raw = json.dumps({**message, "processInstanceId": instance_id}, ensure_ascii=False).encode()
        delivery = senders.dingtalk(
            raw,
            token=ENV["RAM_DELEGATE_DINGTALK_TOKEN"],
            aes_key=ENV["RAM_DELEGATE_DINGTALK_AES_KEY"],
            receiver_id=RECEIVER_ID,
            now=stack.emulator.clock.now(),
        )
        assert deliver(stack, "dingtalk", delivery)[0] == 200

    failures = len(host.async_failures)
    with state.lock:
        state.fail_next = 2  # the first two attempts find DingTalk unavailable
    send("dt-7200")
    assert stack.wait_async()
    assert owner_grant_state(stack, "dt-7200") == "active"
    assert len(host.async_failures) == failures

    state.dingtalk_instances["dt-7201"] = instance
    with state.lock:
        state.fail_next = 1000  # every attempt fails: 1 + maxAsyncRetryAttempts (3) runs, then the destination
        before = len(state.requests)
    send("dt-7201")
    assert stack.wait_async()
    with state.lock:
        attempts = len([r for r in state.requests[before:] if r.path.startswith("/v1.0/")])
        state.fail_next = 0
    assert owner_grant_state(stack, "dt-7201") is None
    assert len(host.async_failures) == failures + 1
    assert attempts == 4  # one vendor call per run: the cached token, then the instance, which fails


def test_ram_delegate_local_lists_the_intake_urls(env: Env) -> None:
    from ram_delegate.local.run import describe

    lines = "\n".join(describe(env.stack))
    for source in ("dingtalk", "feishu", "github", "jira", "token"):
        assert f"{env.stack.function_url(OWNER_ONBOARD)}/{source}" in lines
    for value in ENV.values():
        assert value.split(",")[0] not in lines


def _token_job(stack: LocalStack, ticket: str, *, revoke: bool, event_id: str) -> dict[str, Any]:
    """A worker job as the front door would queue it for the token source (before sealing)."""
    from ram_delegate.intake.contract import Job

    now = stack.emulator.clock.now().replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event = json.loads(token(stack, now, revoke).body)
    event["id"], event["data"]["ticket"] = event_id, ticket
    job = Job("token", "revoke" if revoke else "approve", event_id, ticket, stamp, stamp, event=event)
    return job.to_dict()


def _invoke_job(stack: LocalStack, job: dict[str, Any]) -> Any:
    """owner-onboard invoked as anyone allowed fc:InvokeFunction could: a job handed in directly."""
    return stack.invoke(OWNER_ONBOARD, json.dumps({"ramDelegateIntakeJob": job}).encode())


def test_a_job_handed_in_through_invoke_function_grants_nothing_without_the_functions_seal(env: Env) -> None:
    """The attacker holds fc:InvokeFunction on owner-onboard, not the function's seal key."""
    from ram_delegate.seal import job_seal

    stack = env.stack
    forged = _token_job(stack, "OPS-7101", revoke=False, event_id="forged-7101")
    assert _invoke_job(stack, forged)["status"] == "refused"
    wrong_key = {**forged, "seal": job_seal("not-the-functions-seal-key-0123456789", forged)}
    assert _invoke_job(stack, wrong_key)["status"] == "refused"
    genuine = job_seal(stack.owner_seal_secret, forged)  # sealed for one partner account ...
    elsewhere = {**forged, "event": {**forged["event"], "data": {**forged["event"]["data"], "ticket": "OPS-7102"}}}
    assert _invoke_job(stack, {**elsewhere, "seal": genuine})["status"] == "refused"  # ... and edited after
    disguised = {**forged, "decision": "revoke"}  # an approval dressed as a revocation
    assert _invoke_job(stack, disguised)["status"] == "refused"
    assert owner_grant_state(stack, "OPS-7101") is None
    assert owner_grant_state(stack, "OPS-7102") is None

    sealed = {**forged, "seal": job_seal(stack.owner_seal_secret, forged)}  # what the front door queues
    assert _invoke_job(stack, sealed)["status"] == "applied"
    assert owner_grant_state(stack, "OPS-7101") == "active"


def test_an_unsealed_revocation_is_still_applied_and_writes_nothing_back(env: Env) -> None:
    """Less access is the safe direction: a revocation job is never refused for lacking the seal."""
    from ram_delegate.seal import job_seal

    stack = env.stack
    approval = _token_job(stack, "OPS-7103", revoke=False, event_id="approve-7103")
    assert _invoke_job(stack, {**approval, "seal": job_seal(stack.owner_seal_secret, approval)})["status"] == "applied"
    assert owner_grant_state(stack, "OPS-7103") == "active"
    stack.advance_clock(30)

    revocation = _token_job(stack, "OPS-7103", revoke=True, event_id="revoke-7103")
    assert _invoke_job(stack, revocation)["status"] == "applied"
    assert owner_grant_state(stack, "OPS-7103") is None
