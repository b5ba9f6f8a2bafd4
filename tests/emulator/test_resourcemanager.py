"""Resource Manager through the official SDK: resource groups and resource-group-scoped grants."""

from __future__ import annotations

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_resourcemanager20200331 import models as rm_models
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_A_UID, PROD_RESOURCE_GROUP_ID, Signing, ram_client, rm_client

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
TRUST = (
    '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
    ' "Principal": {"RAM": ["acs:ram::2222222222222222:root"]}}]}'
)
ROLE_PRINCIPAL = "viewer@role.enterprise-a.onaliyunservice.com"


def grant(principal: str = ROLE_PRINCIPAL, group: str = PROD_RESOURCE_GROUP_ID) -> dict[str, str]:
    return {
        "resource_group_id": group,
        "policy_type": "System",
        "policy_name": "AliyunSLBReadOnlyAccess",
        "principal_type": "ServiceRole",
        "principal_name": principal,
    }


@pytest.mark.parametrize("signing", ["v3", "v2"])
def test_attach_list_detach_scoped_policy(aliyun_emulator: Emulator, signing: Signing) -> None:
    ram_client(aliyun_emulator, *ROOT_A, signing=signing).create_role(
        ram_models.CreateRoleRequest(role_name="viewer", assume_role_policy_document=TRUST)
    )
    rm = rm_client(aliyun_emulator, *ROOT_A, signing=signing)
    groups = rm.list_resource_groups(rm_models.ListResourceGroupsRequest()).body
    assert groups.total_count == 2
    assert {g.id for g in groups.resource_groups.resource_group} == {"rg-aaaaaaaaaaaaa0", PROD_RESOURCE_GROUP_ID}
    assert all(g.account_id == ENTERPRISE_A_UID for g in groups.resource_groups.resource_group)

    rm.attach_policy(rm_models.AttachPolicyRequest(**grant()))
    with pytest.raises(ClientException) as duplicate:
        rm.attach_policy(rm_models.AttachPolicyRequest(**grant(f"viewer@role.{ENTERPRISE_A_UID}.onaliyunservice.com")))
    assert duplicate.value.code == "EntityAlreadyExists.PolicyAttachment"
    listed = rm.list_policy_attachments(
        rm_models.ListPolicyAttachmentsRequest(resource_group_id=PROD_RESOURCE_GROUP_ID)
    ).body
    assert listed.total_count == 1
    attachment = listed.policy_attachments.policy_attachment[0]
    assert (attachment.principal_name, attachment.principal_type, attachment.policy_name) == (
        ROLE_PRINCIPAL,
        "ServiceRole",
        "AliyunSLBReadOnlyAccess",
    )
    rm.detach_policy(rm_models.DetachPolicyRequest(**grant()))
    assert rm.list_policy_attachments(rm_models.ListPolicyAttachmentsRequest()).body.total_count == 0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"principal_name": "viewer@role.enterprise-b.onaliyunservice.com"}, "InvalidParameter.PrincipalName"),
        ({"principal_name": "nobody@role.enterprise-a.onaliyunservice.com"}, "EntityNotExist.Role"),
        ({"resource_group_id": "rg-doesnotexist1"}, "EntityNotExists.ResourceGroup"),
        ({"principal_type": "IMSGroup"}, "InvalidParameter.PrincipalType"),
        ({"policy_name": "NoSuchPolicy"}, "EntityNotExist.Policy"),
    ],
)
def test_attach_policy_refusals(aliyun_emulator: Emulator, overrides: dict[str, str], code: str) -> None:
    ram_client(aliyun_emulator, *ROOT_A).create_role(
        ram_models.CreateRoleRequest(role_name="viewer", assume_role_policy_document=TRUST)
    )
    rm = rm_client(aliyun_emulator, *ROOT_A)
    with pytest.raises(ClientException) as info:
        rm.attach_policy(rm_models.AttachPolicyRequest(**{**grant(), **overrides}))
    assert info.value.code == code
    assert 400 <= info.value.status_code < 500


def test_deleting_a_role_drops_its_scoped_grants(aliyun_emulator: Emulator) -> None:
    ram = ram_client(aliyun_emulator, *ROOT_A)
    ram.create_role(ram_models.CreateRoleRequest(role_name="viewer", assume_role_policy_document=TRUST))
    rm = rm_client(aliyun_emulator, *ROOT_A)
    rm.attach_policy(rm_models.AttachPolicyRequest(**grant()))
    ram.delete_role(ram_models.DeleteRoleRequest(role_name="viewer"))
    ram.create_role(ram_models.CreateRoleRequest(role_name="viewer", assume_role_policy_document=TRUST))
    assert rm.list_policy_attachments(rm_models.ListPolicyAttachmentsRequest()).body.total_count == 0
