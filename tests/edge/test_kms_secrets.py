"""Webhook secrets from KMS Secrets Manager: the versions feed the rotation lists, re-read after a TTL or a signature
failure (rate limited), and only the function roles' own secrets are readable. GetSecretValue is served by the
emulator's kms product, called through the SDK core's generic client as a deployed function calls it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client
from ram_delegate import app
from ram_delegate.bootstrap import DEFAULT_VERIFIER_ROLE as VERIFIER
from ram_delegate.bootstrap import OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE, bootstrap
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.cloud_base import SecretVersion
from ram_delegate.errors import AccessDeniedError, ConfigurationError
from ram_delegate.kms_secrets import (
    MIN_REREAD_SECONDS,
    SEAL_KEY_SETTLE_SECONDS,
    KmsSecretCache,
    SecretVersions,
    seal_keys_in_use,
    with_kms_secrets,
)
from ram_delegate.seal import SealKeys
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret, sign

REPO = Path(__file__).resolve().parents[2]
OWNER_ROOT = Credentials("AKIDENTERPRISEA0000001", "secret-a")
PARTNER_ROOT = Credentials("AKIDENTERPRISEB0000001", "secret-b")
WEBHOOK = "ram-delegate/owner/webhook"
FORWARDING = "ram-delegate/owner/partner-forwarding"
OWNER_SEAL = "ram-delegate/owner/seal"
PARTNER_SEAL = "ram-delegate/partner/seal"


NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


class FakeKms:
    """Secrets by name and stage, counting reads; ``fail`` makes every read raise."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], SecretVersion] = {}
        self.reads = 0
        self.fail = False

    def rotate(self, name: str, value: str, *, created: datetime = NOW - timedelta(days=30)) -> None:
        current = self.values.get((name, "ACSCurrent"))
        if current is not None:
            self.values[(name, "ACSPrevious")] = current
        self.values[(name, "ACSCurrent")] = SecretVersion(value, created)

    def fetch(self, name: str, stage: str) -> SecretVersion | None:
        self.reads += 1
        if self.fail:
            raise AccessDeniedError("GetSecretValue: Forbidden.RAM", cloud_code="Forbidden.RAM")
        return self.values.get((name, stage))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_current_and_previous_versions_feed_the_rotation_lists() -> None:
    kms = FakeKms()
    kms.rotate(WEBHOOK, "whsec-old")
    kms.rotate(WEBHOOK, "whsec-new")
    kms.rotate(FORWARDING, "fwd-1")
    settings = Settings(kms_webhook_secret=WEBHOOK, kms_partner_secret=FORWARDING, webhook_secrets=("env",))
    resolved = with_kms_secrets(settings, kms.fetch, now=NOW)
    assert resolved.webhook_secrets == ("whsec-new", "whsec-old")  # sign with the first, verify with any
    assert resolved.partner_signing_secret == "fwd-1"
    assert SecretVersions("a", "a").rotation() == ("a",)
    assert "whsec-new" not in repr(resolved)


def test_the_seal_key_from_kms_seals_with_the_current_version_and_keeps_the_older_ones() -> None:
    kms = FakeKms()
    kms.rotate(OWNER_SEAL, "seal-one-0123456789")
    kms.rotate(OWNER_SEAL, "seal-two-0123456789")
    settings = Settings(kms_seal_secret=OWNER_SEAL, seal_previous_secrets=("seal-zero-0123456789",))
    keys = with_kms_secrets(settings, kms.fetch, now=NOW).seal_keys
    assert keys == SealKeys("seal-two-0123456789", ("seal-one-0123456789", "seal-zero-0123456789"))
    assert "seal-two" not in repr(with_kms_secrets(settings, kms.fetch, now=NOW))


