"""The whole product on one machine: the emulator, both accounts' function roles, and every function of template.yml.

``LocalStack`` starts, in one process:

1. the emulator (seed: ``default_seed.json`` unless given; the seed's first account is the owner side, its second
   the partner side);
2. each side's function roles, created by ``ram_delegate.bootstrap`` as the account's root, exactly as in the cloud;
3. the local Function Compute host (``host.py``) serving template.yml's functions, and their timer triggers, fired
   on the emulator clock (``advance_clock`` or ``POST /_emulator/clock``).

How a function gets its role's credentials. On Function Compute the service assumes the function's role (trust
principal ``fc.aliyuncs.com``) and hands the STS credentials to the runtime. The emulator has no FC service caller, and
an account's root may not assume roles, so the stack stands in for FC with a RAM user ``rd-local-fc`` per account
(created here, never by the product): it holds one AccessKey, a policy allowing ``sts:AssumeRole`` on that account's
function roles only, and the function roles' trust policies additionally name it. This exists only in the local
stack; deployed roles trust the FC service alone. Each invocation then runs with STS credentials of its own role
(renewed before they expire on the emulator clock, so a long local run rotates them), handed the way the function's
runtime hands them: python3.12 (template.yml's runtime) puts them in the function's environment
(``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``SECURITY_TOKEN``) and its context has no ``credentials``; python3.10
puts them in ``context.credentials``. Each function has its own environment mapping (many functions share this
process, so never ``os.environ``): template.yml's variables, then the local overrides (the emulator endpoint over
http, the account and region, and on the owner side the partner-onboard URL, so one approved event produces both
sides' resources). Each function keeps one ``WarmInstance`` as a deployed instance does: the stack never rebuilds its
dependencies, the app layer does when the credentials change.

Timers: on every clock move (and, with ``real_time_timers``, every second of real time) each enabled timer trigger
whose schedule fell due since the last check runs once, at its latest due time, in time order across triggers
(missed ticks coalesce, as schedulers do after downtime). A move stops the emulator clock at each of those due times
(``EmulatorClock.add_waypoints``), so a timer runs while the cloud reads its due time: an hourly verifier due before
an expiry sees the grant allowed even when the move ends past the expiry. A clock moved backwards fires nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import Seed, SeedAccount, load_seed
from ram_delegate.bootstrap import DEFAULT_VERIFIER_ROLE
from ram_delegate.cloud import ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN
from ram_delegate.errors import ConfigurationError, RamDelegateError
from ram_delegate.instance import WarmInstance
from ram_delegate.intake.config import intake_variables
from ram_delegate.intake.service import ENV_FC_ENDPOINT
from ram_delegate.local.cron import Schedule, parse_schedule
from ram_delegate.local.fc_context import (
    FcContext,
    FcContext312,
    FcCredentials,
    FcFunctionMeta,
    FcFunctionMeta312,
    FcService,
)
from ram_delegate.local.host import FunctionHost, HostServer, LocalFunction
from ram_delegate.local.template import FunctionSpec, Template, load_template
from ram_delegate.settings import (
    ENV_ACCOUNT_ID,
    ENV_ALLOWED_OWNERS,
    ENV_ALLOWED_PARTNERS,
    ENV_ENDPOINT,
    ENV_FC_ACCOUNT_ID,
    ENV_FC_REGION,
    ENV_PARTNER_ENDPOINT,
    ENV_PARTNER_SECRET,
    ENV_PROTOCOL,
    ENV_REGION,
    ENV_SIDE,
    ENV_VERIFIER_ROLE,
    ENV_WEBHOOK_SECRET,
    Settings,
)

logger = logging.getLogger("ram_delegate.local")

Side = Literal["owner", "partner"]
LOCAL_FC_USER = "rd-local-fc"
LOCAL_FC_POLICY = "local-fc-assume-function-roles"
ROLE_SESSION_SECONDS = 3600
CREDENTIAL_RENEW_MARGIN = timedelta(minutes=5)
REAL_TIME_TICK_SECONDS = 1.0
SERVE_POLL_SECONDS = 0.1
READY_LINE = "ram-delegate local ready"
DEFAULT_REGION = "cn-hangzhou"

# template.yml refers to each side's account through these variables (as `s deploy` does with its own env).
ENV_OWNER_ACCOUNT_ID = "OWNER_ACCOUNT_ID"
ENV_PARTNER_ACCOUNT_ID = "PARTNER_ACCOUNT_ID"


@dataclass(frozen=True)
class TimerRun:
    """One timer firing: which function and trigger, the due time it ran at, and its report or error."""

    function: str
    trigger: str
    due: datetime
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Runtime:
    """One served function: its spec, side, account, environment, entry point and current role session."""

    spec: FunctionSpec
    side: Side
    account: SeedAccount
    environment: dict[str, str]
    role_arn: str
    module: ModuleType
    entry: Callable[..., Any] | None
    webhook: bool
    instance: WarmInstance | None = None
    credentials: FcCredentials | None = None
    expires_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Timer:
    function: str
    trigger: str
    payload: str
    schedule: Schedule
    order: int


class LocalStack:
    """The emulator, both sides' function roles and a local FC host in one process; a context manager."""

    def __init__(
        self,
        *,
        template: str | Path = "template.yml",
        seed: Seed | str | Path | None = None,
        cloud_port: int = 0,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        real_time_timers: bool = False,
        state_file: str | Path | None = None,
    ) -> None:
        self._template_path = Path(template)
        self._seed = seed if isinstance(seed, Seed) else load_seed(seed if seed is not None else _default_seed_text())
        if len(self._seed.accounts) < 2:
            raise ValueError("the seed must declare two accounts: the owner side first, then the partner side")
        self._cloud_port = cloud_port
        self._port = port
        self._env = dict(os.environ if env is None else env)
        self._real_time_timers = real_time_timers
        self.owner: SeedAccount = self._seed.accounts[0]
        self.partner: SeedAccount = self._seed.accounts[1]
        self.webhook_secret = self._env.get(ENV_WEBHOOK_SECRET, "").strip() or _generate_secret()
        self.webhook_secret_generated = not self._env.get(ENV_WEBHOOK_SECRET, "").strip()
        # The seal keys of each side's functions (the partner's also decrypts the ExternalIds it keeps).
        self.owner_seal_secret = self._env.get("RAM_DELEGATE_OWNER_SEAL_SECRET", "").strip() or _generate_secret()
        self.partner_seal_secret = self._env.get("RAM_DELEGATE_PARTNER_SEAL_SECRET", "").strip() or _generate_secret()
        # The functions' SDK signs with the host's time while the stack moves the emulator clock (timers, expiry):
        # the local stack opts in to the host clock explicitly.
        # ``state_file`` keeps the cloud and the emulator clock across a restart (``ram-delegate local --state``).
        self.emulator = Emulator(self._seed, port=cloud_port, accept_host_clock=True, state_file=state_file)
        self.timer_runs: list[TimerRun] = []
        self.template: Template | None = None
        self._runtimes: dict[str, _Runtime] = {}
        self._timers: list[_Timer] = []
        self._timer_lock = threading.Lock()
        self._last_timer_check: datetime | None = None
        self._planned: list[tuple[datetime, _Timer]] = []
        self._server: HostServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._local_fc_keys: dict[str, tuple[str, str]] = {}

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Start everything; returns once the host accepts requests and the roles exist."""
        try:
            self.emulator.start()
            host = FunctionHost({}, self._invoke, self.emulator.clock, self.emulator.state.resolve_access_key)
            self._server = HostServer(("127.0.0.1", self._port), host)
            self.template = load_template(self._template_path, self._resolution_env())
            role_arns = self._bootstrap()
            self._runtimes = {spec.name: self._runtime(spec, role_arns) for spec in self.template.functions}
            host.functions = {
                name: LocalFunction(runtime.spec, runtime.account.uid) for name, runtime in self._runtimes.items()
            }
            self._warm_up()
            self._schedule_timers()
            server = self._server
            self._spawn("fc-local-host", lambda: server.serve_forever(poll_interval=SERVE_POLL_SECONDS))
            if self._real_time_timers:
                self._spawn("fc-local-timers", self._tick_real_time)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the host, the timers and the emulator; safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            if any(thread.name == "fc-local-host" for thread in self._threads):
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self.emulator.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- what the stack serves -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The host's base URL, ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("the local stack is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the local stack is not running")
        return self._server.server_port

    @property
    def cloud_endpoint(self) -> str:
        """The emulator's ``127.0.0.1:PORT`` (no scheme), for ``--endpoint`` and SDK configs."""
        return self.emulator.endpoint

    @property
    def functions(self) -> tuple[FunctionSpec, ...]:
        return tuple(runtime.spec for runtime in self._runtimes.values())

    def side_of(self, function: str) -> Side:
        return self._runtime_named(function).side

    def function_url(self, name: str) -> str:
        """The HTTP trigger URL of ``name`` (its functionName)."""
        runtime = self._runtime_named(name)
        if not runtime.spec.http_triggers:
            raise KeyError(f"{name} has no HTTP trigger")
        return f"{self.url}/{runtime.spec.name}"

    def invoke(self, name: str, event: bytes) -> Any:
        """Run a function in-process, as InvokeFunction would (the demo and tests call it directly)."""
        return self._invoke(self._runtime_named(name).spec.name, event, str(uuid.uuid4()))

    def intake_sources(self, name: str) -> list[str]:
        """The intake sources a function serves on its sub-paths (from its intake file)."""
        runtime = self._runtime_named(name)
        deps = runtime.instance.current if runtime.instance is not None else None
        intake = getattr(deps, "intake", None)
        return sorted(intake.adapters) if intake is not None else []

    @property
    def function_host(self) -> FunctionHost:
        """The local FC front door (its asynchronous-invocation retry pause and failures are here)."""
        if self._server is None:
            raise RuntimeError("the local stack is not running")
        return self._server.host

    def wait_async(self, timeout: float = 30.0) -> bool:
        """Wait until no asynchronous invocation runs (the intake worker's jobs); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server is not None and self._server.host.async_idle():
                return True
            time.sleep(0.02)
        return False

    def advance_clock(self, seconds: float) -> list[TimerRun]:
        """Move the emulator clock forward; returns the timer runs that the move fired (in time order)."""
        before = len(self.timer_runs)
        self.emulator.clock.advance(seconds)
        return self.timer_runs[before:]

    # -- start-up ------------------------------------------------------------------------------------------------

    def _resolution_env(self) -> dict[str, str]:
        """What ``${env('X')}`` in template.yml sees: the given environment, the seed's accounts and the secret.

        The accounts always come from the seed (the functions must run where the emulator has them); the region,
        the verifier role and the owner -> partner signing secret get the defaults an operator would export.
        """
        env = dict(self._env)
        env[ENV_WEBHOOK_SECRET] = self.webhook_secret
        env[ENV_OWNER_ACCOUNT_ID] = self.owner.uid
        env[ENV_PARTNER_ACCOUNT_ID] = self.partner.uid
        for name, default in (
            (ENV_REGION, DEFAULT_REGION),
            (ENV_VERIFIER_ROLE, DEFAULT_VERIFIER_ROLE),
            (ENV_PARTNER_SECRET, _generate_secret()),  # its own secret, never the ticketing one
            ("RAM_DELEGATE_OWNER_SEAL_SECRET", self.owner_seal_secret),
            ("RAM_DELEGATE_PARTNER_SEAL_SECRET", self.partner_seal_secret),
            (ENV_ALLOWED_PARTNERS, self.partner.uid),  # each side names the other, as its operator would
            (ENV_ALLOWED_OWNERS, self.owner.uid),
        ):
            if not env.get(name, "").strip():
                env[name] = default
        return env

    def _bootstrap(self) -> dict[tuple[Side, str], str]:
        """Both sides' function roles, as ``ram-delegate bootstrap`` creates them, plus the local FC stand-in."""
        from ram_delegate.bootstrap import bootstrap
        from ram_delegate.cloud import CloudClients, Credentials

        role_arns: dict[tuple[Side, str], str] = {}
        sides: tuple[tuple[Side, SeedAccount], ...] = (("owner", self.owner), ("partner", self.partner))
        for side, account in sides:
            settings = self._bootstrap_settings(side, account)
            root = CloudClients(settings, Credentials(account.access_key_id, account.access_key_secret))
            result = bootstrap(side, root, settings)
            for role in result.roles:
                role_arns[(side, role.name)] = role.arn
            self._local_fc_keys[account.uid] = self._admit_local_fc(account, [role.name for role in result.roles])
        return role_arns

    def _bootstrap_settings(self, side: Side, account: SeedAccount) -> Settings:
        assert self.template is not None
        sample = next((spec for spec in self.template.functions if _side_of(spec) == side), None)
        env = dict(sample.environment) if sample is not None else {}
        env.update(self._local_overrides(side, account, sample))
        return Settings.from_env(env, side=side)

    def _admit_local_fc(self, account: SeedAccount, role_names: list[str]) -> tuple[str, str]:
        """Create ``rd-local-fc`` (local only) and let it, and only it besides FC, assume the function roles."""
        from aliyun_emulator.testing import admit_role_assumer, ram_client

        ram = ram_client(self.emulator.endpoint, account.access_key_id, account.access_key_secret)
        return admit_role_assumer(
            ram,
            account.uid,
            LOCAL_FC_USER,
            role_names,
            policy_name=LOCAL_FC_POLICY,
            description="ram-delegate local stack only: assumes the function roles as Function Compute would",
        )

    def _runtime(self, spec: FunctionSpec, role_arns: Mapping[tuple[Side, str], str]) -> _Runtime:
        side = _side_of(spec)
        account = self.owner if side == "owner" else self.partner
        module = spec.load_module()
        entry, webhook = _app_entry_point(module)
        role_name = (spec.role or "").rsplit("/", 1)[-1]
        role_arn = role_arns.get((side, role_name))
        if role_arn is None:
            known = ", ".join(name for (s, name) in role_arns if s == side)
            raise ValueError(f"{spec.name}: role {spec.role!r} is not one of the {side} side's roles ({known})")
        environment = dict(spec.environment)
        environment.update(self._local_overrides(side, account, spec))
        runtime = _Runtime(spec, side, account, environment, role_arn, module, entry, webhook)
        if entry is not None:
            from ram_delegate.app import warm_instance

            runtime.instance = warm_instance(side, webhook=webhook, env=environment, clock=self.emulator.clock.now)
        return runtime

    def _local_overrides(self, side: Side, account: SeedAccount, spec: FunctionSpec | None) -> dict[str, str]:
        """What makes a deployed function's environment a local one: the emulator, this account, the peer URL."""
        overrides = {
            ENV_SIDE: side,
            ENV_ENDPOINT: self.emulator.endpoint,
            ENV_PROTOCOL: "http",
            ENV_FC_ACCOUNT_ID: account.uid,
            ENV_ACCOUNT_ID: account.uid,
            ENV_FC_REGION: (spec.region if spec is not None and spec.region else DEFAULT_REGION),
            "FC_FUNCTION_NAME": spec.name if spec is not None else "",
        }
        if side == "owner":
            assert self.template is not None
            partner_onboard = next(
                (s for s in self.template.functions if _side_of(s) == "partner" and s.http_triggers), None
            )
            if partner_onboard is not None:
                overrides[ENV_PARTNER_ENDPOINT] = f"{self.url}/{partner_onboard.name}"
            # the intake sources: the file, the variables it names, and this host as the FC API for async jobs
            overrides.update(intake_variables(self._env))
            overrides[ENV_FC_ENDPOINT] = f"127.0.0.1:{self.port}"
        return overrides

    def _warm_up(self) -> None:
        """Assume each role and build each function's Deps now, so a misconfiguration stops the start, not a call."""
        for runtime in self._runtimes.values():
            if runtime.entry is None:
                continue
            assert runtime.instance is not None
            try:
                runtime.instance.deps(self._context(runtime, "warm-up"))
            except RamDelegateError as exc:
                problems = "; ".join(str(problem) for problem in exc.problems)
                detail = f" ({problems})" if problems else ""
                raise ConfigurationError(f"{runtime.spec.name}: {exc.message}{detail}") from None

    def _schedule_timers(self) -> None:
        anchor = self.emulator.clock.now()
        order = 0
        for runtime in self._runtimes.values():
            for trigger in runtime.spec.timer_triggers:
                if not trigger.enabled:
                    continue
                schedule = parse_schedule(trigger.cron_expression, anchor=anchor)
                self._timers.append(_Timer(runtime.spec.name, trigger.name, trigger.payload, schedule, order))
                order += 1
        self._last_timer_check = anchor
        self.emulator.clock.add_waypoints(self._timer_waypoints)
        self.emulator.clock.on_move(self._on_clock_move)

    def _timer_waypoints(self, _old: datetime, new: datetime) -> list[datetime]:
        """Where a clock move must stop: the due time of each run the move brings, so each runs at its instant."""
        with self._timer_lock:
            self._plan_until(new)
            return [when for when, _ in self._planned]

    def _on_clock_move(self, previous: datetime, reached: datetime) -> None:
        if reached < previous:  # moved backwards: nothing fires, the schedule restarts from here
            with self._timer_lock:
                self._last_timer_check, self._planned = reached, []
            return
        self.fire_due_timers(reached)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick_real_time(self) -> None:
        while not self._stopping.wait(REAL_TIME_TICK_SECONDS):
            self.fire_due_timers(self.emulator.clock.now())

    # -- timers --------------------------------------------------------------------------------------------------

    def fire_due_timers(self, now: datetime) -> list[TimerRun]:
        """Run the timers due by ``now``: each once per span of time, at its latest due time, in time order.

        A clock move plans its whole span first (``_timer_waypoints``) and stops at each planned due time, so a
        trigger that fell due several times in one move still runs once.
        """
        with self._timer_lock:
            if self._stopping.is_set():
                return []
            self._plan_until(now)
            ready = [(when, timer) for when, timer in self._planned if when <= now]
            self._planned = self._planned[len(ready) :]
            runs = [self._fire(timer, when) for when, timer in ready]
            self.timer_runs.extend(runs)
            return runs

    def _plan_until(self, until: datetime) -> None:
        """Queue each timer's latest due time in ``(last check, until]`` (caller holds the timer lock)."""
        last = self._last_timer_check
        if last is None or until <= last:
            return
        self._last_timer_check = until
        due = [(timer.schedule.latest_due(last, until), timer) for timer in self._timers]
        planned = [(when, timer) for when, timer in due if when is not None]
        self._planned = sorted([*self._planned, *planned], key=lambda pair: (pair[0], pair[1].order))

    def _fire(self, timer: _Timer, due: datetime) -> TimerRun:
        event = {
            "triggerTime": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "triggerName": timer.trigger,
            "payload": timer.payload,
        }
        try:
            result = self._invoke(timer.function, json.dumps(event).encode("utf-8"), str(uuid.uuid4()))
        except Exception as exc:
            logger.warning(
                "timer %s/%s at %s failed: %s", timer.function, timer.trigger, event["triggerTime"], type(exc).__name__
            )
            return TimerRun(timer.function, timer.trigger, due, error=f"{type(exc).__name__}: {exc}")
        logger.info("timer %s/%s ran at %s", timer.function, timer.trigger, event["triggerTime"])
        return TimerRun(timer.function, timer.trigger, due, result=result)

    # -- invocation ----------------------------------------------------------------------------------------------

    def _invoke(self, name: str, event: bytes, request_id: str) -> Any:
        runtime = self._runtime_named(name)
        context = self._context(runtime, request_id)
        if runtime.entry is None:
            handler: Callable[[bytes, Any], Any] = getattr(runtime.module, runtime.spec.handler_attribute)
            return handler(event, context)
        return runtime.entry(event, context, instance=runtime.instance)

    def _context(self, runtime: _Runtime, request_id: str) -> FcContext | FcContext312:
        """This invocation's context; its credentials where the function's runtime hands them."""
        credentials = self._credentials(runtime)
        spec = runtime.spec
        region = runtime.environment.get(ENV_FC_REGION, "")
        if spec.runtime != "python3.12":
            return FcContext(
                request_id=request_id,
                credentials=credentials,
                function=FcFunctionMeta(spec.name, spec.handler, spec.memory_mb, spec.timeout_seconds),
                service=FcService(name=self.template.name if self.template else "ram-delegate"),
                region=region,
                account_id=runtime.account.uid,
            )
        with runtime.lock:
            runtime.environment[ENV_ACCESS_KEY_ID] = credentials.access_key_id
            runtime.environment[ENV_ACCESS_KEY_SECRET] = credentials.access_key_secret
            runtime.environment[ENV_SECURITY_TOKEN] = credentials.security_token
        return FcContext312(
            request_id=request_id,
            function=FcFunctionMeta312(spec.name, spec.handler, spec.memory_mb, spec.timeout_seconds),
            region=region,
            account_id=runtime.account.uid,
        )

    def _credentials(self, runtime: _Runtime) -> FcCredentials:
        """The function role's STS credentials, assumed as FC would and renewed before they expire."""
        from ram_delegate.cloud import CloudClients, Credentials

        with runtime.lock:
            now = self.emulator.clock.now()
            fresh = runtime.expires_at is not None and now < runtime.expires_at - CREDENTIAL_RENEW_MARGIN
            if runtime.credentials is not None and fresh:
                return runtime.credentials
            key_id, secret = self._local_fc_keys[runtime.account.uid]
            settings = Settings.from_env(runtime.environment, side=runtime.side)
            assumed = CloudClients(settings, Credentials(key_id, secret)).sts.assume_role(
                runtime.role_arn, f"fc-{runtime.spec.name}"[:64], duration_seconds=ROLE_SESSION_SECONDS
            )
            creds = assumed.credentials
            runtime.credentials = FcCredentials(
                creds.access_key_id, creds.access_key_secret, creds.security_token or ""
            )
            runtime.expires_at = assumed.expiration
            return runtime.credentials

    def _runtime_named(self, name: str) -> _Runtime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            runtime = next((r for r in self._runtimes.values() if r.spec.resource == name), None)
        if runtime is None:
            raise KeyError(f"no function {name!r} in {self._template_path}")
        return runtime


