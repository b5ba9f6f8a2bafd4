"""The drift audit heals what RAM cannot prevent, and ``ram-delegate --json audit`` inventories who can get in.

Each part of a live grant is tampered with by hand (as the account's administrator, on the emulator); the owner's
timer (sweep + drift audit) then heals it, or revokes the grant when healing is unsafe, and sends a critical alert
naming the difference.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from alibabacloud_ram20150501 import models
from race_support import run_in_thread

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID
from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.cli import main
from ram_delegate.drift import audit_partner_grants
from ram_delegate.inventory import owner_audit, partner_audit
from ram_delegate.owner.drift import audit_owner_grants
from ram_delegate.policy import load_profiles

THIRD = "3333333333333333"
ROLE = "rd-ops-1234"
ACCESS = "rd-access-ops-1234"
ALERTS = "https://alerts.example.com/hook"
WIDE = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _trust(ram: Any) -> dict[str, Any]:
    role = ram.get_role(models.GetRoleRequest(role_name=ROLE)).body.role
    trust: dict[str, Any] = json.loads(role.assume_role_policy_document)
    return trust


def _set_trust(ram: Any, trust: dict[str, Any]) -> None:
    ram.update_role(models.UpdateRoleRequest(role_name=ROLE, new_assume_role_policy_document=json.dumps(trust)))


def add_principal(ram: Any) -> None:
    trust = _trust(ram)
    trust["Statement"][0]["Principal"]["RAM"].append(f"acs:ram::{THIRD}:root")
    _set_trust(ram, trust)


def drop_expiry(ram: Any) -> None:
    trust = _trust(ram)
    del trust["Statement"][0]["Condition"]["DateLessThan"]
    _set_trust(ram, trust)


def drop_external_id(ram: Any) -> None:
    trust = _trust(ram)
    del trust["Statement"][0]["Condition"]["StringEquals"]
    _set_trust(ram, trust)


def widen_access(ram: Any) -> None:
    ram.create_policy_version(
        models.CreatePolicyVersionRequest(policy_name=ACCESS, policy_document=json.dumps(WIDE), set_as_default=True)
    )


def attach_admin(ram: Any) -> None:
    ram.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(policy_type="System", policy_name="AdministratorAccess", role_name=ROLE)
    )


def detach_access(ram: Any) -> None:
    ram.detach_policy_from_role(
        models.DetachPolicyFromRoleRequest(policy_type="Custom", policy_name=ACCESS, role_name=ROLE)
    )


@pytest.fixture
def granted(make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any) -> tuple[Any, Any]:
    owner_deps = make_owner_deps(alert_webhook=ALERTS)
    partner_deps = make_partner_deps(alert_webhook=ALERTS, allowed_owners=(ENTERPRISE_A_UID,))
    owner_deps.notifier.forward_to = partner_deps
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    assert audit_owner_grants(owner_deps, now=now) == []  # a fresh grant has no drift
    return owner_deps, partner_deps


@pytest.mark.parametrize(
    ("tamper", "difference"),
    [
        pytest.param(add_principal, f"principals added: acs:ram::{THIRD}:root", id="principal-added"),
        pytest.param(drop_expiry, "expiry condition was removed", id="expiry-removed"),
        pytest.param(widen_access, "differs from the profile's rendering", id="statement-widened"),
        pytest.param(attach_admin, "System policy AdministratorAccess attached", id="extra-policy"),
        pytest.param(detach_access, f"{ACCESS} was detached", id="access-detached"),
    ],
)
def test_each_tampered_part_is_healed_and_alerted(
    granted: tuple[Any, Any], owner_root: Any, now: Any, tamper: Callable[[Any], None], difference: str
) -> None:
    owner_deps, _ = granted
    before_trust = _trust(owner_root)
    before_access = owner_root.get_policy(models.GetPolicyRequest(policy_name=ACCESS, policy_type="Custom"))
    tamper(owner_root)
    [finding] = audit_owner_grants(owner_deps, now=now)
    assert (finding.kind, finding.action, finding.severity, finding.managed) == (
        "tampered-grant",
        "healed",
        "critical",
        True,
    )
    assert difference in finding.detail
    [(title, text, critical)] = owner_deps.notifier.alerts
    assert critical
    assert "OPS-1234" in title
    assert difference in text
    assert _trust(owner_root) == before_trust
    after = owner_root.get_policy(models.GetPolicyRequest(policy_name=ACCESS, policy_type="Custom")).body
    assert json.loads(after.default_policy_version.policy_document) == json.loads(
        before_access.body.default_policy_version.policy_document
    )
    attached = owner_root.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name=ROLE)).body
    assert [(p.policy_type, p.policy_name) for p in attached.policies.policy] == [("Custom", ACCESS)]
    assert audit_owner_grants(owner_deps, now=now) == []  # healed for good


def test_with_nothing_drifted_the_audit_costs_two_listings_and_three_reads_per_grant(
    granted: tuple[Any, Any], aliyun_emulator: Any, approved: Any, now: Any
) -> None:
    owner_deps, _ = granted
    second = approved(event_id="evt-approved-0002", ticket="OPS-2")
    assert owner.handle_approved(second, owner_deps, now=now).status == "applied"
    before = dict(aliyun_emulator.requests.counts())
    assert audit_owner_grants(owner_deps, now=now) == []
    after = aliyun_emulator.requests.counts()
    spent = {action: n - before.get(action, 0) for action, n in after.items() if n != before.get(action, 0)}
    assert spent == {"ListRoles": 1, "ListPolicyAttachments": 1, "GetRole": 2, "ListPoliciesForRole": 2, "GetPolicy": 2}


def _attach_through_resource_manager(emulator: Any, group: str, policy_type: str, policy: str) -> None:
    """The account's administrator (or anyone allowed resourcemanager:AttachPolicy) adds a policy to the grant role
    in a resource group, or at account scope with the account id as the group: ListPoliciesForRole does not show it."""
    from alibabacloud_resourcemanager20200331 import models as rm_models

    from aliyun_emulator.testing import rm_client

    rm_client(emulator, "AKIDENTERPRISEA0000001", "secret-a").attach_policy(
        rm_models.AttachPolicyRequest(
            resource_group_id=group,
            policy_type=policy_type,
            policy_name=policy,
            principal_type="ServiceRole",
            principal_name=g.role_principal_name(ROLE, ENTERPRISE_A_UID),
        )
    )


def test_a_policy_added_to_the_role_in_a_resource_group_is_detached_and_alerted(
    granted: tuple[Any, Any], aliyun_emulator: Any, now: Any
) -> None:
    from aliyun_emulator.testing import PROD_RESOURCE_GROUP_ID

    owner_deps, _ = granted
    _attach_through_resource_manager(aliyun_emulator, PROD_RESOURCE_GROUP_ID, "System", "AdministratorAccess")

    [finding] = audit_owner_grants(owner_deps, now=now)

    assert (finding.kind, finding.action, finding.severity) == ("tampered-grant", "healed", "critical")
    assert f"AdministratorAccess attached to the role in resource group {PROD_RESOURCE_GROUP_ID}" in finding.detail
    assert f"System:AdministratorAccess@{PROD_RESOURCE_GROUP_ID}" in finding.policies
    assert "AdministratorAccess" in owner_deps.notifier.alerts[0][1]
    assert audit_owner_grants(owner_deps, now=now) == []  # detached for good: the role holds only its own policy
    remaining = owner_deps.cloud.resource_manager.list_service_role_attachments()
    assert [a for a in remaining if g.is_role_principal(a.principal_name, ROLE)] == []


def test_when_resource_manager_cannot_be_listed_the_rest_of_the_audit_still_runs_and_says_so(
    granted: tuple[Any, Any], aliyun_emulator: Any, owner_root: Any, now: Any
) -> None:
    owner_deps, _ = granted
    attach_admin(owner_root)
    aliyun_emulator.faults.add_error(action="ListPolicyAttachments", code="NoPermission", status=403)

    [finding] = audit_owner_grants(owner_deps, now=now)

    assert (finding.action, "System policy AdministratorAccess attached" in finding.detail) == ("healed", True)
    titles = [title for title, _text, _critical in owner_deps.notifier.alerts]
    assert "ram-delegate: drift audit incomplete" in titles
    assert audit_owner_grants(owner_deps, now=now) == []  # listed again on the next run


def test_a_policy_added_to_the_role_at_account_scope_through_resource_manager_revokes_the_grant(
    granted: tuple[Any, Any], aliyun_emulator: Any, owner_root: Any, now: Any
) -> None:
    """The function's role may not detach at account scope (its grants stop at rg-*): the grant is revoked."""
    owner_deps, _ = granted
    _attach_through_resource_manager(aliyun_emulator, ENTERPRISE_A_UID, "System", "AdministratorAccess")

    [finding] = audit_owner_grants(owner_deps, now=now)

    assert (finding.kind, finding.action) == ("tampered-grant", "revoked")
    assert "AdministratorAccess attached to the role at account scope through Resource Manager" in finding.detail
    roles = owner_root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles.role
    assert ROLE not in {r.role_name for r in roles}