def test_a_new_seal_key_version_only_verifies_until_it_has_settled(caplog: pytest.LogCaptureFixture) -> None:
    ttl = 300
    young = SecretVersions("new-key", "old-key", NOW - timedelta(seconds=ttl + SEAL_KEY_SETTLE_SECONDS - 1))
    settled = SecretVersions("new-key", "old-key", NOW - timedelta(seconds=ttl + SEAL_KEY_SETTLE_SECONDS))

    assert seal_keys_in_use(young, now=NOW, ttl_seconds=ttl) == SealKeys("old-key", pending="new-key")
    assert seal_keys_in_use(settled, now=NOW, ttl_seconds=ttl) == SealKeys("new-key", ("old-key",))
    assert seal_keys_in_use(SecretVersions("only-key", None, NOW), now=NOW, ttl_seconds=ttl) == SealKeys("only-key")
    undated = seal_keys_in_use(SecretVersions("new-key", "old-key"), now=NOW, ttl_seconds=ttl)
    assert undated == SealKeys("new-key", ("old-key",))  # cannot be held back forever, but said
    assert "no creation time" in caplog.text
    kms = FakeKms()
    kms.rotate(OWNER_SEAL, "seal-one-0123456789")
    kms.rotate(OWNER_SEAL, "seal-two-0123456789", created=NOW - timedelta(minutes=5))
    keys = with_kms_secrets(Settings(kms_seal_secret=OWNER_SEAL), kms.fetch, now=NOW).seal_keys
    assert keys == SealKeys("seal-one-0123456789", pending="seal-two-0123456789")


def test_unread_kms_seal_settings_never_answer_that_the_tag_alone_is_ownership() -> None:
    """Settings naming a KMS seal key that has not been read refuse to give keys (None would mean: tag only)."""
    with pytest.raises(ConfigurationError) as refused:
        Settings(kms_seal_secret=OWNER_SEAL).seal_keys  # noqa: B018 (the property raises)
    assert refused.value.problems[0].path == "RAM_DELEGATE_KMS_SEAL_SECRET"
    with pytest.raises(ConfigurationError):
        Settings(kms_seal_secret=OWNER_SEAL, seal_secret="seal-env-0123456789").seal_keys  # noqa: B018


def test_moving_the_seal_key_from_the_environment_into_kms_keeps_what_it_sealed() -> None:
    """The environment key stays a verifying key, and the first KMS version settles against it like a rotation."""
    kms = FakeKms()
    kms.rotate(OWNER_SEAL, "seal-kms-0123456789", created=NOW - timedelta(minutes=1))
    settings = Settings(kms_seal_secret=OWNER_SEAL, seal_secret="seal-env-0123456789")

    assert with_kms_secrets(settings, kms.fetch, now=NOW).seal_keys == SealKeys(
        "seal-env-0123456789", pending="seal-kms-0123456789"
    )
    later = NOW + timedelta(hours=1)
    assert with_kms_secrets(settings, kms.fetch, now=later).seal_keys == SealKeys(
        "seal-kms-0123456789", ("seal-env-0123456789",)
    )
    kms.rotate(OWNER_SEAL, "seal-kms-two-0123456789", created=NOW - timedelta(days=1))  # a later, settled rotation
    assert with_kms_secrets(settings, kms.fetch, now=later).seal_keys == SealKeys(
        "seal-kms-two-0123456789", ("seal-kms-0123456789", "seal-env-0123456789")
    )


def test_a_short_seal_key_in_kms_stops_the_cold_start() -> None:
    kms = FakeKms()
    kms.rotate(OWNER_SEAL, "tiny-k3y")
    with pytest.raises(ConfigurationError) as refused:
        with_kms_secrets(Settings(kms_seal_secret=OWNER_SEAL), kms.fetch, now=NOW)
    assert refused.value.problems[0].path == "RAM_DELEGATE_KMS_SEAL_SECRET"
    assert "tiny-k3y" not in f"{refused.value} {refused.value.problems}"


