"""What template.yml configures reaches the local stack: ``@every`` timers and ``${env('X')}`` variables."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

from alibabacloud_ram20150501 import models as ram_models
from local_support import approved_event, iso, send_signed

from aliyun_emulator.testing import ram_client
from ram_delegate.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]

EVERY_TEMPLATE = """
edition: 3.0.0
name: every-test
resources:
  tick:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: tick
      runtime: python3.10
      handler: index.handler
      code: ./code
      role: acs:ram::${env('OWNER_ACCOUNT_ID')}:role/ram-delegate-owner
      environmentVariables: {RAM_DELEGATE_SIDE: owner}
      triggers:
        - triggerName: seven
          triggerType: timer
          triggerConfig: {cronExpression: '@every 7m', enable: true, payload: '{"n": 7}'}
"""


def test_an_every_timer_fires_on_its_interval_once_per_move_with_the_timer_event(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.py").write_text(
        "import json\n\ndef handler(event, context):\n    return json.loads(event)\n"
    )
    (tmp_path / "template.yml").write_text(textwrap.dedent(EVERY_TEMPLATE), encoding="utf-8")
    with LocalStack(template=tmp_path / "template.yml", env={}) as stack:
        assert stack.advance_clock(6 * 60) == []
        [first] = stack.advance_clock(20 * 60)  # ticks at 7, 14 and 21 minutes coalesce into the 21st
        [second] = stack.advance_clock(7 * 60)
        assert stack.advance_clock(60) == []

    assert (first.function, first.trigger) == ("tick", "seven")
    assert second.due - first.due == timedelta(minutes=7)
    assert first.result == {"triggerTime": iso(first.due), "triggerName": "seven", "payload": '{"n": 7}'}


def test_template_variables_come_from_the_given_environment() -> None:
    """``RAM_DELEGATE_DRY_RUN: ${env('RAM_DELEGATE_DRY_RUN')}`` set to true: onboarding only plans."""
    with LocalStack(template=REPO / "template.yml", env={"RAM_DELEGATE_DRY_RUN": "true"}) as stack:
        expires_at = stack.emulator.clock.now() + timedelta(days=1)
        status, planned = send_signed(stack, approved_event(stack, "ENV-1", expires_at=expires_at))
        assert status == 200, planned
        ram = ram_client(stack.cloud_endpoint, stack.owner.access_key_id, stack.owner.access_key_secret)
        roles = ram.list_roles(ram_models.ListRolesRequest(max_items=1000))
        names = [role.role_name for role in roles.body.roles.role]

    assert any(step["action"] == "CreateRole" for step in planned["steps"])
    assert not [name for name in names if name.startswith("rd-")]