def test_a_removed_external_id_cannot_be_healed_so_the_grant_is_revoked(
    granted: tuple[Any, Any], owner_root: Any, now: Any
) -> None:
    owner_deps, _ = granted
    drop_external_id(owner_root)
    [finding] = audit_owner_grants(owner_deps, now=now)
    assert (finding.kind, finding.action, finding.external_id) == ("tampered-grant", "revoked", False)
    assert "ExternalId" in owner_deps.notifier.alerts[0][1]
    roles = owner_root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles.role
    assert ROLE not in {r.role_name for r in roles}


def test_a_dry_run_reports_and_changes_nothing(granted: tuple[Any, Any], owner_root: Any, now: Any) -> None:
    owner_deps, _ = granted
    add_principal(owner_root)
    [finding] = audit_owner_grants(owner_deps, now=now, heal=False)
    assert finding.action == "reported"
    assert f"acs:ram::{THIRD}:root" in finding.principals
    assert f"acs:ram::{THIRD}:root" in _trust(owner_root)["Statement"][0]["Principal"]["RAM"]


def test_the_partner_assume_policy_is_healed_and_foreign_holders_detached(
    granted: tuple[Any, Any], partner_root: Any, now: Any
) -> None:
    _, partner_deps = granted
    [policy] = g.list_partner_grants(partner_deps.cloud, now)
    partner_root.create_policy_version(
        models.CreatePolicyVersionRequest(
            policy_name=policy.policy_name, policy_document=json.dumps(WIDE), set_as_default=True
        )
    )
    partner_root.create_user(models.CreateUserRequest(user_name="mallory"))
    partner_root.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy.policy_name, user_name="mallory")
    )
    [finding] = audit_partner_grants(partner_deps, now=now)
    assert (finding.kind, finding.action) == ("tampered-grant", "healed")
    assert "mallory" in finding.detail
    held = partner_root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="mallory")).body
    assert held.policies.policy == []
    assert audit_partner_grants(partner_deps, now=now) == []