def test_previous_seal_keys_need_a_current_one_and_each_is_long_enough() -> None:
    env = {
        "RAM_DELEGATE_SEAL_SECRET": "seal-new-0123456789",
        "RAM_DELEGATE_SEAL_PREVIOUS_SECRETS": "seal-old-0123456789",
    }
    assert Settings.from_env(env).seal_keys == SealKeys("seal-new-0123456789", ("seal-old-0123456789",))
    for broken in (
        {"RAM_DELEGATE_SEAL_PREVIOUS_SECRETS": "seal-old-0123456789"},  # only verifying keys: nothing would seal
        {**env, "RAM_DELEGATE_SEAL_PREVIOUS_SECRETS": "seal-old-0123456789, short"},
    ):
        with pytest.raises(ConfigurationError):
            Settings.from_env(broken)
    assert Settings.from_env({}).seal_keys is None


def test_a_secret_without_a_current_version_stops_the_cold_start() -> None:
    with pytest.raises(ConfigurationError) as refused:
        with_kms_secrets(Settings(kms_webhook_secret=WEBHOOK), FakeKms().fetch, now=NOW)
    assert refused.value.problems[0].path == "RAM_DELEGATE_KMS_WEBHOOK_SECRET"


def test_without_kms_names_the_environment_secrets_are_used() -> None:
    settings = Settings(webhook_secrets=("from-env",))
    kms = FakeKms()
    assert KmsSecretCache(settings, clock=lambda: NOW).settings(kms.fetch) is settings
    assert kms.reads == 0


def test_secrets_are_read_again_after_the_ttl_and_a_failed_reread_keeps_them() -> None:
    kms, clock = FakeKms(), Clock()
    kms.rotate(WEBHOOK, "one")
    cache = KmsSecretCache(
        Settings(kms_webhook_secret=WEBHOOK, kms_ttl_seconds=300), monotonic=clock, clock=lambda: NOW
    )
    assert cache.settings(kms.fetch).webhook_secrets == ("one",)
    kms.rotate(WEBHOOK, "two")
    clock.now += 299
    assert cache.settings(kms.fetch).webhook_secrets == ("one",)
    clock.now += 1
    assert cache.settings(kms.fetch).webhook_secrets == ("two", "one")
    kms.fail = True
    clock.now += 300
    assert cache.settings(kms.fetch).webhook_secrets == ("two", "one")


def test_a_signature_failure_rereads_at_most_once_a_minute() -> None:
    kms, clock = FakeKms(), Clock()
    kms.rotate(WEBHOOK, "one")
    cache = KmsSecretCache(Settings(kms_webhook_secret=WEBHOOK), monotonic=clock, clock=lambda: NOW)
    cache.settings(kms.fetch)
    reads = kms.reads
    for _ in range(100):  # a flood of badly signed requests
        cache.settings(kms.fetch, after_signature_failure=True)
    assert kms.reads == reads
    clock.now += MIN_REREAD_SECONDS
    cache.settings(kms.fetch, after_signature_failure=True)
    assert kms.reads > reads


def test_a_first_read_the_role_may_not_make_is_a_configuration_error() -> None:
    kms = FakeKms()
    kms.fail = True
    with pytest.raises(ConfigurationError):
        KmsSecretCache(Settings(kms_webhook_secret=WEBHOOK), clock=lambda: NOW).settings(kms.fetch)


# --- on the emulator ---------------------------------------------------------------------------------------------


def value_of(cloud: CloudClients, name: str) -> str | None:
    version = cloud.kms.get_secret_version(name, "ACSCurrent")
    return version.value if version else None