def _side_of(spec: FunctionSpec) -> Side:
    """A function's side: its RAM_DELEGATE_SIDE variable, else the ``owner``/``partner`` prefix of its names."""
    declared = spec.environment.get(ENV_SIDE, "").strip()
    if declared in ("owner", "partner"):
        return declared  # type: ignore[return-value]
    for candidate in (spec.access or "", spec.name, spec.resource):
        lowered = candidate.lower()
        if "partner" in lowered:
            return "partner"
        if "owner" in lowered:
            return "owner"
    raise ValueError(f"{spec.name}: cannot tell its side (set {ENV_SIDE} in its environmentVariables)")


def _app_entry_point(module: ModuleType) -> tuple[Callable[..., Any] | None, bool]:
    """The ``ram_delegate.app`` entry point a handler module delegates to (called with ``instance=``), and whether it
    is a webhook; ``None`` for a handler of its own (then called as FC would, with the process environment)."""
    from ram_delegate import app

    webhooks = {app.owner_onboard, app.partner_onboard}
    for entry in (app.owner_onboard, app.owner_expire, app.partner_onboard, app.partner_expire, app.partner_verify):
        if any(value is entry for value in vars(module).values()):
            return entry, entry in webhooks
    return None, False


def _default_seed_text() -> str:
    return resources.files("ram_delegate.local").joinpath("default_seed.json").read_text(encoding="utf-8")


def _generate_secret() -> str:
    from ram_delegate.webhook import generate_secret

    return generate_secret()