def _run_audit(stack_env: dict[str, str], *argv: str) -> tuple[int, dict[str, Any]]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["--json", *argv], env=stack_env, stdout=stdout, stderr=stderr)
    return code, json.loads(stdout.getvalue())


def test_audit_json_lists_an_unmanaged_role_trusting_another_root_and_a_widened_grant(
    granted: tuple[Any, Any], owner_root: Any, aliyun_emulator: Any, now: Any
) -> None:
    owner_deps, _ = granted
    trust = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{THIRD}:root"]}}
        ],
    }
    owner_root.create_role(
        models.CreateRoleRequest(role_name="vendor-admin", assume_role_policy_document=json.dumps(trust))
    )
    owner_root.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AdministratorAccess", role_name="vendor-admin"
        )
    )
    widen_access(owner_root)
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "AKIDENTERPRISEA0000001",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret-a",
        "RAM_DELEGATE_ACCOUNT_ID": ENTERPRISE_A_UID,
        "RAM_DELEGATE_SEAL_SECRET": owner_deps.settings.seal_secret,
        "RAM_DELEGATE_VERIFIER_ROLE": "",
    }
    code, document = _run_audit(env, "--endpoint", aliyun_emulator.endpoint.removeprefix("http://"), "audit")
    assert code == 1
    by_resource = {f["resource"]: f for f in document["findings"]}
    vendor = by_resource[f"acs:ram::{ENTERPRISE_A_UID}:role/vendor-admin"]
    assert vendor == {
        "kind": "external-trust",
        "resource": f"acs:ram::{ENTERPRISE_A_UID}:role/vendor-admin",
        "managed": False,
        "principals": [f"acs:ram::{THIRD}:root"],
        "external_id": False,
        "expiry": None,
        "policies": ["System:AdministratorAccess"],
        "severity": "critical",
        "action": "reported",
    }
    grant = by_resource[f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE}"]
    assert (grant["kind"], grant["managed"], grant["action"], grant["severity"]) == (
        "tampered-grant",
        True,
        "healed",
        "critical",
    )
    assert grant["external_id"] is True
    assert grant["expiry"] is not None
    assert document["summary"]["by_severity"]["critical"] == 2
    assert document["summary"]["healed"] == 1
    # Healed: a second audit sees the grant as the exact grant it is, and still the vendor's role.
    code, again = _run_audit(env, "--endpoint", aliyun_emulator.endpoint.removeprefix("http://"), "audit")
    kinds = {f["resource"]: (f["kind"], f["severity"]) for f in again["findings"]}
    assert kinds[f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE}"] == ("external-trust", "low")
    assert code == 1
    # The text form is a table, worst first.
    stdout = io.StringIO()
    endpoint = aliyun_emulator.endpoint.removeprefix("http://")
    code = main(["--endpoint", endpoint, "audit", "--dry-run"], env=env, stdout=stdout, stderr=io.StringIO())
    lines = stdout.getvalue().splitlines()
    assert code == 1
    assert lines[0].split()[:3] == ["SEVERITY", "KIND", "RESOURCE"]
    assert lines[2].startswith("critical")
    assert "vendor-admin" in lines[2]