def _function_role_user(emulator: Any, account: str, root: Credentials, side: str, role_policy: str) -> Credentials:
    """A user holding exactly the policy bootstrap gives the function role (the emulator has no FC to assume it)."""
    from alibabacloud_ram20150501 import models

    settings = Settings(side=side, account_id=account, endpoint=emulator.endpoint, protocol="http")  # type: ignore[arg-type]
    bootstrap(side, CloudClients(settings, root, retry=RetryPolicy(sleep=lambda _s: None)), settings)  # type: ignore[arg-type]
    admin = ram_client(emulator, root.access_key_id, root.access_key_secret)
    admin.create_user(models.CreateUserRequest(user_name=f"{side}-fn"))
    admin.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_name=role_policy, policy_type="Custom", user_name=f"{side}-fn")
    )
    key = admin.create_access_key(models.CreateAccessKeyRequest(user_name=f"{side}-fn")).body.access_key
    return Credentials(key.access_key_id, key.access_key_secret)


def test_the_function_roles_read_exactly_their_own_secrets(aliyun_emulator: Any) -> None:
    owner_kms = aliyun_emulator.state.accounts[ENTERPRISE_A_UID].kms
    for name in (WEBHOOK, FORWARDING, OWNER_SEAL, "ram-delegate/owner/hub", "billing/db-password"):
        owner_kms.put(name, f"value of {name}")
    partner_kms = aliyun_emulator.state.accounts[ENTERPRISE_B_UID].kms
    for name in ("ram-delegate/partner/forwarding", PARTNER_SEAL, "ram-delegate/partner/other"):
        partner_kms.put(name, f"value of {name}")
    settings = Settings(endpoint=aliyun_emulator.endpoint, protocol="http")
    owner = CloudClients(
        settings, _function_role_user(aliyun_emulator, ENTERPRISE_A_UID, OWNER_ROOT, "owner", OWNER_FUNCTION_ROLE)
    )
    partner = CloudClients(
        settings,
        _function_role_user(aliyun_emulator, ENTERPRISE_B_UID, PARTNER_ROOT, "partner", PARTNER_FUNCTION_ROLE),
    )

    assert value_of(owner, WEBHOOK) == f"value of {WEBHOOK}"
    assert owner.kms.get_secret_version(WEBHOOK, "ACSPrevious") is None  # never rotated yet
    for other in ("billing/db-password", "ram-delegate/owner/webhook-2"):
        with pytest.raises(AccessDeniedError):
            value_of(owner, other)
    assert value_of(partner, "ram-delegate/partner/forwarding") == "value of ram-delegate/partner/forwarding"
    with pytest.raises(AccessDeniedError):
        value_of(partner, "ram-delegate/partner/other")
    assert value_of(owner, OWNER_SEAL) == f"value of {OWNER_SEAL}"
    assert value_of(partner, PARTNER_SEAL) == f"value of {PARTNER_SEAL}"
    with pytest.raises(AccessDeniedError):
        value_of(owner, PARTNER_SEAL)  # another account's name pattern, not the owner's


def test_the_verifier_role_reads_the_partner_seal_key_and_nothing_else(aliyun_emulator: Any) -> None:
    """partner-verify decrypts the ExternalIds the partner keeps under its seal key; it may read only that key."""
    from alibabacloud_ram20150501 import models

    partner_kms = aliyun_emulator.state.accounts[ENTERPRISE_B_UID].kms
    for name in (PARTNER_SEAL, "ram-delegate/partner/forwarding"):
        partner_kms.put(name, f"value of {name}")
    _function_role_user(aliyun_emulator, ENTERPRISE_B_UID, PARTNER_ROOT, "partner", PARTNER_FUNCTION_ROLE)
    admin = ram_client(aliyun_emulator, PARTNER_ROOT.access_key_id, PARTNER_ROOT.access_key_secret)
    admin.create_user(models.CreateUserRequest(user_name="verifier-fn"))
    admin.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_name=VERIFIER, policy_type="Custom", user_name="verifier-fn")
    )
    key = admin.create_access_key(models.CreateAccessKeyRequest(user_name="verifier-fn")).body.access_key
    verifier = CloudClients(
        Settings(endpoint=aliyun_emulator.endpoint, protocol="http"),
        Credentials(key.access_key_id, key.access_key_secret),
    )

    assert value_of(verifier, PARTNER_SEAL) == f"value of {PARTNER_SEAL}"
    with pytest.raises(AccessDeniedError):
        value_of(verifier, "ram-delegate/partner/forwarding")


