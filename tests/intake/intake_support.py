"""Shared by the intake tests: the intake file, the secrets, vendor payloads and FC trigger requests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vendor_fakes import DINGTALK_APP, FEISHU_APP, GITHUB_TOKEN, JIRA_AUTH

from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import parse_intake
from ram_delegate.intake.contract import Job
from ram_delegate.intake.senders import Delivery
from ram_delegate.intake.service import IntakeRuntime, build_adapters
from ram_delegate.outcome import Outcome

PAYLOADS = Path(__file__).parent / "payloads"
PARTNER_ACCOUNT = "2222222222222222"
NOW = datetime(2030, 1, 1, 0, 0, 30, tzinfo=timezone.utc)

ENV = {
    "RAM_DELEGATE_JIRA_SECRET": "jira-webhook-secret-new,jira-webhook-secret-old",
    "RAM_DELEGATE_JIRA_USER": JIRA_AUTH[0],
    "RAM_DELEGATE_JIRA_API_TOKEN": JIRA_AUTH[1],
    "RAM_DELEGATE_GITHUB_SECRET": "github-webhook-secret",
    "RAM_DELEGATE_GITHUB_TOKEN": GITHUB_TOKEN,
    "RAM_DELEGATE_DINGTALK_TOKEN": "dingtalk-callback-token",
    "RAM_DELEGATE_DINGTALK_AES_KEY": "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij",
    "RAM_DELEGATE_DINGTALK_APP_KEY": DINGTALK_APP[0],
    "RAM_DELEGATE_DINGTALK_APP_SECRET": DINGTALK_APP[1],
    "RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN": "feishu-verification-token",
    "RAM_DELEGATE_FEISHU_ENCRYPT_KEY": "feishu-encrypt-key",
    "RAM_DELEGATE_FEISHU_APP_ID": FEISHU_APP[0],
    "RAM_DELEGATE_FEISHU_APP_SECRET": FEISHU_APP[1],
    "RAM_DELEGATE_INTAKE_TOKEN": "intake-bearer-token-new,intake-bearer-token-old",
}
RECEIVER_ID = "dingcorp0123456789"


def intake_yaml(vendor_url: str, *, partner_account: str = PARTNER_ACCOUNT) -> str:
    """The issue's sample file, plus DingTalk, Feishu and write-back pointed at the loopback fakes."""
    return f"""
sources:
  jira:
    secret_env: RAM_DELEGATE_JIRA_SECRET
    approve_statuses: ["Access Approved"]
    revoke_statuses: ["Access Revoked", "Closed"]
    fields:
      partner_account_id: customfield_10050
      partner_user: customfield_10051
      partner_name: customfield_10052
      profile: customfield_10053
      region: customfield_10054
      resource_group_id: customfield_10055
      expires_at: customfield_10056
      duration: customfield_10057
    write_back:
      base_url: {vendor_url}
      user_env: RAM_DELEGATE_JIRA_USER
      token_env: RAM_DELEGATE_JIRA_API_TOKEN
  github:
    secret_env: RAM_DELEGATE_GITHUB_SECRET
    approve_label: access-approved
    revoke_label: access-revoked
    approvers: [octo-approver]
    fields:
      partner_account_id: Partner account ID
      partner_user: Partner RAM user
      partner_name: Partner name
      profile: Access profile
      region: Region
      duration: Duration
    write_back:
      api_url: {vendor_url}
      token_env: RAM_DELEGATE_GITHUB_TOKEN
  dingtalk:
    token_env: RAM_DELEGATE_DINGTALK_TOKEN
    aes_key_env: RAM_DELEGATE_DINGTALK_AES_KEY
    app_key_env: RAM_DELEGATE_DINGTALK_APP_KEY
    app_secret_env: RAM_DELEGATE_DINGTALK_APP_SECRET
    receiver_id: {RECEIVER_ID}
    process_codes: [PROC-PARTNER-ACCESS-01]
    api_url: {vendor_url}
    oapi_url: {vendor_url}
    fields:
      partner_name: 合作伙伴名称
      partner_account_id: 合作伙伴账号ID
      partner_user: RAM用户
      profile: 访问权限
      region: 地域
      duration: 有效期
    write_back:
      agent_id: "2990001"
  feishu:
    verification_token_env: RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN
    encrypt_key_env: RAM_DELEGATE_FEISHU_ENCRYPT_KEY
    app_id_env: RAM_DELEGATE_FEISHU_APP_ID
    app_secret_env: RAM_DELEGATE_FEISHU_APP_SECRET
    api_url: {vendor_url}
    fields:
      partner_name: Partner name
      partner_account_id: Partner account ID
      partner_user: Partner RAM user
      profile: Access profile
      region: Region
      duration: Duration
    write_back: {{}}
  token:
    token_env: RAM_DELEGATE_INTAKE_TOKEN
reminders:
  before: ["3d", "1d"]
"""


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def request_of(delivery: Delivery, *, source: str, now: datetime = NOW, request_id: str = "req-1") -> HttpRequest:
    return HttpRequest(
        method="POST",
        path=f"/{source}",
        headers={k.lower(): v for k, v in delivery.headers.items()},
        body=delivery.body,
        now=now,
        request_id=request_id,
        source_ip="127.0.0.1",
        query=dict(delivery.query),
    )


@dataclass
class RecordingDispatcher:
    jobs: list[Job] = field(default_factory=list)

    def submit(self, job: Job) -> None:
        self.jobs.append(job)

    @property
    def changes(self) -> list[Job]:
        """The jobs that apply something (not the refusal notices written back to a ticket)."""
        return [job for job in self.jobs if job.notice is None]

    @property
    def notices(self) -> list[Job]:
        return [job for job in self.jobs if job.notice is not None]


@dataclass
class RecordingApply:
    """Stands in for the owner logic: records the events and answers ``applied``."""

    events: list[Mapping[str, Any]] = field(default_factory=list)
    status: str = "applied"

    def __call__(self, document: Mapping[str, Any]) -> Outcome:
        self.events.append(document)
        return Outcome(self.status, str(document["data"]["ticket"]))  # type: ignore[arg-type]


def runtime(vendor_url: str, env: Mapping[str, str] = ENV) -> tuple[IntakeRuntime, RecordingDispatcher]:
    file = parse_intake(intake_yaml(vendor_url), env)
    dispatcher = RecordingDispatcher()
    return IntakeRuntime(file, build_adapters(file, env), dispatcher), dispatcher