def test_audit_exits_zero_when_only_exact_grants_let_anyone_in(granted: tuple[Any, Any], now: Any) -> None:
    owner_deps, _ = granted
    report = owner_audit(owner_deps, now=now)
    assert not report.failed
    [finding] = report.findings
    assert (finding.kind, finding.managed, finding.severity, finding.external_id) == (
        "external-trust",
        True,
        "low",
        True,
    )
    assert finding.principals == (f"acs:ram::{ENTERPRISE_B_UID}:user/alice",)


def test_partner_audit_lists_a_policy_like_ours_that_allows_more_and_who_holds_it(
    granted: tuple[Any, Any], partner_root: Any, now: Any
) -> None:
    _, partner_deps = granted
    partner_root.create_policy(models.CreatePolicyRequest(policy_name="rd-helper", policy_document=json.dumps(WIDE)))
    partner_root.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_type="Custom", policy_name="rd-helper", user_name="alice")
    )
    report = partner_audit(partner_deps, now=now)
    assert report.failed
    [finding] = [f for f in report.findings if f.resource.endswith("policy/rd-helper")]
    assert (finding.managed, finding.severity, finding.action) == (False, "critical", "reported")
    assert finding.principals == (f"acs:ram::{ENTERPRISE_B_UID}:user/alice",)
    held = partner_root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="alice")).body
    assert "rd-helper" in {p.policy_name for p in held.policies.policy}  # reported, never changed
    assert partner.sweep_partner(partner_deps, now=now).errors == ()


def test_a_group_scoped_grant_detached_from_its_group_is_reattached(
    make_owner_deps: Any, aliyun_emulator: Any, approved: Any, now: Any
) -> None:
    from alibabacloud_resourcemanager20200331 import models as rm_models

    from aliyun_emulator.testing import PROD_RESOURCE_GROUP_ID, rm_client

    owner_deps = make_owner_deps(alert_webhook=ALERTS)
    scoped = approved(access__resource_group_id=PROD_RESOURCE_GROUP_ID)
    assert owner.handle_approved(scoped, owner_deps, now=now).status == "applied"
    before = aliyun_emulator.requests.counts().get("ListPolicyAttachments", 0)
    assert audit_owner_grants(owner_deps, now=now) == []
    # The account-wide listing also shows the grant's own attachment: its group is not listed a second time.
    assert aliyun_emulator.requests.counts()["ListPolicyAttachments"] == before + 1
    root = rm_client(aliyun_emulator, "AKIDENTERPRISEA0000001", "secret-a")
    root.detach_policy(
        rm_models.DetachPolicyRequest(
            resource_group_id=PROD_RESOURCE_GROUP_ID,
            policy_type="Custom",
            policy_name=ACCESS,
            principal_type="ServiceRole",
            principal_name=g.role_principal_name(ROLE, ENTERPRISE_A_UID),
        )
    )
    [finding] = audit_owner_grants(owner_deps, now=now)
    assert finding.action == "healed"
    assert f"detached from resource group {PROD_RESOURCE_GROUP_ID}" in finding.detail
    assert audit_owner_grants(owner_deps, now=now) == []