def _approval(now: datetime) -> dict[str, Any]:
    approval: dict[str, Any] = json.loads((REPO / "tests" / "events" / "approved.json").read_text())
    approval["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    approval["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return approval


def _signed(secret: str, document: dict[str, Any], now: datetime) -> bytes:
    body = json.dumps(document).encode()
    headers = sign(secret, f"msg_{document['id']}", int(now.timestamp()), body)
    event = {
        "version": "v1",
        "rawPath": "/",
        "body": body.decode(),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json", **headers},
        "requestContext": {"requestId": document["id"], "timeEpoch": str(int(now.timestamp() * 1000))},
    }
    return json.dumps(event).encode()


def _delivery(secret: str, now: datetime) -> bytes:
    revocation = {
        "specversion": "1.0",
        "id": "evt-kms-1",
        "source": "https://tickets.example/ops",
        "type": "partner.access.revoked",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"ticket": "KMS-1"},
    }
    return _signed(secret, revocation, now)


def _owner_env(emulator: Any, **kms_names: str) -> dict[str, str]:
    """owner-onboard's environment on the emulator with the root key, its secrets named in KMS."""
    return {
        "RAM_DELEGATE_SIDE": "owner",
        "RAM_DELEGATE_ACCOUNT_ID": ENTERPRISE_A_UID,
        "RAM_DELEGATE_ALLOWED_PARTNERS": ENTERPRISE_B_UID,
        "RAM_DELEGATE_ENDPOINT": emulator.endpoint,
        "RAM_DELEGATE_PROTOCOL": "http",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": OWNER_ROOT.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": OWNER_ROOT.access_key_secret,
        **kms_names,
    }


def _seal_rotation_setup(emulator: Any) -> tuple[Any, dict[str, str], str, str, str]:
    """KMS with a webhook secret and a first seal key; the env naming both; (kms, env, webhook, first, second)."""
    webhook, first, second = generate_secret(), "seal-first-" + generate_secret(), "seal-second-" + generate_secret()
    kms = emulator.state.accounts[ENTERPRISE_A_UID].kms
    kms.put(WEBHOOK, webhook)
    kms.put(OWNER_SEAL, first)
    env = _owner_env(emulator, RAM_DELEGATE_KMS_WEBHOOK_SECRET=WEBHOOK, RAM_DELEGATE_KMS_SEAL_SECRET=OWNER_SEAL)
    return kms, env, webhook, first, second


def test_the_owner_endpoint_verifies_with_kms_secrets_through_a_rotation(aliyun_emulator: Any) -> None:
    old, new, forwarding = generate_secret(), generate_secret(), generate_secret()
    kms = aliyun_emulator.state.accounts[ENTERPRISE_A_UID].kms
    kms.put(WEBHOOK, old)
    kms.put(FORWARDING, forwarding)
    env = _owner_env(
        aliyun_emulator, RAM_DELEGATE_KMS_WEBHOOK_SECRET=WEBHOOK, RAM_DELEGATE_KMS_PARTNER_SECRET=FORWARDING
    )
    clock = Clock()
    instance = app.warm_instance("owner", webhook=True, env=env, monotonic=clock)
    now = aliyun_emulator.clock.now()

    def status(secret: str) -> int:
        return int(app.owner_onboard(_delivery(secret, now), None, instance=instance)["statusCode"])

    assert status(old) == 200
    assert instance.deps(None).settings.partner_signing_secret == forwarding
    kms.put(WEBHOOK, new)  # rotated in KMS: this warm instance still holds only the old value
    assert status(new) == 401  # within a minute of the last read: no re-read, refused
    clock.now += MIN_REREAD_SECONDS
    assert status(new) == 200  # the signature failure made the instance read KMS again
    assert status(old) == 200  # ACSPrevious still verifies during the rotation
    assert status(generate_secret()) == 401


