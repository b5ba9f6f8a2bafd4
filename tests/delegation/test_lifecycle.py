"""The whole grant lifecycle across both accounts, through the official SDKs against the emulator."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, PROD_RESOURCE_GROUP_ID
from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.audit import AUDIT_LOGGER, AuditLog
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.errors import AccessDeniedError, NotFoundError

ROLE = "rd-ops-1234"
VERIFIER_ROLE = "ram-delegate-verifier"  # the role the verify_as_function fixture installs
ROLE_ARN = f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE}"
ACCESS = "rd-access-ops-1234"
ASSUME = f"rd-assume-{ENTERPRISE_A_UID}-ops-1234"
RESULTS = ("ok", "already-absent", "already-present")
RECORDED = (
    g.TAG_MANAGED_BY, g.TAG_TICKET, g.TAG_PARTNER_ACCOUNT, g.TAG_PARTNER_USER, g.TAG_PROFILE, g.TAG_EXPIRES_AT,
    g.TAG_EVENT_TIME,
)  # fmt: skip


def tags_of(root: Any, resource_type: str, name: str) -> dict[str, str]:
    from alibabacloud_ram20150501 import models

    request = models.ListTagResourcesRequest(resource_type=resource_type, resource_names=[name])
    return {t.tag_key: t.tag_value for t in root.list_tag_resources(request).body.tag_resources or []}


def alice_key(partner_root: Any) -> Credentials:
    """An AccessKey for alice created by the TEST as B's administrator (the tool never creates keys)."""
    from alibabacloud_ram20150501 import models

    body = partner_root.create_access_key(models.CreateAccessKeyRequest(user_name="alice")).body
    return Credentials(body.access_key.access_key_id, body.access_key.access_key_secret)


def alice_view(deps: Any, key: Credentials, external_id: str, *, resource_group_id: str | None = None) -> list[str]:
    """What alice sees: assume the grant role with the ExternalId, then list A's load balancers in cn-hangzhou."""
    cloud = CloudClients(deps.settings, key, retry=deps.cloud.retry)
    session = cloud.sts.assume_role(ROLE_ARN, "alice-ops-1234", external_id=external_id, duration_seconds=900)
    balancers = cloud.with_credentials(session.credentials).slb("cn-hangzhou")
    return sorted(lb.id for lb in balancers.describe_load_balancers(resource_group_id=resource_group_id))


