"""What the command line's modules and the demo share: one run of the CLI (``Invocation``), exit codes, and how to
talk to functions and stacks (neither the demo nor a command module imports ``cli``)."""

from __future__ import annotations

import argparse
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ram_delegate.cli_output import Output, format_time
from ram_delegate.errors import ConfigurationError
from ram_delegate.settings import Settings

if TYPE_CHECKING:
    from alibabacloud_tea_openapi.utils_models import Config

    from ram_delegate.cloud import CloudClients, Credentials
    from ram_delegate.deps import Deps

log = logging.getLogger("ram_delegate.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
ENV_CLOUD_REGION = "ALIBABA_CLOUD_REGION_ID"

FUNCTION_NAMES = ("owner-onboard", "owner-expire", "partner-onboard", "partner-expire", "partner-verify")


class UsageError(Exception):
    """A command line that parses but cannot be acted on (exit 2, like argparse's own errors)."""


def timer_event(now: datetime, trigger_name: str) -> bytes:
    """The FC timer trigger event, so ``invoke owner-expire`` runs a sweep as its timer would."""
    return json.dumps({"triggerTime": format_time(now), "triggerName": trigger_name, "payload": ""}).encode()


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> tuple[int, bytes]:
    """POST ``body``; any HTTP status is an answer, an unreachable URL a ConfigurationError (loopback skips proxies)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    loopback = urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigurationError(f"could not reach {url}: {reason}") from None


def json_or_text(raw: bytes) -> Any:
    """A function's answer: parsed JSON when it is JSON, else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


@dataclass
class Invocation:
    """One run of the CLI: the parsed arguments, where output goes and the environment it reads."""

    args: argparse.Namespace
    out: Output
    env: Mapping[str, str]

    @property
    def endpoint(self) -> str | None:
        value: str | None = self.args.endpoint
        return value

    def settings(self, **overrides: object) -> Settings:
        """Settings from the environment with the global flags on top (flags win)."""
        if self.args.region:
            overrides["region"] = self.args.region
        elif self.env.get(ENV_CLOUD_REGION) and not self.env.get("RAM_DELEGATE_REGION"):
            overrides["region"] = self.env[ENV_CLOUD_REGION]
        if self.endpoint:
            overrides["endpoint"] = self.endpoint
            overrides["protocol"] = "http"
        return Settings.from_env(self.env, **overrides)

    def with_seal_key(self, settings: Settings) -> Settings:
        """``settings`` with the seal key read from KMS with the caller's credentials when one is named
        (``RAM_DELEGATE_KMS_SEAL_SECRET``), for the commands that decide ownership: with the functions' keys, never
        with the managed-by tag alone. Commands that do not read grants never ask KMS."""
        if not settings.kms_seal_secret:
            return settings
        from ram_delegate.kms_secrets import with_kms_seal_key

        kms = self.cloud(settings).kms
        return with_kms_seal_key(settings, kms.get_secret_version, now=self.now())

    def credentials(self) -> Credentials:
        from ram_delegate.cloud import Credentials

        found = Credentials.from_env(self.env)
        if found is None:
            raise ConfigurationError(
                "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                "(and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)"
            )
        return found

    def cloud(self, settings: Settings) -> CloudClients:
        from ram_delegate.cloud import CloudClients

        return CloudClients(settings, self.credentials())

    def with_account_id(self, settings: Settings) -> Settings:
        """Settings that know their account: RAM_DELEGATE_ACCOUNT_ID, else asked once with GetCallerIdentity."""
        if settings.account_id:
            return settings
        from alibabacloud_sts20150401.client import Client as StsClient

        config = sdk_config(
            self.credentials(), settings.region, settings.endpoint_for("sts"), settings.protocol, read_timeout=10
        )
        try:
            account_id = StsClient(config).get_caller_identity().body.account_id
        except Exception as exc:  # the STS SDK raises its own exception types; keep code and message only
            raise ConfigurationError(
                f"cannot tell the account id (set RAM_DELEGATE_ACCOUNT_ID): {getattr(exc, 'code', type(exc).__name__)}"
            ) from None
        return settings.model_copy(update={"account_id": str(account_id)})

    def now(self) -> datetime:
        """The emulator's clock for a local stack (it may have been moved), else the host's clock."""
        if self.endpoint:
            from aliyun_emulator.control import ControlError, EmulatorControl

            try:
                return EmulatorControl(f"http://{self.endpoint}", timeout=5).clock.now()
            except (ControlError, OSError, ValueError) as exc:
                log.info("no emulator clock at %s (%s); using the host's clock", self.endpoint, exc)
        return datetime.now(timezone.utc)

    def deps(self, settings: Settings) -> Deps:
        """The same dependencies a function builds at cold start, with the caller's credentials."""
        from ram_delegate.audit import AuditLog
        from ram_delegate.deps import Deps
        from ram_delegate.notify import HttpNotifier
        from ram_delegate.policy import load_profiles

        settings = self.with_seal_key(settings)
        now = self.now()
        offset = now - datetime.now(timezone.utc)
        return Deps(
            settings=settings,
            cloud=self.cloud(settings),
            clock=lambda: datetime.now(timezone.utc) + offset,
            notifier=HttpNotifier(),
            audit=AuditLog(),
            profiles=load_profiles(settings.profiles_file),
        )


def sdk_config(credentials: Credentials, region: str, endpoint: str, protocol: str, *, read_timeout: float) -> Config:
    """An official-SDK ``Config`` for one endpoint; plain http (a local stack) bypasses proxies for that host."""
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        region_id=region,
        endpoint=endpoint,
        protocol=protocol,
        connect_timeout=5000,
        read_timeout=int(read_timeout * 1000),
    )
    if protocol == "http":
        config.no_proxy = endpoint.rsplit(":", 1)[0]
    return config