def test_the_owner_function_seals_with_the_kms_key_and_revokes_across_its_rotation(
    aliyun_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A grant sealed under the first version is revoked after KMS rotated the key (a version that has long settled);
    what the revocation writes is sealed under the new version. No key is ever logged."""
    from ram_delegate import grants as g

    caplog.set_level(logging.DEBUG)

    kms, env, webhook, first, second = _seal_rotation_setup(aliyun_emulator)
    clock = Clock()
    instance = app.warm_instance("owner", webhook=True, env=env, monotonic=clock)
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    approval = _approval(now)
    revocation = {**approval, "id": "evt-revoked-kms", "type": "partner.access.revoked", "data": {"ticket": "OPS-1234"}}
    ram = instance.deps(None).cloud.ram

    approved = app.owner_onboard(_signed(webhook, approval, now), None, instance=instance)
    assert approved["statusCode"] == 200
    [role] = ram.list_roles(g.managed_filter(g.KIND_ROLE))
    assert g.is_sealed(role.tags, role.name, SealKeys(first))
    kms.put(OWNER_SEAL, second)  # KMS rotates the key: ACSCurrent is new, ACSPrevious the first
    clock.now += 300  # the instance reads its KMS secrets again after the TTL
    assert instance.deps(None).settings.seal_keys == SealKeys(second, (first,))

    revoked = app.owner_onboard(_signed(webhook, revocation, now + timedelta(seconds=30)), None, instance=instance)

    assert revoked["statusCode"] == 200
    assert ram.list_roles(g.managed_filter(g.KIND_ROLE)) == []
    [tombstone] = ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))
    assert g.is_sealed(tombstone.tags, tombstone.name, SealKeys(second))
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    assert caplog.records
    assert not [key for key in (first, second, webhook) if key in logged]


def test_a_revocation_during_a_kms_rotation_is_seen_by_an_instance_that_read_the_key_before_it(
    aliyun_emulator: Any,
) -> None:
    """Two warm instances of owner-onboard: one read the seal key before KMS rotated it, one after. The fresh one
    revokes; the stale one then gets the (older) approval again. The tombstone must be sealed under a key the stale
    instance holds, or it would take it for a forgery and grant again what was just revoked."""
    from ram_delegate import grants as g

    kms, env, webhook, first, second = _seal_rotation_setup(aliyun_emulator)
    stale = app.warm_instance("owner", webhook=True, env=env, monotonic=Clock())
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    approval = _approval(now)
    assert app.owner_onboard(_signed(webhook, approval, now), None, instance=stale)["statusCode"] == 200
    rotated_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    kms.put(OWNER_SEAL, second, created=rotated_at)  # rotated now: the stale instance still holds only the first
    fresh = app.warm_instance("owner", webhook=True, env=env, monotonic=Clock())
    assert fresh.deps(None).settings.seal_keys == SealKeys(first, pending=second)  # the new version only verifies

    revocation = {**approval, "id": "evt-revoked-kms", "type": "partner.access.revoked", "data": {"ticket": "OPS-1234"}}
    assert app.owner_onboard(_signed(webhook, revocation, now), None, instance=fresh)["statusCode"] == 200
    roles_created = aliyun_emulator.requests.counts().get("CreateRole", 0)
    again = app.owner_onboard(_signed(webhook, approval, now + timedelta(seconds=5)), None, instance=stale)

    assert again["statusCode"] == 200
    assert json.loads(again["body"])["status"] == "stale"  # the tombstone is recognised ...
    assert aliyun_emulator.requests.counts().get("CreateRole", 0) == roles_created  # ... so nothing, not for a moment
    ram = stale.deps(None).cloud.ram
    assert ram.list_roles(g.managed_filter(g.KIND_ROLE)) == []
    [tombstone] = ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))
    assert g.is_sealed(tombstone.tags, tombstone.name, SealKeys(first))
