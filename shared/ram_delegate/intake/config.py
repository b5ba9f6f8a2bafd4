"""The intake file (``RAM_DELEGATE_INTAKE_FILE``): which sources are served and how their tickets map to events.

YAML or JSON. The file names environment variables, never secrets: ``secret_env: RAM_DELEGATE_JIRA_SECRET`` says
where the Jira webhook secret is. Loading checks the file's shape and that every variable it names is set, and
reports every problem at once (a ConfigurationError), so a deployment fails at start-up, not at the first ticket.
The published JSON Schema (``schemas/intake-file.schema.json``) is generated from these models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ram_delegate.errors import ConfigurationError, Problem
from ram_delegate.intake import ENV_INTAKE_FILE as ENV_INTAKE_FILE
from ram_delegate.intake import SOURCES as SOURCES

# The variable names the README's sample file uses; template.yml passes these through to owner-onboard.
CONVENTIONAL_ENV = (
    "RAM_DELEGATE_JIRA_SECRET",
    "RAM_DELEGATE_JIRA_USER",
    "RAM_DELEGATE_JIRA_API_TOKEN",
    "RAM_DELEGATE_GITHUB_SECRET",
    "RAM_DELEGATE_GITHUB_TOKEN",
    "RAM_DELEGATE_DINGTALK_TOKEN",
    "RAM_DELEGATE_DINGTALK_AES_KEY",
    "RAM_DELEGATE_DINGTALK_APP_KEY",
    "RAM_DELEGATE_DINGTALK_APP_SECRET",
    "RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN",
    "RAM_DELEGATE_FEISHU_ENCRYPT_KEY",
    "RAM_DELEGATE_FEISHU_APP_ID",
    "RAM_DELEGATE_FEISHU_APP_SECRET",
    "RAM_DELEGATE_INTAKE_TOKEN",
)

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", description="An environment variable.")]
_SPLIT = re.compile(r"[\s,]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(_Strict):
    """Where each event field comes from in the ticket (a field id, a form heading or a form component name).

    A field is optional unless the event needs it: an approval needs the partner account, user and name, the
    profile, the region and either ``expires_at`` or ``duration``; a revocation needs none.
    """

    partner_account_id: str | None = None
    partner_user: str | None = None
    partner_name: str | None = None
    profile: str | None = None
    region: str | None = None
    resource_group_id: str | None = None
    expires_at: str | None = None
    duration: str | None = None


class Defaults(_Strict):
    """Values used when the ticket has no such field (e.g. one partner, one region for every request)."""

    partner_account_id: str | None = None
    partner_user: str | None = None
    partner_name: str | None = None
    profile: str | None = None
    region: str | None = None
    resource_group_id: str | None = None
    duration: str | None = None


class JiraWriteBack(_Strict):
    """Comments on the issue through the Jira REST API (basic auth: account e-mail + API token)."""

    base_url: Annotated[str, Field(pattern=r"^https?://")]
    user_env: EnvName
    token_env: EnvName


class GitHubWriteBack(_Strict):
    """Comments on the issue through the GitHub REST API with a token allowed to write issues."""

    api_url: Annotated[str, Field(pattern=r"^https?://")] = "https://api.github.com"
    token_env: EnvName


class MessageWriteBack(_Strict):
    """A direct message to the requester through the app's own messaging API (DingTalk needs the app's agent id)."""

    enabled: bool = True
    agent_id: str | None = None


class JiraSource(_Strict):
    secret_env: EnvName
    approve_statuses: Annotated[tuple[str, ...], Field(min_length=1)]
    revoke_statuses: tuple[str, ...] = ()
    approvers: tuple[str, ...] = Field((), description="Jira accountIds allowed to approve; empty allows anyone.")
    fields: FieldMap = FieldMap()
    defaults: Defaults = Defaults()
    write_back: JiraWriteBack | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> JiraSource:
        both = {s.casefold() for s in self.approve_statuses} & {s.casefold() for s in self.revoke_statuses}
        if both:
            raise ValueError(f"statuses both approve and revoke: {sorted(both)}")
        return self


class GitHubSource(_Strict):
    secret_env: EnvName
    approve_label: Annotated[str, Field(min_length=1)]
    revoke_label: Annotated[str, Field(min_length=1)]
    approvers: Annotated[tuple[str, ...], Field(min_length=1)]
    fields: FieldMap = FieldMap()
    defaults: Defaults = Defaults()
    write_back: GitHubWriteBack | None = None

    @model_validator(mode="after")
    def _distinct_labels(self) -> GitHubSource:
        if self.approve_label.casefold() == self.revoke_label.casefold():
            raise ValueError("approve_label and revoke_label must differ")
        return self


class DingTalkSource(_Strict):
    token_env: EnvName
    aes_key_env: EnvName
    app_key_env: EnvName
    app_secret_env: EnvName
    receiver_id: str | None = Field(None, description="The corpId or AppKey DingTalk appends to each message.")
    process_codes: tuple[str, ...] = Field((), description="Approval templates served; empty serves all.")
    api_url: Annotated[str, Field(pattern=r"^https?://")] = "https://api.dingtalk.com"
    oapi_url: Annotated[str, Field(pattern=r"^https?://")] = "https://oapi.dingtalk.com"
    fields: FieldMap = FieldMap()
    defaults: Defaults = Defaults()
    write_back: MessageWriteBack | None = None


class FeishuSource(_Strict):
    verification_token_env: EnvName
    encrypt_key_env: EnvName | None = None
    app_id_env: EnvName
    app_secret_env: EnvName
    approval_codes: tuple[str, ...] = Field((), description="Approval definitions served; empty serves all.")
    api_url: Annotated[str, Field(pattern=r"^https?://")] = "https://open.feishu.cn"
    fields: FieldMap = FieldMap()
    defaults: Defaults = Defaults()
    write_back: MessageWriteBack | None = None


class TokenSource(_Strict):
    token_env: EnvName
    max_age_seconds: Annotated[int, Field(ge=1, le=3600)] = 300


class Sources(_Strict):
    jira: JiraSource | None = None
    github: GitHubSource | None = None
    dingtalk: DingTalkSource | None = None
    feishu: FeishuSource | None = None
    token: TokenSource | None = None


class Reminders(_Strict):
    """Reminders before a grant expires and a notice when it expires, written back to the ticket.

    ``before: ["3d", "1d"]``. They run with owner-expire (every ``period_minutes``): a reminder goes out on the tick
    whose window ``(now - period, now]`` holds ``expires_at - lead``, so no state is kept and a tick that never ran
    (an outage) skips its reminders rather than sending them late.
    """

    before: tuple[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}[dhm]$")], ...] = ()
    on_expiry: bool = True
    period_minutes: Annotated[int, Field(ge=1, le=60)] = 5


class IntakeFile(_Strict):
    """The whole file: the enabled sources and optional reminders."""

    sources: Sources
    reminders: Reminders = Reminders()
    write_back_attempts: Annotated[int, Field(ge=1, le=10)] = 3

    def env_names(self) -> list[str]:
        """Every environment variable the file names (the local host hands these to owner-onboard)."""
        return sorted(set(_env_names(self.model_dump())))


def _env_names(node: Any) -> list[str]:
    names: list[str] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                names.append(value)
            else:
                names.extend(_env_names(value))
    return names


def split_secrets(raw: str) -> tuple[str, ...]:
    """A rotation list: ``new,old`` (or whitespace separated); sign with the first, accept any."""
    return tuple(part for part in _SPLIT.split(raw.strip()) if part)


def parse_intake(text: str, env: Mapping[str, str], *, origin: str = "intake file") -> IntakeFile:
    """Parse and validate the file's text; every problem (shape and missing variables) in one ConfigurationError."""
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{origin} is not valid YAML or JSON", problems=[Problem("", str(exc))]) from None
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"{origin} must be a mapping", problems=[Problem("", "expected a mapping")])
    try:
        intake = IntakeFile.model_validate(document)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise ConfigurationError(f"{origin} is invalid", problems=problems) from None
    missing = [Problem(name, "the variable is not set") for name in intake.env_names() if not env.get(name, "").strip()]
    if missing:
        raise ConfigurationError(f"{origin} names variables that are not set", problems=missing)
    return intake


def load_intake(env: Mapping[str, str]) -> IntakeFile | None:
    """The intake file ``RAM_DELEGATE_INTAKE_FILE`` names, or None when the variable is not set."""
    path = env.get(ENV_INTAKE_FILE, "").strip()
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"{ENV_INTAKE_FILE} cannot be read", problems=[Problem(ENV_INTAKE_FILE, type(exc).__name__)]
        ) from None
    return parse_intake(text, env, origin=Path(path).name)


def intake_json_schema() -> dict[str, Any]:
    """The JSON Schema published in ``schemas/`` (a test compares it with the file)."""
    schema = IntakeFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/ram-delegate/ram-delegate/schemas/intake-file.schema.json"
    schema["title"] = "ram-delegate intake file (RAM_DELEGATE_INTAKE_FILE)"
    return schema


def intake_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The intake file variable and every variable the file names, as set in ``env`` (for the local host).

    Lenient on purpose: the owner function validates the file at start-up and lists every problem itself.
    """
    path = env.get(ENV_INTAKE_FILE, "").strip()
    if not path:
        return {}
    handed = {ENV_INTAKE_FILE: path}
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return handed
    for name in _env_names(document):
        if name in env:
            handed[name] = env[name]
    return handed
