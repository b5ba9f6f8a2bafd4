"""``ram-delegate demo``: the whole lifecycle on an in-process local stack, told step by step and checked.

Each step states what it expects and checks it against the emulated cloud, read back through the official SDKs;
the summary lists PASS/FAIL per step and the exit code is 1 if any step misbehaved. The one thing the demo does that
ram-delegate never does: as account B's root it creates a test AccessKey for the partner user, to play the partner
engineer (and deletes it again before the sweeps).

The expiry is placed one minute after a five-minute timer boundary. The clock moves once, to 30 s past the expiry:
it stops at each timer's due time on the way, so the hourly verifier runs while the grant is still active and the
expiry sweeps last run a minute before the expiry; the refusal is shown before any sweep could act. The next move
(five minutes) fires the expiry sweeps on both sides.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ram_delegate.cli_common import FUNCTION_NAMES, json_or_text, post, timer_event
from ram_delegate.cli_output import Output, format_time, render_table, to_jsonable
from ram_delegate.errors import RamDelegateError

if TYPE_CHECKING:
    from aliyun_emulator.seed import SeedAccount
    from ram_delegate.cloud import CloudClients
    from ram_delegate.local.stack import LocalStack, TimerRun

TICKET = "CHG-2042"
PARTNER_USER = "partner-engineer"
PROFILE = "slb-readonly"
REGION = "cn-hangzhou"
TIMER_PERIOD_SECONDS = 300  # owner-expire and partner-expire run every five minutes (template.yml)
GRANT_LENGTH = timedelta(hours=2)


@dataclass
class StepRecord:
    number: int
    title: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(ok for _, ok in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "result": "PASS" if self.passed else "FAIL",
            "checks": [{"expectation": text, "ok": ok} for text, ok in self.checks],
            "facts": to_jsonable(self.facts),
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


class Story:
    """Numbered steps with expectations; a step that raises fails, and the steps after it are not run."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.steps: list[StepRecord] = []
        self.broken = False

    @contextmanager
    def step(self, title: str) -> Iterator[StepRecord]:
        record = StepRecord(len(self.steps) + 1, title)
        self.steps.append(record)
        self.out.line()
        self.out.line(f"== {record.number}. {title} ==")
        started = time.monotonic()
        if self.broken:
            record.error = "not run: an earlier step failed"
            self.out.line(f"   skipped ({record.error})")
            yield record
            return
        try:
            yield record
        except Exception as exc:  # a demo step that crashes is a FAIL with its reason, not a traceback
            record.error = f"{type(exc).__name__}: {_describe(exc)}"
            self.out.line(f"   !! {record.error}")
            self.broken = True
        record.seconds = time.monotonic() - started

    def expect(self, record: StepRecord, ok: bool, expectation: str) -> None:
        record.checks.append((expectation, ok))
        self.out.line(f"   [{'ok' if ok else 'FAIL'}] {expectation}")

    def say(self, text: str) -> None:
        self.out.line(f"   {text}")


class DemoError(Exception):
    """A step could not even get to its check."""


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"{code}: {message}" if code else message


def function_named(stack: LocalStack, role: str) -> str:
    """The template's functionName for a role such as ``owner-onboard`` (names may carry a project prefix)."""
    names = [spec.name for spec in stack.functions]
    for name in names:
        if name == role or name.endswith(f"-{role}"):
            return name
    raise DemoError(f"template.yml has no {role} function (functions: {', '.join(names)})")


def mask(secret: str) -> str:
    """Enough of an ExternalId to recognise it, never enough to use it."""
    return f"{secret[:4]}…({len(secret)} chars)" if len(secret) > 4 else "…"


