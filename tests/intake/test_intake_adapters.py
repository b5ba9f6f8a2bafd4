"""Every adapter at the front door and in the worker, with vendor-shaped payloads signed or encrypted by the vendor's
algorithm, against loopback fakes of the vendor APIs. Refusals change nothing: no job is queued."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from intake_support import ENV, NOW, RECEIVER_ID, RecordingApply, payload, request_of, runtime
from vendor_fakes import VendorFakes

from ram_delegate.errors import GuardrailError, Problem, RetryableCloudError
from ram_delegate.intake import job_of, senders
from ram_delegate.intake.crypto import dingtalk_check_signature, dingtalk_decrypt
from ram_delegate.intake.service import IntakeRuntime, job_event, run_job, serve
from ram_delegate.intake.vendor_http import VendorUnavailableError

JIRA_SECRET = "jira-webhook-secret-new"
GITHUB_SECRET = ENV["RAM_DELEGATE_GITHUB_SECRET"]
DT = {"token": ENV["RAM_DELEGATE_DINGTALK_TOKEN"], "aes_key": ENV["RAM_DELEGATE_DINGTALK_AES_KEY"]}
FS_TOKEN = ENV["RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN"]
FS_KEY = ENV["RAM_DELEGATE_FEISHU_ENCRYPT_KEY"]


def body_of(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"]) if answer["body"] else None


def post(rt: IntakeRuntime, source: str, delivery: senders.Delivery, now: datetime = NOW) -> tuple[int, Any]:
    answer = serve(source, senders_request(delivery, source, now), rt)
    return answer["statusCode"], body_of(answer)


def senders_request(delivery: senders.Delivery, source: str, now: datetime) -> Any:
    return request_of(delivery, source=source, now=now)


def jira_body(name: str = "jira-issue-updated.json", **fields: Any) -> bytes:
    document = payload(name)
    document["issue"]["fields"].update(fields)
    return json.dumps(document).encode()


# -- shared ----------------------------------------------------------------------------------------------------


def test_an_unconfigured_source_answers_404(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    del rt.adapters["jira"]
    assert post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))[0] == 404
    assert dispatcher.changes == []
    assert serve("jira", senders_request(senders.jira(b"{}", JIRA_SECRET), "jira", NOW), None)["statusCode"] == 404


def test_only_a_top_level_job_key_is_a_job() -> None:
    assert job_of(b'{"version":"v1","body":"{\\"ramDelegateIntakeJob\\":{}}","requestContext":{}}') is None
    assert job_of(b'{"ramDelegateIntakeJob": {"source": "jira"}}') == {"source": "jira"}
    assert job_of(b"not json") is None


# -- Jira ------------------------------------------------------------------------------------------------------


def test_jira_status_change_is_answered_at_once_and_queued(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    status, answer = post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET, delivery_id="d-1"))
    assert status == 202
    assert answer["event_id"] == "jira-d-1"
    [job] = dispatcher.jobs
    event = job.event
    assert event is not None
    assert event["type"] == "partner.access.approved"
    data = event["data"]
    assert data["ticket"] == "OPS-4242"
    assert data["partner"] == {"name": "Enterprise B", "account_id": "2222222222222222", "user": "alice"}
    assert data["access"] == {"profile": "slb-readonly", "region": "cn-hangzhou"}
    assert data["requested_by"] == "5b109f2e9729b51b54dc274d"
    assert data["approved_by"] == "5b10ac8d82e05b22cc7d4ef5"
    vendor_time = datetime(2030, 1, 1, tzinfo=timezone.utc)  # the body's timestamp, earlier than the request
    assert event["time"].startswith("2030-01-01T00:00:00")
    assert data["expires_at"].startswith((vendor_time + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S"))
    assert job.received_at.startswith("2030-01-01T00:00:30")


def test_jira_redelivery_queues_once_and_old_rotation_secret_verifies(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "jira", senders.jira(jira_body(), "jira-webhook-secret-old", delivery_id="same"))[0] == 202
    assert post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET, delivery_id="same"))[0] == 202
    assert len(dispatcher.jobs) == 1


def test_jira_event_time_is_never_ahead_of_the_platform_clock(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    document = payload("jira-issue-updated.json")
    document["timestamp"] = int((NOW + timedelta(days=30)).timestamp() * 1000)
    post(rt, "jira", senders.jira(json.dumps(document).encode(), JIRA_SECRET))
    assert dispatcher.jobs[0].event_time.startswith("2030-01-01T00:00:30")


def test_jira_issue_created_already_approved_with_a_date_expiry(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "jira", senders.jira(jira_body("jira-issue-created.json"), JIRA_SECRET))[0] == 202
    event = dispatcher.jobs[0].event
    assert event is not None
    assert event["data"]["expires_at"].startswith("2030-01-05T00:00:00")


def test_jira_revocation_needs_only_the_ticket(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    document = payload("jira-issue-updated.json")
    document["changelog"]["items"][0]["toString"] = "Closed"
    document["issue"]["fields"] = {"reporter": document["issue"]["fields"]["reporter"], "customfield_10050": "junk"}
    assert post(rt, "jira", senders.jira(json.dumps(document).encode(), JIRA_SECRET))[0] == 202
    event = dispatcher.jobs[0].event
    assert event is not None
    assert event["type"] == "partner.access.revoked"
    assert set(event["data"]) == {"ticket", "reason", "requested_by"}


@pytest.mark.parametrize(
    ("change", "status", "path"),
    [
        ({"customfield_10050": None}, 400, "partner_account_id (customfield_10050)"),
        ({"customfield_10050": "12345"}, 400, "partner_account_id (customfield_10050)"),
        ({"customfield_10057": "soon"}, 400, "duration (customfield_10057)"),
        ({"customfield_10057": None}, 400, "expires_at (customfield_10056)"),
        ({"reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}}, 400, "data"),
    ],
)
def test_jira_bad_tickets_are_400_listing_the_field(
    fakes: VendorFakes, change: dict[str, Any], status: int, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    rt, dispatcher = runtime(fakes.url)
    with caplog.at_level(logging.INFO, logger="ram_delegate.intake"):
        got, answer = post(rt, "jira", senders.jira(jira_body(**change), JIRA_SECRET))
    assert got == status
    assert any(p["path"] == path for p in answer["problems"]), answer
    assert dispatcher.changes == []
    [notice] = dispatcher.notices  # the reason goes back to the issue, since Jira's sender is authenticated
    assert notice.notice is not None
    assert path in notice.notice
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert JIRA_SECRET not in refusals[0].getMessage()


def test_jira_wrong_signature_unknown_status_and_non_approver(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "jira", senders.jira(jira_body(), "wrong-secret"))[0] == 401
    tampered = senders.jira(jira_body(), JIRA_SECRET)
    assert post(rt, "jira", senders.Delivery(tampered.body + b" ", tampered.headers))[0] == 401
    assert dispatcher.jobs == []  # an unauthenticated caller gets nothing written anywhere
    unknown = payload("jira-issue-updated.json")
    unknown["changelog"]["items"][0]["toString"] = "In Progress"
    status, answer = post(rt, "jira", senders.jira(json.dumps(unknown).encode(), JIRA_SECRET))
    assert (status, answer["status"]) == (200, "ignored")
    jira = rt.adapters["jira"].config  # type: ignore[attr-defined]
    rt.adapters["jira"].config = jira.model_copy(update={"approvers": ("someone-else",)})  # type: ignore[attr-defined]
    status, answer = post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    assert (status, answer["code"]) == (403, "NotAnApprover")
    assert dispatcher.changes == []
    assert len(dispatcher.notices) == 1


# -- GitHub ----------------------------------------------------------------------------------------------------


def github_body(sender: str = "octo-approver", label: str = "access-approved", body: str | None = None) -> bytes:
    document = payload("github-issues-labeled.json")
    document["sender"]["login"] = sender
    document["label"]["name"] = label
    if body is not None:
        document["issue"]["body"] = body
    return json.dumps(document).encode()


def test_github_label_by_an_approver_is_queued(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    status, answer = post(rt, "github", senders.github(github_body(), GITHUB_SECRET, delivery_id="gh-1"))
    assert status == 202
    assert answer["ticket"] == "enterprise-a/access-requests#17"
    event = dispatcher.jobs[0].event
    assert event is not None
    assert event["id"] == "github-gh-1"
    assert event["data"]["partner"]["user"] == "alice"
    assert event["data"]["requested_by"] == "bob-requester"
    assert event["data"]["approved_by"] == "octo-approver"


@pytest.mark.parametrize(
    ("sender", "body", "status", "code"),
    [
        ("mallory", None, 403, "NotAnApprover"),
        ("bob-requester", None, 403, "NotAnApprover"),
        ("octo-approver", "### Partner name\n\nEnterprise B\n\n### Partner account ID\n\n_No response_", 400, None),
        ("octo-approver", "### Partner account ID\n\n2222\n\n### Partner RAM user\n\nalice", 400, None),
    ],
)
def test_github_refusals(fakes: VendorFakes, sender: str, body: str | None, status: int, code: str | None) -> None:
    rt, dispatcher = runtime(fakes.url)
    got, answer = post(rt, "github", senders.github(github_body(sender, body=body), GITHUB_SECRET))
    assert got == status
    if code:
        assert answer["code"] == code
    else:
        assert answer["problems"]
    assert dispatcher.changes == []


def test_github_self_approval_is_refused_even_for_an_approver(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    document = json.loads(github_body())
    document["issue"]["user"]["login"] = "octo-approver"
    status, answer = post(rt, "github", senders.github(json.dumps(document).encode(), GITHUB_SECRET))
    assert (status, answer["code"]) == (403, "SelfApproval")
    assert dispatcher.changes == []


def test_github_signature_label_ping_and_revoke(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "github", senders.github(github_body(), "wrong"))[0] == 401
    sha1_only = senders.github(github_body(), GITHUB_SECRET)
    sha1_only.headers["x-hub-signature"] = sha1_only.headers.pop("x-hub-signature-256")
    assert post(rt, "github", sha1_only)[0] == 401
    assert dispatcher.jobs == []
    status, answer = post(rt, "github", senders.github(github_body(label="bug"), GITHUB_SECRET))
    assert (status, answer["status"]) == (200, "ignored")
    assert post(rt, "github", senders.github(b"{}", GITHUB_SECRET, event="ping"))[0] == 200
    assert dispatcher.changes == []
    assert post(rt, "github", senders.github(github_body("mallory", "access-revoked"), GITHUB_SECRET))[0] == 202
    assert dispatcher.jobs[0].decision == "revoke"


# -- DingTalk --------------------------------------------------------------------------------------------------


def dingtalk(message: dict[str, Any] | bytes, now: datetime = NOW, **overrides: str) -> senders.Delivery:
    raw = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode()
    keys = {**DT, "receiver_id": RECEIVER_ID, **overrides}
    return senders.dingtalk(raw, now=now, **keys)


def assert_encrypted_success(answer: dict[str, Any]) -> None:
    assert set(answer) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert dingtalk_check_signature(
        DT["token"], answer["timeStamp"], answer["nonce"], answer["encrypt"], answer["msg_signature"]
    )
    assert dingtalk_decrypt(DT["aes_key"], answer["encrypt"]) == (b"success", RECEIVER_ID)


def test_dingtalk_url_check_is_answered_with_encrypted_success(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    status, answer = post(rt, "dingtalk", dingtalk(payload("dingtalk-check-url.json")))
    assert status == 200
    assert_encrypted_success(answer)
    assert dispatcher.changes == []


def test_dingtalk_agree_queues_and_the_worker_fetches_the_form(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("dingtalk-bpms-instance-change-finish.json")
    status, answer = post(rt, "dingtalk", dingtalk(event))
    assert status == 200
    assert_encrypted_success(answer)
    [job] = dispatcher.jobs
    assert job.instance == event["processInstanceId"]
    fakes.state.dingtalk_instances[event["processInstanceId"]] = payload("dingtalk-process-instance.json")["result"]
    apply = RecordingApply()
    report = run_job(json.loads(job_event(job, None))["ramDelegateIntakeJob"], rt, apply)
    assert report["status"] == "applied"
    [document] = apply.events
    assert document["data"]["partner"] == {"name": "Enterprise B", "account_id": "2222222222222222", "user": "alice"}
    assert document["data"]["approved_by"] == "carol-staff-02"
    assert document["data"]["requested_by"] == "bob-staff-01"
    [notice] = fakes.state.calls("/topapi/message/corpconversation/asyncsend_v2")
    assert notice.body["userid_list"] == "bob-staff-01"
    assert "Enterprise B" in notice.body["msg"]["text"]["content"]


def test_dingtalk_worker_acts_on_the_current_state_and_refuses_missing_fields(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("dingtalk-bpms-instance-change-finish.json")
    post(rt, "dingtalk", dingtalk(event))
    job = dispatcher.jobs[0].to_dict()
    instance = payload("dingtalk-process-instance.json")["result"]
    fakes.state.dingtalk_instances[event["processInstanceId"]] = {**instance, "status": "TERMINATED"}
    apply = RecordingApply()
    assert run_job(job, rt, apply)["status"] == "ignored"
    form = [c for c in instance["formComponentValues"] if c["name"] != "RAM用户"]
    fakes.state.dingtalk_instances[event["processInstanceId"]] = {**instance, "formComponentValues": form}
    report = run_job(job, rt, apply)
    assert report["status"] == "refused"
    assert any("partner_user (RAM用户)" in p for p in report["problems"])
    assert apply.events == []
    [notice] = fakes.state.calls("/topapi/message/corpconversation/asyncsend_v2")
    assert "not applied" in notice.body["msg"]["text"]["content"]


def test_dingtalk_worker_raises_when_the_vendor_is_down_so_fc_retries(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "dingtalk", dingtalk(payload("dingtalk-bpms-instance-change-finish.json")))
    fakes.state.fail_next = 5
    with pytest.raises(VendorUnavailableError):
        run_job(dispatcher.jobs[0].to_dict(), rt, RecordingApply())


def test_dingtalk_older_query_spellings_are_accepted(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    delivery = dingtalk(payload("dingtalk-bpms-instance-change-finish.json"))
    query = {"signature": delivery.query["msg_signature"], "timeStamp": delivery.query["timestamp"]}
    query["nonce"] = delivery.query["nonce"]
    assert post(rt, "dingtalk", senders.Delivery(delivery.body, delivery.headers, query))[0] == 200
    assert len(dispatcher.jobs) == 1


def test_dingtalk_terminate_revokes_without_a_fetch(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "dingtalk", dingtalk(payload("dingtalk-bpms-instance-change-terminate.json")))
    apply = RecordingApply()
    run_job(dispatcher.jobs[0].to_dict(), rt, apply)
    assert apply.events[0]["type"] == "partner.access.revoked"
    assert fakes.state.calls("/v1.0/workflow") == []


@pytest.mark.parametrize(
    "case", ["wrong-token", "stale", "future", "receiver", "wrong-key", "no-query", "tampered", "other-type"]
)
def test_dingtalk_refusals(fakes: VendorFakes, case: str) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("dingtalk-bpms-instance-change-finish.json")
    if case == "wrong-token":
        delivery = dingtalk(event, token="not-the-token")
    elif case == "stale":
        delivery = dingtalk(event, now=NOW - timedelta(minutes=10))
    elif case == "future":
        delivery = dingtalk(event, now=NOW + timedelta(minutes=10))
    elif case == "receiver":
        delivery = dingtalk(event, receiver_id="dingcorp-other")
    elif case == "wrong-key":
        delivery = dingtalk(event, aes_key="b" * 43)
    elif case == "no-query":
        delivery = senders.Delivery(dingtalk(event).body, {})
    elif case == "tampered":
        good = dingtalk(event)
        document = json.loads(good.body)
        document["encrypt"] = document["encrypt"][:-8] + "AAAAAAA="
        delivery = senders.Delivery(json.dumps(document).encode(), good.headers, good.query)
    else:
        status, answer = post(rt, "dingtalk", dingtalk({**event, "type": "start"}))
        assert status == 200
        assert_encrypted_success(answer)
        assert dispatcher.changes == []
        return
    assert post(rt, "dingtalk", delivery)[0] == 401
    assert dispatcher.changes == []


# -- Feishu ----------------------------------------------------------------------------------------------------


def feishu(document: dict[str, Any], now: datetime = NOW, key: str | None = FS_KEY, token: str = FS_TOKEN) -> Any:
    return senders.feishu(document, verification_token=token, encrypt_key=key, now=now)


def test_feishu_challenge_is_echoed(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    status, answer = post(rt, "feishu", feishu(payload("feishu-url-verification.json")))
    assert (status, answer) == (200, {"challenge": "ajls384kdjx98XX"})
    assert dispatcher.changes == []


def test_feishu_approved_queues_and_the_worker_fetches_the_instance(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("feishu-approval-instance-approved.json")
    assert post(rt, "feishu", feishu(event)) == (200, {})
    [job] = dispatcher.jobs
    fakes.state.feishu_instances[event["event"]["instance_code"]] = payload("feishu-approval-instance-detail.json")[
        "data"
    ]
    apply = RecordingApply()
    assert run_job(job.to_dict(), rt, apply)["status"] == "applied"
    document = apply.events[0]
    assert document["data"]["ticket"] == "81D31358-93AF-92D6-7425-01A5D67C4E71"
    assert document["data"]["approved_by"] == "carol-feishu"
    [message] = fakes.state.calls("/open-apis/im/v1/messages")
    assert message.query == {"receive_id_type": "user_id"}
    assert message.body["receive_id"] == "bob-feishu"
    assert message.body["msg_type"] == "text"
    assert "Enterprise B" in json.loads(message.body["content"])["text"]


@pytest.mark.parametrize("status", ["REVERTED", "CANCELED", "DELETED"])
def test_feishu_withdrawals_revoke(fakes: VendorFakes, status: str) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("feishu-approval-instance-reverted.json")
    event["event"]["status"] = status
    assert post(rt, "feishu", feishu(event))[0] == 200
    assert dispatcher.jobs[0].decision == "revoke"


@pytest.mark.parametrize("case", ["token", "signature", "unsigned", "stale", "plain", "pending"])
def test_feishu_refusals(fakes: VendorFakes, case: str) -> None:
    rt, dispatcher = runtime(fakes.url)
    event = payload("feishu-approval-instance-approved.json")
    expected = 401
    if case == "token":
        delivery = feishu(event, token="wrong-token")
    elif case == "signature":
        delivery = feishu(event)
        delivery.headers["x-lark-signature"] = "0" * 64
    elif case == "unsigned":
        delivery = feishu(event)
        del delivery.headers["x-lark-signature"]
    elif case == "stale":
        delivery = feishu(event, now=NOW - timedelta(minutes=10))
    elif case == "plain":
        delivery = feishu(event, key=None)
    else:
        event["event"]["status"] = "PENDING"
        delivery, expected = feishu(event), 200
    assert post(rt, "feishu", delivery)[0] == expected
    assert dispatcher.changes == []


# -- the token mode --------------------------------------------------------------------------------------------


def our_event(time: datetime, kind: str = "partner.access.approved") -> bytes:
    document = payload("../../events/approved.json")
    document["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    document["type"] = kind
    return json.dumps(document).encode()


def test_token_mode_accepts_either_rotation_token_within_the_age(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "token", senders.token(our_event(NOW - timedelta(seconds=60)), "intake-bearer-token-new"))[0] == 202
    assert post(rt, "token", senders.token(our_event(NOW), "intake-bearer-token-old"))[0] == 202
    assert len(dispatcher.jobs) == 1  # the same event id: queued once
    assert dispatcher.jobs[0].event_id == "evt-approved-0001"


@pytest.mark.parametrize(
    ("time", "bearer", "kind", "status"),
    [
        (NOW, "wrong", "partner.access.approved", 401),
        (NOW, "", "partner.access.approved", 401),
        (NOW - timedelta(seconds=301), "intake-bearer-token-new", "partner.access.approved", 400),
        (NOW + timedelta(seconds=301), "intake-bearer-token-new", "partner.access.approved", 400),
        (NOW, "intake-bearer-token-new", "partner.access.granted", 400),
    ],
)
def test_token_mode_refusals(fakes: VendorFakes, time: datetime, bearer: str, kind: str, status: int) -> None:
    rt, dispatcher = runtime(fakes.url)
    assert post(rt, "token", senders.token(our_event(time, kind), bearer))[0] == status
    assert dispatcher.changes == []


# -- the worker ------------------------------------------------------------------------------------------------


def test_jira_worker_applies_the_event_and_comments_without_secrets(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    apply = RecordingApply()
    assert run_job(dispatcher.jobs[0].to_dict(), rt, apply)["status"] == "applied"
    assert apply.events[0]["data"]["ticket"] == "OPS-4242"
    [comment] = fakes.state.calls("/rest/api/2/issue/OPS-4242/comment")
    assert "access granted" in comment.body["body"]
    assert "external" not in comment.body["body"].lower()


def test_github_worker_comments_and_retries_a_failing_api(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "github", senders.github(github_body(), GITHUB_SECRET))
    fakes.state.fail_next = 1
    run_job(dispatcher.jobs[0].to_dict(), rt, RecordingApply())
    calls = fakes.state.calls("/repos/enterprise-a/access-requests/issues/17/comments")
    assert len(calls) == 2  # a 503, then the comment


def test_without_write_back_the_worker_applies_and_tells_no_ticket(fakes: VendorFakes) -> None:
    """What owner-onboard does with an unsealed revocation: the ticket it names is not trusted to be told."""
    rt, dispatcher = runtime(fakes.url)
    post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    apply = RecordingApply()
    assert run_job(dispatcher.jobs[0].to_dict(), rt, apply, write_back=False)["status"] == "applied"
    assert len(apply.events) == 1
    assert fakes.state.calls("/rest/api/2/issue") == []


def test_a_duplicate_is_not_commented_again(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    run_job(dispatcher.jobs[0].to_dict(), rt, RecordingApply(status="duplicate"))
    assert fakes.state.calls("/rest/api/2/issue") == []


def test_guardrail_refusals_are_written_back_and_retryable_errors_propagate(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    job = dispatcher.jobs[0].to_dict()

    def refuse(document: Any) -> Any:
        raise GuardrailError("profile not allowed", problems=[Problem("data.access.profile", "unknown")])

    assert run_job(job, rt, refuse)["status"] == "refused"
    [comment] = fakes.state.calls("/rest/api/2/issue/OPS-4242/comment")
    assert "not applied" in comment.body["body"]

    def unavailable(document: Any) -> Any:
        raise RetryableCloudError("throttled", cloud_code="Throttling")

    with pytest.raises(RetryableCloudError):
        run_job(job, rt, unavailable)


def test_a_refusal_notice_is_written_back_by_the_worker(fakes: VendorFakes) -> None:
    rt, dispatcher = runtime(fakes.url)
    status, _ = post(rt, "github", senders.github(github_body("mallory"), GITHUB_SECRET))
    assert status == 403
    [notice] = dispatcher.notices
    apply = RecordingApply()
    assert run_job(notice.to_dict(), rt, apply)["status"] == "noticed"
    assert apply.events == []
    [comment] = fakes.state.calls("/repos/enterprise-a/access-requests/issues/17/comments")
    assert "not applied" in comment.body["body"]
    assert "not an approver" in comment.body["body"]


def test_a_failed_write_back_never_blocks(fakes: VendorFakes) -> None:
    env = {**ENV, "RAM_DELEGATE_JIRA_API_TOKEN": "revoked-token"}
    rt, dispatcher = runtime(fakes.url, env)
    post(rt, "jira", senders.jira(jira_body(), JIRA_SECRET))
    assert run_job(dispatcher.jobs[0].to_dict(), rt, RecordingApply())["status"] == "applied"
