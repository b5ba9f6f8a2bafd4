"""Properties: any change to a signed or encrypted delivery is refused and queues nothing; issue forms read back
what was written in them."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from intake_support import ENV, NOW, RECEIVER_ID, payload, request_of, runtime

from ram_delegate.intake import senders
from ram_delegate.intake.github import form_sections
from ram_delegate.intake.service import serve

RT, DISPATCHER = runtime("http://127.0.0.1:9")  # no vendor API is called at the front door
JIRA = senders.jira(json.dumps(payload("jira-issue-updated.json")).encode(), "jira-webhook-secret-new")
GITHUB = senders.github(json.dumps(payload("github-issues-labeled.json")).encode(), ENV["RAM_DELEGATE_GITHUB_SECRET"])
DINGTALK = senders.dingtalk(
    json.dumps(payload("dingtalk-bpms-instance-change-finish.json")).encode(),
    token=ENV["RAM_DELEGATE_DINGTALK_TOKEN"],
    aes_key=ENV["RAM_DELEGATE_DINGTALK_AES_KEY"],
    receiver_id=RECEIVER_ID,
    now=NOW,
)
FEISHU = senders.feishu(
    payload("feishu-approval-instance-approved.json"),
    verification_token=ENV["RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN"],
    encrypt_key=ENV["RAM_DELEGATE_FEISHU_ENCRYPT_KEY"],
    now=NOW,
)
SIGNED = {"jira": JIRA, "github": GITHUB, "dingtalk": DINGTALK, "feishu": FEISHU}


def same_json(left: bytes, right: bytes) -> bool:
    try:
        return bool(json.loads(left) == json.loads(right))
    except ValueError:
        return False


def mutate(body: bytes, index: int, value: int) -> bytes:
    position = index % len(body)
    replacement = value if value != body[position] else (value + 1) % 256
    return body[:position] + bytes([replacement]) + body[position + 1 :]


@given(st.sampled_from(sorted(SIGNED)), st.integers(min_value=0), st.integers(min_value=0, max_value=255))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_changed_byte_is_refused_and_queues_nothing(source: str, index: int, value: int) -> None:
    original = SIGNED[source]
    changed = senders.Delivery(mutate(original.body, index, value), original.headers, original.query)
    # DingTalk signs the "encrypt" value, not the raw body: whitespace around it changes no content
    assume(source != "dingtalk" or not same_json(changed.body, original.body))
    before = len(DISPATCHER.jobs)
    status = serve(source, request_of(changed, source=source), RT)["statusCode"]
    assert status in (400, 401)
    assert len(DISPATCHER.jobs) == before


def test_the_unchanged_deliveries_are_accepted() -> None:
    for source, delivery in SIGNED.items():
        assert serve(source, request_of(delivery, source=source, request_id=source), RT)["statusCode"] in (200, 202)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda text: text.strip() == text and not text.startswith("#") and text != "_No response_"
)


@given(st.dictionaries(_TEXT, _TEXT, min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_issue_forms_read_back_what_was_filled_in(fields: dict[str, str]) -> None:
    rendered = "\n\n".join(f"### {heading}\n\n{value}" for heading, value in fields.items())
    assert form_sections(rendered) == fields


def test_each_refusal_logs_one_line_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    secrets = [part for value in ENV.values() for part in value.split(",")]
    for source, delivery in {**SIGNED, "token": senders.token(b"{}", "not-the-token")}.items():
        body = (
            delivery.body.replace(b'"encrypt": "', b'"encrypt": "A') if source == "dingtalk" else delivery.body + b" "
        )
        broken = senders.Delivery(body, delivery.headers, delivery.query)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="ram_delegate"):
            status = serve(source, request_of(broken, source=source), RT)["statusCode"]
        assert status in (400, 401)
        lines = [record.getMessage() for record in caplog.records]
        assert len(lines) == 1, lines
        assert not any(secret in lines[0] for secret in secrets)