def expiry_after(now: datetime, length: timedelta) -> datetime:
    """A whole minute one minute past the first five-minute boundary at or after ``now + length``."""
    target = (now + length).replace(second=0, microsecond=0)
    boundary_minute = -(-target.minute // 5) * 5
    boundary = target.replace(minute=0) + timedelta(minutes=boundary_minute)
    return boundary + timedelta(minutes=1)


def run_demo(out: Output, *, template: str = "template.yml") -> int:
    """Tell the lifecycle; 0 when every step met its expectations, else 1."""
    from ram_delegate.local.stack import LocalStack

    story = Story(out)
    started = time.monotonic()
    out.line("ram-delegate demo: one partner grant from approval to clean-up, on a local emulated cloud")
    try:
        stack = LocalStack(template=template).start()
    except (OSError, ValueError, RamDelegateError) as exc:  # e.g. a template the local host cannot serve
        out.error(f"ram-delegate demo: cannot start the local stack: {exc}")
        out.document({"passed": False, "seconds": round(time.monotonic() - started, 3), "steps": [], "error": str(exc)})
        return 1
    try:
        out.line(f"   owner  (account A): {stack.owner.alias} {stack.owner.uid}")
        out.line(f"   partner (account B): {stack.partner.alias} {stack.partner.uid}")
        out.line(f"   functions at {stack.url}, emulated cloud at {stack.cloud_endpoint}")
        _Demo(stack, story).run()
    finally:
        stack.stop()
    elapsed = time.monotonic() - started
    passed = all(step.passed for step in story.steps)
    out.line()
    out.line("== Summary ==")
    rows = [{"step": f"{s.number}. {s.title}", "result": "PASS" if s.passed else "FAIL"} for s in story.steps]
    out.line(render_table(rows, (("step", "STEP"), ("result", "RESULT"))))
    out.line(
        f"{'PASS' if passed else 'FAIL'}: {sum(s.passed for s in story.steps)}/{len(story.steps)} steps in "
        f"{elapsed:.1f}s"
    )
    out.document({"passed": passed, "seconds": round(elapsed, 3), "steps": [s.to_dict() for s in story.steps]})
    return 0 if passed else 1


class _Demo:
    """The lifecycle, one method per step; state carried between steps lives on the instance."""

    def __init__(self, stack: LocalStack, story: Story) -> None:
        self.stack = stack
        self.story = story
        self.owner: SeedAccount = stack.owner
        self.partner: SeedAccount = stack.partner
        self.expires_at = expiry_after(stack.emulator.clock.now(), GRANT_LENGTH)
        self.role_arn = ""
        self.role_name = ""
        self.external_id = ""
        self.access_key: tuple[str, str] | None = None
        self.timer_runs: list[TimerRun] = []
        self.after_expiry_report: dict[str, Any] = {}

    def run(self) -> None:
        for title, action in self.steps():
            with self.story.step(title) as record:
                if record.error is None:
                    action(record)

    def steps(self) -> list[tuple[str, Callable[[StepRecord], None]]]:
        return [
            ("The approval arrives", self.approval_arrives),
            ("What was created in each account", self.what_was_created),
            ("The partner engineer lists A's load balancers through the role", self.partner_lists),
            ("A second grant: slb-operator on one named load balancer", self.operator_grant),
            ("The clock moves past the expiry", self.clock_moves),
            ("The refusal, before any sweep", self.refusal),
            ("The sweeps", self.sweeps),
            ("The verifier's report", self.verifier_report),
        ]

    # --- clients -----------------------------------------------------------------------------------------------

    def cloud(self, account: SeedAccount, side: str) -> CloudClients:
        from ram_delegate.cloud import CloudClients, Credentials
        from ram_delegate.settings import Settings

        settings = Settings(
            side="owner" if side == "owner" else "partner",
            account_id=account.uid,
            region=REGION,
            endpoint=self.stack.cloud_endpoint,
            protocol="http",
            seal_secret=self.stack.owner_seal_secret if side == "owner" else self.stack.partner_seal_secret,
        )
        return CloudClients(settings, Credentials(account.access_key_id, account.access_key_secret))

    def ram(self, account: SeedAccount) -> Any:
        from aliyun_emulator.testing import ram_client

        return ram_client(self.stack.cloud_endpoint, account.access_key_id, account.access_key_secret)

    def now(self) -> datetime:
        return self.stack.emulator.clock.now()

    # --- steps -------------------------------------------------------------------------------------------------

    def approval_arrives(self, record: StepRecord) -> None:
        self.story.say(f"ticket {TICKET}: {PROFILE} in {REGION} for {PARTNER_USER}@{self.partner.uid}")
        status = self.send_approval(record, TICKET, {"profile": PROFILE, "region": REGION})
        self.story.expect(record, status == 200, "the owner-onboard function answers 200")

    def send_approval(self, record: StepRecord, ticket: str, access: dict[str, Any]) -> int:
        """POST a signed approval of ``ticket`` for the partner engineer to owner-onboard; tell and record it."""
        from ram_delegate.webhook import sign

        now = self.now()
        event = {
            "specversion": "1.0",
            "id": f"evt-{uuid.uuid4().hex[:12]}",
            "source": "https://tickets.enterprise-a.example/changes",
            "type": "partner.access.approved",
            "time": format_time(now),
            "datacontenttype": "application/json",
            "data": {
                "ticket": ticket,
                "partner": {"name": "Enterprise B", "account_id": self.partner.uid, "user": PARTNER_USER},
                "access": access,
                "expires_at": format_time(self.expires_at),
                "requested_by": "alice@enterprise-a.example",
                "approved_by": "bob@enterprise-a.example",
            },
        }
        body = json.dumps(event).encode()
        url = self.stack.function_url(function_named(self.stack, "owner-onboard"))
        headers = {"content-type": "application/json"}
        headers.update(sign(self.stack.webhook_secret, f"msg_{uuid.uuid4().hex}", int(now.timestamp()), body))
        self.story.say(f"until {format_time(self.expires_at)}; POST signed CloudEvent to {url}")
        status, raw = post(url, body, headers, timeout=30)
        answer = json_or_text(raw)
        record.facts.update({"status": status, "answer": answer, "expires_at": self.expires_at})
        if isinstance(answer, dict) and "steps" in answer:
            self.story.say(f"answer: HTTP {status}, {answer.get('status')}: {len(answer['steps'])} change(s)")
            for change in answer["steps"]:
                self.story.say(f"  - {change.get('action')} {change.get('target')}")
        else:
            self.story.say(f"answer: HTTP {status} {json.dumps(answer)[:200]}")
        return status

    def what_was_created(self, record: StepRecord) -> None:
        from ram_delegate.grants import list_owner_grants, list_partner_grants

        now = self.now()
        owner_grants = [g for g in list_owner_grants(self.cloud(self.owner, "owner"), now) if g.ticket == TICKET]
        self.story.expect(record, len(owner_grants) == 1, "account A holds one managed grant role for the ticket")
        if not owner_grants:
            raise DemoError("no grant role in account A")
        grant = owner_grants[0]
        self.role_name, self.role_arn = grant.role_name, grant.role_arn
        role = self.ram(self.owner).get_role(_ram_models().GetRoleRequest(role_name=grant.role_name)).body.role
        trust = json.loads(role.assume_role_policy_document)
        principals, external_ids, expiries = _trust_conditions(trust)
        access = self._policy_document(self.owner, grant.policy_name)
        self.story.say("account A (owner):")
        self.story.say(f"  role    {grant.role_name}  {grant.role_arn}")
        self.story.say(f"  trusts  {', '.join(principals)}")
        self.story.say(f"  when    sts:ExternalId = {', '.join(mask(x) for x in external_ids)}")
        self.story.say(f"          acs:CurrentTime < {', '.join(expiries)}")
        self.story.say(f"  policy  {grant.policy_name}: {_summarise_policy(access)}")
        user_arn = f"acs:ram::{self.partner.uid}:user/{PARTNER_USER}"
        self.story.expect(record, user_arn in principals, f"the trust policy names the partner user {user_arn}")
        self.story.expect(record, bool(external_ids), "the trust policy requires an ExternalId")
        self.story.expect(record, expiries == [format_time(self.expires_at)], "the trust policy expires with the grant")
        self.story.expect(
            record,
            grant.state == "active" and grant.expires_at == self.expires_at,
            "the role's tags record the grant as active until its expiry",
        )

        partner_grants = [
            g for g in list_partner_grants(self.cloud(self.partner, "partner"), now) if g.ticket == TICKET
        ]
        self.story.expect(record, len(partner_grants) == 1, "account B holds one managed assume policy for the ticket")
        if not partner_grants:
            raise DemoError("no assume policy in account B")
        assume = partner_grants[0]
        self.external_id = assume.external_id
        assume_document = self._policy_document(self.partner, assume.policy_name)
        attached = self.ram(self.partner).list_policies_for_user(
            _ram_models().ListPoliciesForUserRequest(user_name=PARTNER_USER)
        )
        attached_names = [p.policy_name for p in attached.body.policies.policy]
        self.story.say("account B (partner):")
        self.story.say(f"  user    {PARTNER_USER} (created without AccessKey)")
        self.story.say(f"  policy  {assume.policy_name}: {_summarise_policy(assume_document)}")
        self.story.say(f"  attached to {PARTNER_USER}: {', '.join(attached_names)}")
        self.story.expect(record, assume.role_arn == grant.role_arn, "the assume policy allows exactly A's grant role")
        self.story.expect(record, assume.policy_name in attached_names, "the assume policy is attached to the user")
        self.story.expect(record, external_ids == [assume.external_id], "both sides agree on the ExternalId")
        record.facts.update(
            {
                "owner": {
                    "role": grant.role_name,
                    "role_arn": grant.role_arn,
                    "policy": grant.policy_name,
                    "principals": principals,
                    "external_id": [mask(x) for x in external_ids],
                    "expires": expiries,
                },
                "partner": {"user": PARTNER_USER, "policy": assume.policy_name, "attached": attached_names},
            }
        )

    def partner_lists(self, record: StepRecord) -> None:
        models = _ram_models()
        self.story.say(
            f"(demo only) B's root creates a test AccessKey for {PARTNER_USER} to play the partner engineer;"
        )
        self.story.say("ram-delegate itself never creates AccessKeys.")
        key = self.ram(self.partner).create_access_key(models.CreateAccessKeyRequest(user_name=PARTNER_USER))
        self.access_key = (key.body.access_key.access_key_id, key.body.access_key.access_key_secret)
        names = self._list_load_balancers_through_role()
        record.facts["load_balancers"] = names
        self.story.say(f"AssumeRole {self.role_arn} with the ExternalId, then DescribeLoadBalancers in {REGION}:")
        for name in names:
            self.story.say(f"  - {name}")
        expected = sorted(lb.name for lb in self.owner.load_balancers if lb.region == REGION)
        self.story.expect(record, sorted(names) == expected, f"the partner sees A's {len(expected)} {REGION} LBs")

    def operator_grant(self, record: StepRecord) -> None:
        from ram_delegate.demo_operator import operator_grant

        operator_grant(self, record, REGION)

    def clock_moves(self, record: StepRecord) -> None:
        target = self.expires_at + timedelta(seconds=30)
        seconds = (target - self.now()).total_seconds()
        runs = self.stack.advance_clock(seconds)
        self.timer_runs.extend(runs)
        self.story.say(f"the emulator clock moves {seconds / 60:.1f} min to {format_time(self.now())}")
        self.story.say("timers that fell due ran once each, at their latest due time (before the expiry):")
        for line in _timer_lines(runs):
            self.story.say(f"  {line}")
        record.facts["timer_runs"] = [_timer_fact(run) for run in runs]
        still_there = self._role_exists()
        self.story.expect(record, self.now() > self.expires_at, "the clock is past the grant's expiry")
        self.story.expect(record, still_there, "no sweep has run yet: the role still exists")

    def refusal(self, record: StepRecord) -> None:
        try:
            names = self._list_load_balancers_through_role()
        except Exception as exc:  # the refusal is the expected outcome here
            code = str(getattr(exc, "code", type(exc).__name__))
            record.facts["refusal"] = code
            self.story.say(f"AssumeRole refused: {code}")
            self.story.expect(record, code in ("NoPermission", "AccessDenied", "Forbidden.RAM"), "the cloud refuses")
        else:
            record.facts["load_balancers"] = names
            self.story.expect(record, False, "the cloud refuses the expired grant")
        self.story.expect(record, self._role_exists(), "the refusal comes from the expiry condition, not a sweep")
        answer = self.stack.invoke(function_named(self.stack, "partner-verify"), timer_event(self.now(), "demo"))
        self.after_expiry_report = _report_of(answer)
        record.facts["verifier_after_expiry"] = self.after_expiry_report
        self.story.say(f"partner-verify, invoked now: {_report_line(self.after_expiry_report)}")
        self.story.expect(
            record,
            self.after_expiry_report.get("denied_as_expected", 0) >= 1
            and self.after_expiry_report.get("unexpected_allow") == 0,
            "the verifier finds the expired grant denied as expected",
        )

    def sweeps(self, record: StepRecord) -> None:
        if self.access_key is not None:
            self.ram(self.partner).delete_access_key(
                _ram_models().DeleteAccessKeyRequest(user_name=PARTNER_USER, user_access_key_id=self.access_key[0])
            )
            self.story.say(f"(demo only) B's root deletes the test AccessKey of {PARTNER_USER}")
        runs = self.stack.advance_clock(TIMER_PERIOD_SECONDS)
        self.timer_runs.extend(runs)
        self.story.say(f"the clock moves 5 minutes to {format_time(self.now())}; the expiry timers fire:")
        for line in _timer_lines(runs):
            self.story.say(f"  {line}")
        record.facts["timer_runs"] = [_timer_fact(run) for run in runs]
        fired = {_function_of(run) for run in runs}
        self.story.expect(record, {"owner-expire", "partner-expire"} <= fired, "both sides' expiry sweeps ran")
        from ram_delegate.grants import list_owner_grants, list_partner_grants

        now = self.now()
        owner_left = [g for g in list_owner_grants(self.cloud(self.owner, "owner"), now) if g.ticket == TICKET]
        partner_left = [g for g in list_partner_grants(self.cloud(self.partner, "partner"), now) if g.ticket == TICKET]
        self.story.expect(record, not self._role_exists(), f"role {self.role_name} is gone from account A")
        self.story.expect(record, not owner_left, "no grant role for the ticket is left in account A")
        self.story.expect(record, not partner_left, "no assume policy for the ticket is left in account B")

    def verifier_report(self, record: StepRecord) -> None:
        earlier = [run for run in self.timer_runs if _function_of(run) == "partner-verify"]
        for run in earlier:
            report = _report_of(run.result)
            if report:
                self.story.say(f"hourly run at {_trigger_time(run)}: {_report_line(report)}")
        self.story.say(f"after the expiry, before the sweeps: {_report_line(self.after_expiry_report)}")
        answer = self.stack.invoke(function_named(self.stack, "partner-verify"), timer_event(self.now(), "demo"))
        report = _report_of(answer)
        record.facts["report"] = report
        self.story.say(f"after the sweeps, at {format_time(self.now())}: {_report_line(report)}")
        self.story.expect(record, bool(report), "the verifier answers with a report")
        self.story.expect(record, report.get("unexpected_allow") == 0, "no unexpected allow (nothing still open)")
        self.story.expect(record, report.get("errors") == 0 and not report.get("critical"), "no errors, not critical")
        while_active = [_report_of(run.result) for run in earlier]
        self.story.expect(
            record,
            any(r.get("ok", 0) >= 1 for r in while_active),
            "while the grant was active, the hourly verifier found it working",
        )

    # --- helpers -----------------------------------------------------------------------------------------------

    def slb_through_role(self, role_arn: str, external_id: str) -> Any:
        """An SLB client with a session of ``role_arn``, assumed by the partner engineer with the ExternalId."""
        from alibabacloud_sts20150401 import models as sts_models

        from aliyun_emulator.testing import slb_client, sts_client

        if self.access_key is None:
            raise DemoError("the partner engineer has no AccessKey")
        sts = sts_client(self.stack.cloud_endpoint, *self.access_key)
        assumed = sts.assume_role(
            sts_models.AssumeRoleRequest(
                role_arn=role_arn,
                role_session_name="partner-engineer-demo",
                external_id=external_id,
                duration_seconds=900,
            )
        ).body.credentials
        return slb_client(
            self.stack.cloud_endpoint, assumed.access_key_id, assumed.access_key_secret, assumed.security_token
        )

    def _list_load_balancers_through_role(self) -> list[str]:
        from alibabacloud_slb20140515 import models as slb_models

        slb = self.slb_through_role(self.role_arn, self.external_id)
        answer = slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id=REGION))
        balancers = answer.body.load_balancers.load_balancer if answer.body.load_balancers else []
        return [lb.load_balancer_name for lb in balancers or []]

    def _role_exists(self) -> bool:
        try:
            self.ram(self.owner).get_role(_ram_models().GetRoleRequest(role_name=self.role_name))
        except Exception as exc:
            if str(getattr(exc, "code", "")).startswith("EntityNotExist"):
                return False
            raise
        return True

    def _policy_document(self, account: SeedAccount, name: str) -> dict[str, Any]:
        models = _ram_models()
        answer = self.ram(account).get_policy(models.GetPolicyRequest(policy_name=name, policy_type="Custom"))
        document: dict[str, Any] = json.loads(answer.body.default_policy_version.policy_document)
        return document