def test_a_widened_verifier_policy_is_healed(
    make_owner_deps: Any, make_partner_deps: Any, partner_root: Any, approved: Any, now: Any
) -> None:
    owner_deps = make_owner_deps(verifier_role="ram-delegate-verifier")
    partner_deps = make_partner_deps(verifier_role="ram-delegate-verifier", alert_webhook=ALERTS)
    owner_deps.notifier.forward_to = partner_deps
    partner_root.create_role(
        models.CreateRoleRequest(
            role_name="ram-delegate-verifier",
            assume_role_policy_document=json.dumps(
                {
                    "Version": "1",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["fc.aliyuncs.com"]}}
                    ],
                }
            ),
        )
    )
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    verify_policy = g.verifier_policy_name(ENTERPRISE_A_UID)
    assert audit_partner_grants(partner_deps, now=now) == []
    partner_root.create_policy_version(
        models.CreatePolicyVersionRequest(
            policy_name=verify_policy, policy_document=json.dumps(WIDE), set_as_default=True
        )
    )
    [finding] = audit_partner_grants(partner_deps, now=now)
    assert (finding.kind, finding.action, finding.severity) == ("tampered-grant", "healed", "critical")
    assert partner_deps.notifier.alerts
    document = partner_root.get_policy(models.GetPolicyRequest(policy_name=verify_policy, policy_type="Custom")).body
    statement = json.loads(document.default_policy_version.policy_document)["Statement"][0]
    assert statement["Action"] == "sts:AssumeRole"
    assert audit_partner_grants(partner_deps, now=now) == []


def test_a_missing_access_policy_is_reported_never_revoked(granted: tuple[Any, Any], owner_root: Any, now: Any) -> None:
    """An approval between CreateRole and CreatePolicy looks like this: the audit must not revoke it."""
    owner_deps, _ = granted
    detach_access(owner_root)
    owner_root.delete_policy(models.DeletePolicyRequest(policy_name=ACCESS))
    [finding] = audit_owner_grants(owner_deps, now=now)
    assert (finding.kind, finding.action, finding.severity) == ("orphan", "reported", "medium")
    assert owner_deps.notifier.alerts == []
    assert _trust(owner_root)["Statement"][0]["Effect"] == "Allow"  # the role is still there, untouched


@pytest.mark.parametrize(
    ("principal", "external"),
    [
        (f"acs:ram::{ENTERPRISE_A_UID}:root", False),
        (f"acs:ram::{ENTERPRISE_A_UID}:user/ops", False),
        (ENTERPRISE_A_UID, False),
        (f"acs:ram::{THIRD}:root", True),
        (f"acs:ram::{ENTERPRISE_B_UID}:role/ci", True),
        (THIRD, True),
        ("*", True),
        ("acs:ram::*:root", True),
        ("acs:ram::1111*:root", True),
        ("something-unreadable", True),
    ],
)
def test_a_principal_is_inside_only_when_provably_of_this_account(principal: str, external: bool) -> None:
    from ram_delegate.inventory import is_external

    assert is_external(principal, ENTERPRISE_A_UID) is external


OPERATOR = {"profile": "slb-operator", "region": "cn-hangzhou", "resource_ids": ["lb-bp1prod000000000001"]}


@pytest.fixture
def scoped(make_owner_deps: Any, approved: Any, now: Any) -> Any:
    """A grant on one named load balancer (the slb-operator profile requires the instances)."""
    owner_deps = make_owner_deps(alert_webhook=ALERTS)
    assert owner.handle_approved(approved(access=OPERATOR), owner_deps, now=now).status == "applied"
    return owner_deps


def test_an_instance_scoped_grant_is_audited_not_refused(scoped: Any, now: Any) -> None:
    """Its instances render its access policy again, so a clean audit finds nothing (it used to stop the whole audit
    with a refusal: the profile requires instances, and none were passed)."""
    assert audit_owner_grants(scoped, now=now) == []