def test_grant_is_usable_then_expires_and_both_sweeps_clean_up(
    aliyun_emulator: Any,
    make_owner_deps: Any,
    make_partner_deps: Any,
    verify_as_function: Any,
    approved: Any,
    now: Any,
    partner_root: Any,
    owner_root: Any,
    caplog: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    owner_deps = make_owner_deps(verifier_role=VERIFIER_ROLE)
    partner_deps = make_partner_deps(verifier_role=VERIFIER_ROLE)
    owner_deps.notifier.forward_to = partner_deps
    owner_deps.audit = partner_deps.audit = AuditLog()
    event = approved()
    outcome = owner.handle_approved(event, owner_deps, now=now)
    assert outcome.status == "applied"
    assert [s.action for s in outcome.steps] == ["CreateRole", "CreatePolicy", "AttachPolicyToRole"]
    [partner_outcome] = owner_deps.notifier.partner_outcomes
    assert partner_outcome.status == "applied"

    from alibabacloud_ram20150501 import models

    role = owner_root.get_role(models.GetRoleRequest(role_name=ROLE)).body.role
    trust = json.loads(role.assume_role_policy_document)
    [statement] = trust["Statement"]
    assert sorted(statement["Principal"]["RAM"]) == [
        f"acs:ram::{ENTERPRISE_B_UID}:role/{VERIFIER_ROLE}", f"acs:ram::{ENTERPRISE_B_UID}:user/alice"
    ]  # fmt: skip
    expiry = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert statement["Condition"]["DateLessThan"] == {"acs:CurrentTime": expiry}
    external_id = statement["Condition"]["StringEquals"]["sts:ExternalId"]
    assert len(external_id) >= 24
    assert role.max_session_duration == 3600
    role_tags = tags_of(owner_root, "role", ROLE)
    access_tags = tags_of(owner_root, "policy", ACCESS)
    for tags in (role_tags, access_tags):
        assert {key: tags.get(key) for key in RECORDED} == {
            g.TAG_MANAGED_BY: "ram-delegate",
            g.TAG_TICKET: "OPS-1234",
            g.TAG_PARTNER_ACCOUNT: ENTERPRISE_B_UID,
            g.TAG_PARTNER_USER: "alice",
            g.TAG_PROFILE: "slb-readonly",
            g.TAG_EXPIRES_AT: expiry,
            g.TAG_EVENT_TIME: now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    access_doc = json.loads(
        owner_root.get_policy(
            models.GetPolicyRequest(policy_name=ACCESS, policy_type="Custom")
        ).body.default_policy_version.policy_document
    )
    assert access_doc["Statement"][0]["Condition"] == {"DateLessThan": {"acs:CurrentTime": expiry}}
    [grant] = g.list_owner_grants(owner_deps.cloud, now)
    assert (grant.ticket, grant.partner_account_id, grant.partner_user, grant.state) == (
        "OPS-1234", ENTERPRISE_B_UID, "alice", "active"
    )  # fmt: skip
    [partner_grant] = g.list_partner_grants(partner_deps.cloud, now)
    assert partner_grant.role_arn == ROLE_ARN
    assert partner_grant.external_id == external_id
    user = partner_root.get_user(models.GetUserRequest(user_name="alice")).body.user
    assert user.comments == g.user_marker("alice", partner_deps.settings.seal_keys)
    assert user.comments.startswith(partner.USER_MARKER + " v1.")
    assume_doc = json.loads(
        partner_root.get_policy(
            models.GetPolicyRequest(policy_name=ASSUME, policy_type="Custom")
        ).body.default_policy_version.policy_document
    )
    assert assume_doc["Statement"][0]["Resource"] in (ROLE_ARN, [ROLE_ARN])
    assert assume_doc["Statement"][0]["Condition"] == {"DateLessThan": {"acs:CurrentTime": expiry}}

    key = alice_key(partner_root)
    assert alice_view(partner_deps, key, external_id) == [
        "lb-bp1dflt000000000001", "lb-bp1prod000000000001", "lb-bp1prod000000000002"
    ]  # fmt: skip
    with pytest.raises(AccessDeniedError):
        alice_view(partner_deps, key, "the-wrong-external-id")
    active = verify_as_function(now)
    assert (active.checked, active.ok, active.unexpected_allow, active.unexpected_deny) == (1, 1, 0, 0)

    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.advance(timedelta(days=7, seconds=1).total_seconds())
    later = aliyun_emulator.clock.now()
    with pytest.raises(AccessDeniedError):
        alice_view(partner_deps, key, external_id)  # refused by the expiry conditions, before any sweep
    before_sweeps = verify_as_function(later)
    assert (before_sweeps.checked, before_sweeps.denied_as_expected, before_sweeps.critical) == (1, 1, False)

    owner_report = owner.sweep_owner(owner_deps, now=later)
    assert (owner_report.expired, owner_report.revoked, owner_report.errors) == (1, ("OPS-1234",), ())
    after_owner_sweep = verify_as_function(later)
    assert (after_owner_sweep.checked, after_owner_sweep.denied_as_expected) == (1, 1)
    assert owner_deps.notifier.alerts == []
    partner_root.delete_access_key(
        models.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id)
    )
    partner_report = partner.sweep_partner(partner_deps, now=later)
    assert (partner_report.expired, partner_report.errors) == (1, ())
    assert g.list_owner_grants(owner_deps.cloud, later) == []
    assert g.list_partner_grants(partner_deps.cloud, later) == []
    names = {p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter())}
    assert names == {"rd-tomb-ops-1234"}
    assert {p.name for p in partner_deps.cloud.ram.list_policies(g.managed_filter())} == set()
    counts_before = aliyun_emulator.requests.counts()
    owner.sweep_owner(owner_deps, now=later)
    counts_after = aliyun_emulator.requests.counts()
    made = {k: n - counts_before.get(k, 0) for k, n in counts_after.items() if n != counts_before.get(k, 0)}
    assert made == {"ListRoles": 1, "ListPolicies": 1}  # nothing to do: only the list calls
    with pytest.raises(Exception, match="EntityNotExist"):
        partner_root.get_user(models.GetUserRequest(user_name="alice"))

    # one audit line per change, each naming the event, ticket, action, resource, result and the cloud's request id
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT_LOGGER]
    grant_lines = [line for line in audit if line["event_id"] == event.id and line["resource"].startswith("acs:")]
    assert [line["action"] for line in grant_lines[:3]] == ["CreateRole", "CreatePolicy", "AttachPolicyToRole"]
    assert [line for line in audit if not (line["request_id"] and line["result"] in RESULTS)] == []
    assert grant_lines[0]["resource"] == ROLE_ARN
    # no secret in any log line: keys, tokens, signatures, the ExternalId
    text = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    for secret in (
        external_id,
        key.access_key_secret,
        "secret-a",
        "secret-b",
        owner_deps.settings.partner_signing_secret,
        "SecurityToken",
    ):
        assert secret not in text


