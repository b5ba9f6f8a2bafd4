"""Rotation and revocation on the local stack: two webhook secrets ("new old") and the revocation forwarded to the
partner, the way an operator runs `ram-delegate local` with a rotated secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import local_support
import pytest
from local_support import iso, send_signed

from aliyun_emulator.testing import ram_client
from ram_delegate.grants import KIND_ASSUME, TAG_STATE
from ram_delegate.local.stack import LocalStack
from ram_delegate.webhook import generate_secret

REPO = Path(__file__).resolve().parents[2]
NEW, OLD = generate_secret(), generate_secret()


@pytest.fixture(scope="module")
def rotated() -> Iterator[LocalStack]:
    with LocalStack(template=REPO / "template.yml", env={"RAM_DELEGATE_WEBHOOK_SECRET": f"{NEW} {OLD}"}) as stack:
        yield stack


def assume_policy_states(stack: LocalStack) -> list[str]:
    from alibabacloud_ram20150501 import models

    ram = ram_client(stack.cloud_endpoint, stack.partner.access_key_id, stack.partner.access_key_secret)
    policies = ram.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body.policies
    states = []
    for policy in policies.policy or []:
        if not policy.policy_name.startswith("rd-assume-"):
            continue
        body = ram.list_tag_resources(
            models.ListTagResourcesRequest(resource_type="policy", resource_names=[policy.policy_name])
        ).body
        tags = {t.tag_key: t.tag_value for t in body.tag_resources or []}
        assert tags.get("ram-delegate:kind") == KIND_ASSUME
        states.append(tags.get(TAG_STATE, ""))
    return states


def test_two_webhook_secrets_grant_and_revoke_through_both_functions(rotated: LocalStack) -> None:
    stack = rotated
    expires = stack.emulator.clock.now() + timedelta(days=1)
    body = local_support.approved_event(stack, "ROT-1", expires_at=expires, user="alice")
    status, answer = send_signed(stack, body, OLD)  # a sender still on the previous secret
    assert (status, answer["status"]) == (200, "applied"), answer
    assert assume_policy_states(stack) == ["active"]  # the forward, signed with NEW, reached the partner

    revocation = {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex}",
        "source": "https://tickets.example.com/webhooks",
        "type": "partner.access.revoked",
        "time": iso(stack.emulator.clock.now()),
        "data": {"ticket": "ROT-1", "status": "Closed", "fields": {"anything": ["the", "ticket", "carries"]}},
    }
    status, answer = send_signed(stack, json.dumps(revocation).encode(), NEW)
    assert (status, answer["status"]) == (200, "applied"), answer
    assert assume_policy_states(stack) == ["revoked"]  # the partner recorded the forwarded revocation
