"""Settings: the one place that reads environment variables.

Precedence (as Powertools and Chalice do it): explicit arguments > environment > defaults. Functions build one
``Settings`` at cold start with ``Settings.from_env()``; tests and the local host pass a dict instead of
``os.environ``. Every variable name is a constant here so template.yml, the README and the code agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ram_delegate.errors import ConfigurationError, Problem
from ram_delegate.seal import SealKeys

ENV_SIDE = "RAM_DELEGATE_SIDE"
ENV_ACCOUNT_ID = "RAM_DELEGATE_ACCOUNT_ID"
ENV_FC_ACCOUNT_ID = "FC_ACCOUNT_ID"
ENV_REGION = "RAM_DELEGATE_REGION"
ENV_FC_REGION = "FC_REGION"
ENV_WEBHOOK_SECRET = "RAM_DELEGATE_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
ENV_HUB_SECRET = "RAM_DELEGATE_HUB_SECRET"  # noqa: S105 (a variable name)
ENV_PARTNER_ENDPOINT = "RAM_DELEGATE_PARTNER_ENDPOINT"
ENV_PARTNER_SECRET = "RAM_DELEGATE_PARTNER_SECRET"  # noqa: S105 (a variable name)
ENV_VERIFIER_ROLE = "RAM_DELEGATE_VERIFIER_ROLE"
ENV_MAX_GRANT_DAYS = "RAM_DELEGATE_MAX_GRANT_DAYS"
ENV_TOMBSTONE_HOURS = "RAM_DELEGATE_TOMBSTONE_HOURS"
ENV_MAX_EVENT_AGE_HOURS = "RAM_DELEGATE_MAX_EVENT_AGE_HOURS"
ENV_ALLOW_BROAD_ASSUME = "RAM_DELEGATE_ALLOW_BROAD_ASSUME"
ENV_ALERT_WEBHOOK = "RAM_DELEGATE_ALERT_WEBHOOK"
ENV_ALERT_SECRET = "RAM_DELEGATE_ALERT_SECRET"  # noqa: S105 (a variable name: the chat robot's signing secret)
ENV_PROFILES_FILE = "RAM_DELEGATE_PROFILES_FILE"
ENV_ALLOWED_PARTNERS = "RAM_DELEGATE_ALLOWED_PARTNERS"
ENV_ENDPOINT = "RAM_DELEGATE_ENDPOINT"
ENV_PROTOCOL = "RAM_DELEGATE_PROTOCOL"
ENV_VERIFY_CONCURRENCY = "RAM_DELEGATE_VERIFY_CONCURRENCY"
ENV_ASSUME_RATE = "RAM_DELEGATE_ASSUME_RATE"
ENV_DRY_RUN = "RAM_DELEGATE_DRY_RUN"
ENV_KMS_WEBHOOK_SECRET = "RAM_DELEGATE_KMS_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
ENV_KMS_HUB_SECRET = "RAM_DELEGATE_KMS_HUB_SECRET"  # noqa: S105 (a variable name)
ENV_KMS_PARTNER_SECRET = "RAM_DELEGATE_KMS_PARTNER_SECRET"  # noqa: S105 (a variable name)
ENV_KMS_TTL = "RAM_DELEGATE_KMS_TTL_SECONDS"
ENV_ALLOWED_OWNERS = "RAM_DELEGATE_ALLOWED_OWNERS"
ENV_ADOPT_USERS = "RAM_DELEGATE_ADOPT_EXISTING_USERS"
ENV_OWNER_SECRETS = "RAM_DELEGATE_OWNER_SECRETS"
ENV_SEAL_SECRET = "RAM_DELEGATE_SEAL_SECRET"  # noqa: S105 (a variable name)
ENV_SEAL_PREVIOUS_SECRETS = "RAM_DELEGATE_SEAL_PREVIOUS_SECRETS"
ENV_KMS_SEAL_SECRET = "RAM_DELEGATE_KMS_SEAL_SECRET"  # noqa: S105 (a variable name)
ENV_SDK_DEBUG = "DEBUG"
KMS_SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]{1,192}$"  # noqa: S105 (a name pattern)

_SECRET_SPLIT = re.compile(r"[\s,]+")
_TRUE = {"1", "true", "yes", "on"}
# Tombstones must outlive every approval that may still be applied: retention >= maximum event age + this margin.
TOMBSTONE_MARGIN_HOURS = 4


def split_list(raw: str) -> tuple[str, ...]:
    """A rotation list or an allow-list as operators write it: comma- or space-separated, current entry first."""
    return tuple(part for part in _SECRET_SPLIT.split(raw.strip()) if part)


class Settings(BaseModel):
    """Everything a function needs to know about its deployment. Secrets never appear in ``repr``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    side: Literal["owner", "partner"] = "owner"
    account_id: Annotated[str | None, Field(pattern=r"^[0-9]{16}$")] = None
    region: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[a-z0-9]+){1,3}$")] = "cn-hangzhou"
    webhook_secrets: Annotated[tuple[str, ...], Field(repr=False)] = ()
    hub_secrets: Annotated[tuple[str, ...], Field(repr=False)] = ()
    partner_endpoint: str | None = None
    partner_secrets: Annotated[
        tuple[str, ...], Field(repr=False, validation_alias=AliasChoices("partner_secrets", "partner_secret"))
    ] = ()
    verifier_role: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9.-]{1,64}$")] = None
    max_grant_days: Annotated[int, Field(ge=1, le=365)] = 90
    tombstone_hours: Annotated[int, Field(ge=5, le=24 * 365)] = 96
    max_event_age_hours: Annotated[int, Field(ge=1, le=24 * 364)] = 80  # > the longest sender retry horizon (76 h)
    allow_broad_assume: bool = False
    alert_webhook: str | None = None
    alert_secret: Annotated[str | None, Field(repr=False)] = None
    profiles_file: str | None = None
    allowed_partners: tuple[str, ...] = ()
    endpoint: str | None = None
    protocol: Literal["https", "http"] = "https"
    verify_concurrency: Annotated[int, Field(ge=1, le=64)] = 16
    assume_rate_per_second: Annotated[float, Field(gt=0, le=100)] = 80.0
    dry_run: bool = False
    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = 64 * 1024
    webhook_tolerance_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    kms_webhook_secret: Annotated[str | None, Field(pattern=KMS_SECRET_NAME)] = None
    kms_hub_secret: Annotated[str | None, Field(pattern=KMS_SECRET_NAME)] = None
    kms_partner_secret: Annotated[str | None, Field(pattern=KMS_SECRET_NAME)] = None
    kms_ttl_seconds: Annotated[int, Field(ge=30, le=86400)] = 300
    seal_secret: Annotated[str | None, Field(repr=False, min_length=16)] = None
    seal_previous_secrets: Annotated[tuple[Annotated[str, Field(min_length=16)], ...], Field(repr=False)] = ()
    """Seal keys from before a rotation: they still verify and decrypt, never seal (``seal.SealKeys``)."""
    kms_seal_secret: Annotated[str | None, Field(pattern=KMS_SECRET_NAME)] = None
    seal_pending_secret: Annotated[str | None, Field(repr=False)] = None
    """A newer KMS version of the seal key that verifies but does not seal until it has settled (``kms_secrets``)."""
    seal_read_from_kms: bool = False
    """Set by ``kms_secrets`` once the KMS seal key is read: until then ``seal_keys`` refuses to answer."""
    allowed_owners: tuple[str, ...] = ()
    owner_secrets: Annotated[tuple[tuple[str, str], ...], Field(repr=False)] = ()
    adopt_existing_users: bool = False

    @field_validator("webhook_secrets", "hub_secrets", "partner_secrets", "seal_previous_secrets", mode="before")
    @classmethod
    def _split_rotation_list(cls, value: object) -> object:
        """One string is a rotation list ("new old"): the same splitting everywhere a secret list is read."""
        if value is None:
            return ()
        return split_list(value) if isinstance(value, str) else value

    @field_validator("webhook_secrets", "hub_secrets", "partner_secrets")
    @classmethod
    def _no_empty_secret(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not secret for secret in value):
            raise ValueError("empty secret")
        return value

    @model_validator(mode="after")
    def _own_forwarding_secret(self) -> Settings:
        """The forwarding secret is never a ticketing secret, and a partner-side secret belongs to one owner."""
        if set(self.partner_secrets) & {*self.webhook_secrets, *self.hub_secrets}:
            raise ValueError("the partner forwarding secret must be its own secret, not a ticketing webhook secret")
        owners_of: dict[str, set[str]] = {}
        for owner, secret in self.owner_secrets:
            owners_of.setdefault(secret, set()).add(owner)
        if any(len(owners) > 1 for owners in owners_of.values()):
            raise ValueError("each owner account needs its own forwarding secret (one secret per owner)")
        return self

    @model_validator(mode="after")
    def _previous_seal_keys_need_a_current_one(self) -> Settings:
        """Previous keys only verify: without a current key nothing would be sealed, and everything sealed under
        them would count as ours while new resources carried no seal at all."""
        if self.seal_previous_secrets and not (self.seal_secret or self.kms_seal_secret):
            raise ValueError(f"{ENV_SEAL_PREVIOUS_SECRETS} needs {ENV_SEAL_SECRET} or {ENV_KMS_SEAL_SECRET}")
        return self

    @model_validator(mode="after")
    def _tombstones_outlive_events(self) -> Settings:
        """An approval older than its ticket's tombstone could undo a revocation; the pair is checked together."""
        if self.tombstone_hours < self.max_event_age_hours + TOMBSTONE_MARGIN_HOURS:
            raise ValueError(
                f"tombstone_hours ({self.tombstone_hours}) must be at least max_event_age_hours "
                f"({self.max_event_age_hours}) + {TOMBSTONE_MARGIN_HOURS}"
            )
        return self

    @property
    def partner_signing_secret(self) -> str | None:
        """The secret that signs owner -> partner events: the current (first) of its own rotation list; never a
        ticketing secret (there is no fallback to the webhook secrets)."""
        return self.partner_secrets[0] if self.partner_secrets else None

    @property
    def uses_kms(self) -> bool:
        """Whether any secret is read from KMS Secrets Manager (each one named there replaces its environment
        variable; an environment seal key stays a verifying one)."""
        return bool(self.kms_webhook_secret or self.kms_hub_secret or self.kms_partner_secret or self.kms_seal_secret)

    @property
    def seal_keys(self) -> SealKeys | None:
        """The seal keys: the current one and those kept from before a rotation; None when sealing is off.

        With the key in KMS and not read yet this raises instead of answering None, which would mean "the managed-by
        tag alone is ownership": unverified settings never decide what is ram-delegate's.
        """
        if self.kms_seal_secret and not self.seal_read_from_kms:
            problem = Problem(ENV_KMS_SEAL_SECRET, "the seal key is in KMS and has not been read yet")
            raise ConfigurationError("the seal key has not been read from KMS", problems=[problem])
        if not self.seal_secret:
            return None
        newer = (self.seal_secret, self.seal_pending_secret)
        older = tuple(key for key in self.seal_previous_secrets if key not in newer)
        return SealKeys(self.seal_secret, older, self.seal_pending_secret)

    def endpoint_for(
        self,
        product: Literal["ram", "sts", "slb", "resourcemanager", "alb", "nlb", "ecs", "kms"],
        region: str | None = None,
    ) -> str:
        """The API endpoint of one product: the override (the local emulator serves them all), else the real one.

        SLB, ALB, NLB and ECS endpoints are regional: ``region`` names another region than the deployment's.
        """
        if self.endpoint:
            return self.endpoint
        if product in ("slb", "alb", "nlb", "ecs"):
            return f"{product}.{region or self.region}.aliyuncs.com"
        if product == "sts":
            return f"sts.{self.region}.aliyuncs.com"
        if product == "resourcemanager":
            return "resourcemanager.aliyuncs.com"
        if product == "kms":
            return f"kms.{self.region}.aliyuncs.com"
        return "ram.aliyuncs.com"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from environment variables (``os.environ`` unless given); raise ConfigurationError."""
        source = os.environ if env is None else env
        if source.get(ENV_SDK_DEBUG, "").lower() == "sdk":
            raise ConfigurationError("DEBUG=sdk makes the SDK log request headers with security tokens; unset it")
        values: dict[str, object] = {}

        def put(key: str, name: str) -> None:
            raw = source.get(name, "").strip()
            if raw:
                values[key] = raw

        put("side", ENV_SIDE)
        put("account_id", ENV_FC_ACCOUNT_ID)
        put("account_id", ENV_ACCOUNT_ID)
        put("region", ENV_FC_REGION)
        put("region", ENV_REGION)
        put("partner_endpoint", ENV_PARTNER_ENDPOINT)
        put("partner_secrets", ENV_PARTNER_SECRET)
        put("verifier_role", ENV_VERIFIER_ROLE)
        put("max_grant_days", ENV_MAX_GRANT_DAYS)
        put("tombstone_hours", ENV_TOMBSTONE_HOURS)
        put("max_event_age_hours", ENV_MAX_EVENT_AGE_HOURS)
        put("alert_webhook", ENV_ALERT_WEBHOOK)
        put("alert_secret", ENV_ALERT_SECRET)
        put("profiles_file", ENV_PROFILES_FILE)
        put("endpoint", ENV_ENDPOINT)
        put("protocol", ENV_PROTOCOL)
        put("verify_concurrency", ENV_VERIFY_CONCURRENCY)
        put("assume_rate_per_second", ENV_ASSUME_RATE)
        put("kms_webhook_secret", ENV_KMS_WEBHOOK_SECRET)
        put("kms_hub_secret", ENV_KMS_HUB_SECRET)
        put("kms_partner_secret", ENV_KMS_PARTNER_SECRET)
        put("kms_ttl_seconds", ENV_KMS_TTL)
        put("seal_secret", ENV_SEAL_SECRET)
        put("kms_seal_secret", ENV_KMS_SEAL_SECRET)
        for key, name in (
            ("webhook_secrets", ENV_WEBHOOK_SECRET),
            ("hub_secrets", ENV_HUB_SECRET),
            ("allowed_partners", ENV_ALLOWED_PARTNERS),
            ("seal_previous_secrets", ENV_SEAL_PREVIOUS_SECRETS),
        ):
            raw = source.get(name, "").strip()
            if raw:
                values[key] = split_list(raw)
        owners = source.get(ENV_ALLOWED_OWNERS, "").strip()
        if owners:
            values["allowed_owners"] = split_list(owners)
        pairs = [part.partition("=") for part in split_list(source.get(ENV_OWNER_SECRETS, "").strip())]
        if pairs:
            values["owner_secrets"] = tuple((owner, secret) for owner, _eq, secret in pairs)
        values["adopt_existing_users"] = source.get(ENV_ADOPT_USERS, "").strip().lower() in _TRUE
        values["allow_broad_assume"] = source.get(ENV_ALLOW_BROAD_ASSUME, "").strip().lower() in _TRUE
        values["dry_run"] = source.get(ENV_DRY_RUN, "").strip().lower() in _TRUE
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
            raise ConfigurationError("invalid settings", problems=problems) from None