def _access_document(ram: Any) -> dict[str, Any]:
    body = ram.get_policy(models.GetPolicyRequest(policy_name=ACCESS, policy_type="Custom")).body
    document: dict[str, Any] = json.loads(body.default_policy_version.policy_document)
    return document


def _tag_instances(ram: Any, value: str) -> None:
    tag = [models.TagResourcesRequestTag(key=g.TAG_RESOURCE_IDS, value=value)]
    ram.tag_resources(models.TagResourcesRequest(resource_type="role", resource_names=[ROLE], tag=tag))


def _instance_statement(document: dict[str, Any]) -> dict[str, Any]:
    return next(st for st in document["Statement"] if "loadbalancer/" in json.dumps(st["Resource"]))


@pytest.mark.parametrize(
    "record",
    [
        pytest.param("lb-bp1prod000000000001,lb-bp1prod000000000002", id="record-widened"),
        pytest.param(None, id="record-removed"),
        pytest.param("lb-bp1prod000000000002", id="record-disjoint"),  # also a renewal between its two writes
    ],
)
def test_an_edited_instance_record_never_widens_the_grant(
    scoped: Any, owner_root: Any, aliyun_emulator: Any, now: Any, record: str | None
) -> None:
    """The instance list is a tag outside the seal: whatever it says, the audit renders no instance the access
    policy does not already name, and revokes nothing for it."""
    before = _access_document(owner_root)
    if record is None:
        owner_root.untag_resources(
            models.UntagResourcesRequest(resource_type="role", resource_names=[ROLE], tag_keys=[g.TAG_RESOURCE_IDS])
        )
    else:
        _tag_instances(owner_root, record)
    versions = aliyun_emulator.requests.counts().get("CreatePolicyVersion", 0)

    findings = audit_owner_grants(scoped, now=now)

    assert [f.action for f in findings] == ([] if record is None else ["reported"])  # never a heal toward the record
    assert aliyun_emulator.requests.counts().get("CreatePolicyVersion", 0) == versions
    assert _access_document(owner_root) == before
    assert any(r.role_name == ROLE for r in owner_root.list_roles(models.ListRolesRequest()).body.roles.role)


@pytest.mark.parametrize(
    "widen",
    [
        pytest.param(
            lambda st: st.update(Resource=[st["Resource"], st["Resource"].replace("01", "02")]), id="one-more"
        ),
        pytest.param(lambda st: st.update(Resource=st["Resource"].rsplit("/", 1)[0] + "/*"), id="every-instance"),
    ],
)
def test_a_widened_instance_scoped_access_policy_is_healed_back_to_its_instances(
    scoped: Any, owner_root: Any, now: Any, widen: Callable[[dict[str, Any]], None]
) -> None:
    before = _access_document(owner_root)
    edited = json.loads(json.dumps(before))
    widen(_instance_statement(edited))
    owner_root.create_policy_version(
        models.CreatePolicyVersionRequest(policy_name=ACCESS, policy_document=json.dumps(edited), set_as_default=True)
    )

    [finding] = audit_owner_grants(scoped, now=now)

    assert finding.action == "healed"
    assert _access_document(owner_root) == before


def test_an_instance_scoped_access_policy_naming_none_of_its_instances_revokes_the_grant(
    scoped: Any, owner_root: Any, now: Any
) -> None:
    """Nothing authentic says which instances it had (the record is unsealed): less access, never a guess."""
    widen_access(owner_root)  # Action * on Resource *: no instance statement at all
    [finding] = audit_owner_grants(scoped, now=now)
    assert finding.action == "revoked"
    assert not any(r.role_name == ROLE for r in owner_root.list_roles(models.ListRolesRequest()).body.roles.role)


def test_a_forged_instance_digest_does_not_hide_a_widened_read_only_grant(
    granted: tuple[Any, Any], owner_root: Any, now: Any
) -> None:
    """A profile without instance scoping ignores an instance record: forging one (a digest) switches nothing off."""
    owner_deps, _ = granted
    _tag_instances(owner_root, "sha256:" + "0" * 32)
    widen_access(owner_root)
    [finding] = audit_owner_grants(owner_deps, now=now)
    assert finding.action == "healed"


MANY = [f"lb-bp1many{n:012d}" for n in range(7)]  # too long for one tag: recorded as a digest