def _ram_models() -> Any:
    from alibabacloud_ram20150501 import models

    return models


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _trust_conditions(trust: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Principals, ExternalIds and expiry times of the Allow statements of a trust policy."""
    principals: list[str] = []
    external_ids: list[str] = []
    expiries: list[str] = []
    for statement in _as_list(trust.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        for values in (statement.get("Principal") or {}).values():
            principals.extend(str(v) for v in _as_list(values))
        condition = statement.get("Condition") or {}
        for key, value in (condition.get("StringEquals") or {}).items():
            if key.lower() == "sts:externalid":
                external_ids.extend(str(v) for v in _as_list(value))
        for key, value in (condition.get("DateLessThan") or {}).items():
            if key.lower() == "acs:currenttime":
                expiries.extend(str(v) for v in _as_list(value))
    return principals, external_ids, expiries


def _summarise_policy(document: dict[str, Any]) -> str:
    parts = []
    for statement in _as_list(document.get("Statement")):
        actions = ",".join(str(a) for a in _as_list(statement.get("Action")))
        resources = ",".join(str(r) for r in _as_list(statement.get("Resource")))
        condition = statement.get("Condition") or {}
        until = [str(v) for op in ("DateLessThan", "DateLessThanEquals") for v in (condition.get(op) or {}).values()]
        parts.append(f"{statement.get('Effect')} {actions} on {resources}" + (f" until {until[0]}" if until else ""))
    return "; ".join(parts)


def _function_of(run: TimerRun) -> str:
    """The function's role name (``partner-verify``) even when its functionName carries a project prefix."""
    return next((known for known in FUNCTION_NAMES if run.function.endswith(known)), run.function)


def _trigger_time(run: TimerRun) -> str:
    return format_time(run.due)


def _report_of(answer: Any) -> dict[str, Any]:
    """The verification report inside a function's answer (plain dict, or an HTTP-style answer with a body)."""
    if isinstance(answer, (bytes, str)):
        try:
            answer = json.loads(answer)
        except ValueError:
            return {}
    if not isinstance(answer, dict):
        return {}
    if "checked" in answer:
        return answer
    for key in ("report", "body", "result"):
        if key in answer:
            found = _report_of(answer[key])
            if found:
                return found
    return {}


def _report_line(report: dict[str, Any]) -> str:
    if not report:
        return "no report"
    return (
        f"checked {report.get('checked')}: {report.get('ok')} ok, {report.get('denied_as_expected')} denied as "
        f"expected, {report.get('unexpected_allow')} unexpected allow, {report.get('unexpected_deny')} unexpected "
        f"deny, {report.get('errors')} errors"
    )


def _timer_lines(runs: list[TimerRun]) -> list[str]:
    if not runs:
        return ["(none)"]
    lines: list[str] = []
    for run in runs:
        answer = run.result
        lines.append(f"{_trigger_time(run)}  {_function_of(run):<15} {_answer_summary(answer)}")
        if isinstance(answer, dict) and "examined" in answer:
            lines.extend(f"    - {step.get('action')} {step.get('target')}" for step in answer.get("steps") or [])
    return lines


def _timer_fact(run: TimerRun) -> dict[str, Any]:
    return {"function": _function_of(run), "trigger_time": _trigger_time(run), "answer": to_jsonable(run.result)}


def _answer_summary(answer: Any) -> str:
    report = _report_of(answer)
    if report:
        return _report_line(report)
    if isinstance(answer, dict) and "examined" in answer:
        removed = len(answer.get("steps") or [])
        return (
            f"sweep: {answer.get('examined')} examined, {answer.get('expired')} expired, {removed} change(s), "
            f"errors: {len(answer.get('errors') or [])}"
        )
    text = json.dumps(to_jsonable(answer), sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."
