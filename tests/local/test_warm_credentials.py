"""A warm function outlives its role's first credentials: each invocation signs with the credentials the platform
handed that invocation, on the python3.12 runtime (environment variables, no ``context.credentials``) and on
python3.10 (``context.credentials``). The local stack renews the role's session on the emulator clock, as FC does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import local_support
import pytest
from local_support import send_signed

from ram_delegate.app import warm_instance
from ram_delegate.cloud import ENV_ACCESS_KEY_ID, ENV_SECURITY_TOKEN
from ram_delegate.fc import resolve_credentials
from ram_delegate.local.fc_context import FcContext, FcContext312
from ram_delegate.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
TWO_HOURS = 2 * 3600


def _template(tmp_path: Path, runtime: str) -> Path:
    text = (REPO / "template.yml").read_text().replace("runtime: python3.12", f"runtime: {runtime}")
    path = tmp_path / "template.yml"
    path.write_text(text)
    (tmp_path / "functions").symlink_to(REPO / "functions")
    return path


@pytest.fixture(params=["python3.12", "python3.10"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(template=_template(tmp_path, request.param), env={}) as running:
        yield running


def _approve(stack: LocalStack, ticket: str) -> tuple[int, dict[str, Any]]:
    body = local_support.approved_event(
        stack, ticket, expires_at=stack.emulator.clock.now() + timedelta(days=2), user="erin"
    )
    return send_signed(stack, body)


def test_a_warm_webhook_function_signs_with_each_invocations_credentials(stack: LocalStack) -> None:
    runtime = stack._runtime_named(local_support.OWNER_ONBOARD)
    assert runtime.instance is not None
    status, body = _approve(stack, "WARM-1")
    assert (status, body["status"]) == (200, "applied")
    first = stack._context(runtime, "probe")
    stack.advance_clock(TWO_HOURS)  # the first session (1 hour) has expired on the emulator clock
    status, body = _approve(stack, "WARM-2")
    assert (status, body["status"]) == (200, "applied"), body
    second = stack._context(runtime, "probe")
    first_key = resolve_credentials({}, first).access_key_id if isinstance(first, FcContext) else None
    second_key = resolve_credentials(runtime.environment, second).access_key_id
    if isinstance(second, FcContext312):
        assert not hasattr(second, "credentials")
        assert runtime.environment[ENV_SECURITY_TOKEN]
    else:
        assert first_key is not None
        assert first_key != second_key
    assert runtime.instance.client_builds == 2  # cold start, then once for the renewed session; settings kept


def test_a_warm_timer_function_runs_after_its_first_credentials_expired(stack: LocalStack) -> None:
    runs = stack.advance_clock(TWO_HOURS + 600)
    expire_runs = [run for run in runs if run.function == "ram-delegate-owner-expire"]
    assert expire_runs
    assert all(run.ok for run in expire_runs), [run.error for run in expire_runs]


def test_credentials_kept_past_their_expiry_are_refused(stack: LocalStack) -> None:
    """The control: an instance that pinned its first credentials would fail as the deployed functions did."""
    runtime = stack._runtime_named(local_support.OWNER_ONBOARD)
    context = stack._context(runtime, "pinned")
    pinned_env = dict(runtime.environment)
    pinned = warm_instance("owner", webhook=True, env=pinned_env)
    pinned.deps(context)
    stack.advance_clock(TWO_HOURS)
    status, _body = _approve(stack, "WARM-3")  # the stack's own instance renews: fine
    assert status == 200
    if isinstance(context, FcContext312):
        assert pinned_env[ENV_ACCESS_KEY_ID] != runtime.environment[ENV_ACCESS_KEY_ID]
    stale = pinned.deps(context)
    from ram_delegate.errors import CloudError

    with pytest.raises(CloudError) as refused:
        stale.cloud.ram.get_role("ram-delegate-owner")
    assert refused.value.cloud_code == "InvalidSecurityToken.Expired"