def test_a_digest_recorded_grant_is_checked_against_its_digest(
    make_owner_deps: Any, approved: Any, owner_root: Any, now: Any
) -> None:
    owner_deps = make_owner_deps(alert_webhook=ALERTS)
    access = {**OPERATOR, "resource_ids": MANY}
    assert owner.handle_approved(approved(access=access), owner_deps, now=now).status == "applied"
    assert audit_owner_grants(owner_deps, now=now) == []  # its own instances match the digest
    edited = _access_document(owner_root)
    statement = _instance_statement(edited)
    statement["Resource"] = [*statement["Resource"], statement["Resource"][0].replace("many", "evil")]
    owner_root.create_policy_version(
        models.CreatePolicyVersionRequest(policy_name=ACCESS, policy_document=json.dumps(edited), set_as_default=True)
    )

    [finding] = audit_owner_grants(owner_deps, now=now)

    assert (finding.action, finding.severity) == ("reported", "critical")
    assert "differ from the recorded digest" in finding.detail
    assert owner_deps.notifier.alerts


def test_only_the_instance_statement_says_which_instances_a_grant_has(
    make_owner_deps: Any, approved: Any, owner_root: Any, aliyun_emulator: Any, now: Any, tmp_path: Any
) -> None:
    """A profile whose region-wide statement covers ``instance/*`` (describe) beside instance actions on named ones:
    that statement is not read as "every instance", so a record edited to name another instance widens nothing."""
    profiles = {
        "profiles": {
            "ecs-restarter": {
                "description": "describe every instance, stop and start the named ones",
                "actions": ["ecs:DescribeInstances"],
                "resource_template": "acs:ecs:{region}:{account_id}:instance/*",
                "instances": {
                    "arn_template": "acs:ecs:{region}:{account_id}:instance/{id}",
                    "id_pattern": "i-[a-z0-9]{4,30}",
                    "actions": ["ecs:StopInstance", "ecs:StartInstance"],
                },
                "scoping": {"resource_ids": "require", "resource_group": "accept"},
                "probes": {"positive": {"call": "ecs:DescribeInstances"}},
            }
        }
    }
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(profiles))
    owner_deps = make_owner_deps(alert_webhook=ALERTS, profiles_file=str(path))
    owner_deps.profiles = load_profiles(str(path))
    access = {"profile": "ecs-restarter", "region": "cn-hangzhou", "resource_ids": ["i-legit0001"]}
    assert owner.handle_approved(approved(access=access), owner_deps, now=now).status == "applied"
    before = _access_document(owner_root)
    _tag_instances(owner_root, "i-legit0001,i-victim0002")

    findings = audit_owner_grants(owner_deps, now=now)

    assert [f.action for f in findings] == ["reported"]
    assert _access_document(owner_root) == before
    assert "i-victim0002" not in json.dumps(before)


@pytest.mark.parametrize("after", range(3, 12))
def test_a_forged_record_during_a_renewal_never_widens_the_restored_grant(
    gate: Any, scoped: Any, owner_root: Any, approved: Any, now: Any, after: int
) -> None:
    """The renewal stops after its k-th call; someone allowed only TagResources then dresses the access policy's
    unsealed fields as a newer approval naming one more load balancer. Losing to that "newer" record, the renewal
    restores it, but only with instances an authentic approval named."""
    renewal = approved(access=OPERATOR, at=10, days=8, event_id="evt-approved-0002")
    gate.arm("renewal", after)
    thread, _ = run_in_thread("renewal", lambda: owner.handle_approved(renewal, scoped, now=now))
    gate.paused.wait(10)
    forged = {
        g.TAG_EVENT_ID: "forged",
        g.TAG_EVENT_TIME: g.format_time(renewal.time + timedelta(seconds=5)),
        g.TAG_RESOURCE_IDS: "lb-bp1prod000000000001,lb-bp1prod000000000002",
    }
    tag = [models.TagResourcesRequestTag(key=k, value=v) for k, v in forged.items()]
    owner_root.tag_resources(models.TagResourcesRequest(resource_type="policy", resource_names=[ACCESS], tag=tag))
    gate.release.set()
    thread.join(30)

    assert "lb-bp1prod000000000002" not in json.dumps(_access_document(owner_root))