def test_revocation_cuts_a_live_session_at_once(
    linked: Any, approved: Any, revoked: Any, now: Any, partner_root: Any, owner_root: Any
) -> None:
    owner_deps, partner_deps = linked
    owner.handle_approved(approved(), owner_deps, now=now)
    external_id = owner_deps.notifier.granted[0].data.external_id
    key = alice_key(partner_root)
    cloud = CloudClients(partner_deps.settings, key, retry=partner_deps.cloud.retry)
    session = cloud.sts.assume_role(ROLE_ARN, "alice-live", external_id=external_id, duration_seconds=900)
    live = cloud.with_credentials(session.credentials).slb("cn-hangzhou")
    assert len(live.describe_load_balancers()) == 3

    outcome = owner.handle_revoked(revoked(), owner_deps, now=now + timedelta(seconds=60))
    assert [s.action for s in outcome.steps] == [
        "DetachPolicyFromRole", "UpdateRole", "DeletePolicy", "CreatePolicy", "DeleteRole"
    ]  # fmt: skip
    with pytest.raises(AccessDeniedError):
        live.describe_load_balancers()
    with pytest.raises((AccessDeniedError, NotFoundError)):  # the role is gone
        cloud.sts.assume_role(ROLE_ARN, "alice-again", external_id=external_id, duration_seconds=900)
    assert g.list_owner_grants(owner_deps.cloud, now) == []


def test_resource_group_scope_through_resource_manager(
    aliyun_emulator: Any, linked: Any, approved: Any, now: Any, partner_root: Any
) -> None:
    owner_deps, partner_deps = linked
    outcome = owner.handle_approved(approved(access__resource_group_id=PROD_RESOURCE_GROUP_ID), owner_deps, now=now)
    assert [s.action for s in outcome.steps] == ["CreateRole", "CreatePolicy", "AttachPolicy"]
    assert aliyun_emulator.requests.counts().get("AttachPolicyToRole", 0) == 0
    external_id = owner_deps.notifier.granted[0].data.external_id
    key = alice_key(partner_root)
    assert alice_view(partner_deps, key, external_id, resource_group_id=PROD_RESOURCE_GROUP_ID) == [
        "lb-bp1prod000000000001", "lb-bp1prod000000000002"
    ]  # fmt: skip
    with pytest.raises(AccessDeniedError):
        alice_view(partner_deps, key, external_id)
