"""``ram-delegate local``: start the stack, print where everything is, and serve until stopped."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ram_delegate.errors import RamDelegateError
from ram_delegate.local.stack import READY_LINE, LocalStack
from ram_delegate.settings import ENV_WEBHOOK_SECRET


def describe(stack: LocalStack) -> list[str]:
    """What ``ram-delegate local`` prints: URLs, accounts (root AccessKeyIds only), the webhook secret."""
    lines = [
        f"emulator (RAM, STS, Resource Manager, SLB, ALB, NLB, ECS): {stack.emulator.url}   "
        f"--endpoint {stack.cloud_endpoint}",
        f'  control: {stack.emulator.url}/_emulator/clock (POST {{"advance_seconds": N}} fires due timers)',
        f"function host: {stack.url}",
        f"  InvokeFunction: POST {stack.url}/2023-03-30/functions/<name>/invocations",
    ]
    for spec in stack.functions:
        side = stack.side_of(spec.name)
        if spec.http_triggers:
            methods = ",".join(m for trigger in spec.http_triggers for m in trigger.methods) or "any"
            lines.append(f"  {spec.name:<18} {side:<8} {methods} {stack.function_url(spec.name)}")
            for source in stack.intake_sources(spec.name):
                lines.append(f"  {'':<18} {'intake':<8} POST {stack.function_url(spec.name)}/{source}")
        for timer in spec.timer_triggers:
            state = "" if timer.enabled else " (disabled)"
            lines.append(f"  {spec.name:<18} {side:<8} timer {timer.name} '{timer.cron_expression}'{state}")
    for side, account in (("owner", stack.owner), ("partner", stack.partner)):
        lines.append(
            f"{side} account: {account.alias} uid {account.uid} root AccessKeyId {account.access_key_id}"
            " (secret: in the seed file; local test keys)"
        )
    owner = stack.owner
    for product, instances in (
        ("SLB", owner.load_balancers),
        ("ALB", owner.alb_load_balancers),
        ("NLB", owner.nlb_load_balancers),
        ("ECS", owner.ecs_instances),
    ):
        if instances:
            listed = ", ".join(f"{item.id} ({item.name}, {item.region})" for item in instances)
            lines.append(f"  owner {product}: {listed}")
    origin = "generated" if stack.webhook_secret_generated else "from the environment"
    lines.append(f"webhook secret ({ENV_WEBHOOK_SECRET}, {origin}): {stack.webhook_secret}")
    return lines


def run_local(
    *,
    template: str | Path = "template.yml",
    seed: str | Path | None = None,
    cloud_port: int = 0,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    state_file: str | Path | None = None,
) -> int:
    """``ram-delegate local``: start the stack, print where everything is, serve until SIGINT/SIGTERM (or ``stop``)."""
    stream = out or sys.stdout
    stop_event = stop or threading.Event()
    try:
        stack = LocalStack(
            template=template,
            seed=seed,
            cloud_port=cloud_port,
            port=port,
            env=env,
            real_time_timers=True,
            state_file=state_file,
        ).start()
    except (OSError, ValueError, RamDelegateError) as exc:
        print(f"ram-delegate local: cannot start: {exc}", file=sys.stderr)
        return 1
    previous: dict[int, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, _stopper(stop_event))
        for line in describe(stack):
            print(line, file=stream)
        print(READY_LINE, file=stream, flush=True)
        while not stop_event.wait(0.5):
            pass
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)
        stack.stop()
    print("ram-delegate local stopped", file=stream, flush=True)
    return 0


def _stopper(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    return handle
