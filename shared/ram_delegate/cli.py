"""``ram-delegate``: run, inspect and trust the delegation from a terminal.

Every command talks to the real cloud by default (credentials from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET /
_SECURITY_TOKEN, region from ALIBABA_CLOUD_REGION_ID, RAM_DELEGATE_REGION or ``--region``) and to a local stack with
``--endpoint HOST:PORT`` (plain http). Exit codes: 0 ok, 1 failed, 2 usage. Output: tables for people, ``--json``
for scripts; quiet by default, ``-v`` for the library's log, ``-vv`` for debug.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ram_delegate.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    FUNCTION_NAMES,
    Invocation,
    UsageError,
    json_or_text,
    post,
    sdk_config,
    timer_event,
)
from ram_delegate.cli_lint import command_lint
from ram_delegate.cli_output import Output, format_time, mask_secret, to_jsonable
from ram_delegate.errors import ConfigurationError, RamDelegateError
from ram_delegate.settings import ENV_WEBHOOK_SECRET, split_list

if TYPE_CHECKING:
    pass

log = logging.getLogger("ram_delegate.cli")


# --- commands -------------------------------------------------------------------------------------------------


def command_demo(run: Invocation) -> int:
    from ram_delegate.demo import run_demo

    return run_demo(run.out, template=run.args.template)


def command_local(run: Invocation) -> int:
    from ram_delegate.local.run import run_local

    return run_local(
        template=run.args.template,
        seed=run.args.seed,
        cloud_port=run.args.cloud_port,
        port=run.args.port,
        state_file=run.args.state,
    )


def command_send(run: Invocation) -> int:
    from ram_delegate.webhook import sign

    if run.args.source:
        return _send_native(run)
    body = _read_event(run.args.event)
    rotation = split_list(run.args.secret or run.env.get(ENV_WEBHOOK_SECRET, ""))
    secret = rotation[0] if rotation else ""  # the current secret signs; the others only verify
    if not secret:
        raise UsageError(f"no signing secret: pass --secret whsec_... or set {ENV_WEBHOOK_SECRET}")
    timestamp = run.args.timestamp if run.args.timestamp is not None else int(time.time())
    message_id = run.args.webhook_id or f"msg_{secrets.token_urlsafe(18)}"
    headers = {"content-type": "application/json", "user-agent": "ram-delegate-cli"}
    try:
        headers.update(sign(secret, message_id, timestamp, body))
    except ValueError as exc:  # a malformed secret or webhook id is the caller's input, not a failure
        raise UsageError(str(exc)) from None
    status, answer = post(run.args.url, body, headers, timeout=run.args.timeout)
    parsed = json_or_text(answer)
    run.out.document({"status": status, "webhook_id": message_id, "body": parsed})
    run.out.line(f"HTTP {status}")
    run.out.line(json.dumps(parsed, indent=2) if not isinstance(parsed, str) else parsed)
    return EXIT_OK if 200 <= status < 300 else EXIT_FAILED


def _send_native(run: Invocation) -> int:
    """``send --source``: a vendor's native payload, signed or encrypted as that vendor does, to ``<url>/<source>``."""
    from urllib.parse import urlencode

    from ram_delegate.intake.senders import native_delivery

    source = run.args.source
    body = _read_event(run.args.event)
    try:
        delivery = native_delivery(
            source, body, run.env, now=run.now(), secret=run.args.secret, delivery_id=run.args.webhook_id
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    url = run.args.url.rstrip("/")
    if not url.endswith("/" + source):
        url += "/" + source
    if delivery.query:
        url += "?" + urlencode(delivery.query)
    headers = {**delivery.headers, "user-agent": "ram-delegate-cli"}
    status, answer = post(url, delivery.body, headers, timeout=run.args.timeout)
    parsed = json_or_text(answer)
    run.out.document({"status": status, "source": source, "body": parsed})
    run.out.line(f"HTTP {status}")
    run.out.line(json.dumps(parsed, indent=2) if not isinstance(parsed, str) else parsed)
    return EXIT_OK if 200 <= status < 300 else EXIT_FAILED


def command_grants(run: Invocation) -> int:
    from ram_delegate.grants import list_owner_grants, list_partner_grants

    settings = run.with_seal_key(run.with_account_id(run.settings()))
    side = run.args.side or settings.side
    cloud = run.cloud(settings)
    now = run.now()
    with run.out.progress(f"listing {side} grants"):
        found: Sequence[Any] = list_owner_grants(cloud, now) if side == "owner" else list_partner_grants(cloud, now)
    rows = [grant_row(grant, side) for grant in found]
    if not run.args.show_external_id:
        # A terminal or a script's log is no place for a credential's second factor (issue 9, item 6).
        found = [replace(g, external_id=mask_secret(g.external_id)) if hasattr(g, "external_id") else g for g in found]
    run.out.document({"side": side, "now": format_time(now), "grants": [to_jsonable(grant) for grant in found]})
    run.out.table(rows, GRANT_COLUMNS, empty=f"no managed grants on the {side} side")
    return EXIT_OK


GRANT_COLUMNS = (
    ("ticket", "TICKET"),
    ("partner", "PARTNER"),
    ("profile", "PROFILE"),
    ("scope", "SCOPE"),
    ("expires", "EXPIRES"),
    ("state", "STATE"),
)


def grant_row(grant: Any, side: str) -> dict[str, Any]:
    """One table row for an owner grant (partner = account/user) or a partner grant (partner = our user)."""
    if side == "owner":
        partner = f"{grant.partner_account_id}/{grant.partner_user}"
    else:
        partner = f"{grant.user} -> {grant.owner_account_id}"
    scope = f"{grant.region}/{grant.resource_group_id}" if grant.resource_group_id else f"{grant.region} (account)"
    named: tuple[str, ...] = getattr(grant, "resource_ids", ())
    if named:
        scope += f": {', '.join(named)}" if len(named) <= 3 else f": {named[0]}, ... ({len(named)} named)"
    elif getattr(grant, "resource_ids_digest", None):
        scope += f": named instances (listed in {grant.policy_name})"
    return {
        "ticket": grant.ticket,
        "partner": partner,
        "profile": grant.profile or None,
        "scope": scope,
        "expires": grant.expires_at,
        "state": grant.state,
    }


def command_audit(run: Invocation) -> int:
    """Who outside can get in (owner) or what a grant user holds beyond a grant (partner); exit 1 on high/critical."""
    from ram_delegate.inventory import owner_audit, partner_audit

    settings = run.with_account_id(run.settings())
    side = run.args.side or settings.side
    deps = run.deps(settings.model_copy(update={"side": side}))
    audit = owner_audit if side == "owner" else partner_audit
    with run.out.progress(f"auditing the {side} account"):
        report = audit(deps, now=deps.clock(), heal=not run.args.dry_run)
    run.out.document(report.to_dict())
    rows = [
        {**f.to_dict(), "principals": ", ".join(f.principals), "policies": ", ".join(f.policies), "detail": f.detail}
        for f in report.findings
    ]
    run.out.table(rows, AUDIT_COLUMNS, empty=f"no findings: nothing outside can get into the {side} account")
    healed = sum(1 for f in report.findings if f.action == "healed")
    revoked = sum(1 for f in report.findings if f.action == "revoked")
    run.out.line(f"{report.examined} examined, {len(report.findings)} finding(s), {healed} healed, {revoked} revoked")
    return EXIT_FAILED if report.failed else EXIT_OK


AUDIT_COLUMNS = (
    ("severity", "SEVERITY"),
    ("kind", "KIND"),
    ("resource", "RESOURCE"),
    ("managed", "MANAGED"),
    ("principals", "PRINCIPALS"),
    ("external_id", "EXTERNAL-ID"),
    ("expiry", "EXPIRY"),
    ("policies", "POLICIES"),
    ("action", "ACTION"),
    ("detail", "DETAIL"),
)


def command_sweep(run: Invocation) -> int:
    from ram_delegate.owner import sweep_owner
    from ram_delegate.partner import sweep_partner
    from ram_delegate.plan import render_plan

    settings = run.with_account_id(run.settings())
    side = run.args.side or settings.side
    deps = run.deps(settings.model_copy(update={"side": side}))
    sweep = sweep_owner if side == "owner" else sweep_partner
    now = deps.clock()
    with run.out.progress(f"sweeping {side} grants") as progress:
        report = sweep(deps, now=now, dry_run=run.args.dry_run, progress=progress)
    run.out.document({"side": side, "dry_run": run.args.dry_run, "now": format_time(now), "report": report})
    verb = "would remove" if run.args.dry_run else "removed"
    run.out.line(f"{side} sweep at {format_time(now)}: {report.examined} examined, {report.expired} expired")
    if report.steps:
        run.out.line(f"{verb}:")
        run.out.line(render_plan(list(report.steps)))
    else:
        run.out.line("nothing to do")
    for error in report.errors:
        run.out.error(f"error: {error}")
    return EXIT_FAILED if report.errors else EXIT_OK


def command_verify(run: Invocation) -> int:
    from ram_delegate.verify import verify_grants

    settings = run.with_account_id(run.settings(side="partner"))
    deps = run.deps(settings)
    now = deps.clock()
    with run.out.progress("verifying grants") as progress:
        report = verify_grants(deps, now=now, propagation_retries=run.args.propagation_retries, progress=progress)
    run.out.document(report)
    run.out.line(
        f"checked {report.checked}: {report.ok} ok, {report.denied_as_expected} denied as expected, "
        f"{report.unexpected_allow} unexpected allow, {report.unexpected_deny} unexpected deny, "
        f"{report.pending} pending, {report.errors} errors"
    )
    rows = [check.to_dict() for check in report.results]
    run.out.table(rows, VERIFY_COLUMNS, empty="no grants to check")
    if report.critical:
        run.out.error("CRITICAL: a grant that should be refused still allows access")
    return EXIT_FAILED if report.unexpected else EXIT_OK


VERIFY_COLUMNS = (
    ("ticket", "TICKET"),
    ("grant_state", "STATE"),
    ("expected", "EXPECTED"),
    ("observed", "OBSERVED"),
    ("outcome", "OUTCOME"),
    ("stage", "STAGE"),
    ("code", "CODE"),
    ("latency_ms", "MS"),
)


def command_invoke(run: Invocation) -> int:
    from alibabacloud_fc20230330 import models as fc_models
    from alibabacloud_fc20230330.client import Client as FcClient

    settings = run.settings()
    credentials = run.credentials()
    account_id = run.args.account_id or settings.account_id
    if run.endpoint:
        endpoint, protocol = run.endpoint, "http"
    elif account_id:
        endpoint, protocol = f"{account_id}.{settings.region}.fc.aliyuncs.com", "https"
    else:
        raise UsageError("invoke needs --endpoint HOST:PORT, or --account-id / RAM_DELEGATE_ACCOUNT_ID for the cloud")
    body = _read_event(run.args.event) if run.args.event else timer_event(run.now(), "ram-delegate-cli")
    client = FcClient(sdk_config(credentials, settings.region, endpoint, protocol, read_timeout=run.args.timeout))
    try:
        response = client.invoke_function(run.args.function, fc_models.InvokeFunctionRequest(body=io.BytesIO(body)))
    except Exception as exc:  # the FC SDK raises its own exception types; report code and message only
        code = getattr(exc, "code", type(exc).__name__)
        message = getattr(exc, "message", str(exc))
        raise ConfigurationError(f"InvokeFunction failed: {code}: {message}") from None
    headers = {str(key).lower(): str(value) for key, value in (response.headers or {}).items()}
    raw = response.body.read() if response.body is not None else b""
    answer = json_or_text(raw)
    failed = "x-fc-error-type" in headers or _answer_failed(answer)
    run.out.document(
        {
            "function": run.args.function,
            "status": response.status_code,
            "request_id": headers.get("x-fc-request-id"),
            "error_type": headers.get("x-fc-error-type"),
            "answer": answer,
        }
    )
    run.out.line(f"{run.args.function}: HTTP {response.status_code} (request {headers.get('x-fc-request-id', '-')})")
    run.out.line(json.dumps(answer, indent=2) if not isinstance(answer, str) else answer)
    return EXIT_FAILED if failed else EXIT_OK


def _answer_failed(answer: object) -> bool:
    """An HTTP-style function answer with a 4xx/5xx status is a failure for the caller."""
    if isinstance(answer, Mapping):
        status = answer.get("statusCode")
        return isinstance(status, int) and status >= 400
    return False


def command_bootstrap(run: Invocation) -> int:
    from ram_delegate.bootstrap import bootstrap

    settings = run.with_account_id(run.settings(side=run.args.side))
    with run.out.progress(f"bootstrapping the {run.args.side} side"):
        result = bootstrap(run.args.side, run.cloud(settings), settings)
    document = result.to_dict()
    run.out.document(document)
    verdict = "changed" if result.changed else "already in place, nothing changed"
    run.out.line(f"{run.args.side} side function roles ({verdict}):")
    rows = [{**role, "changes": ", ".join(role["changes"]) or "none"} for role in document["roles"]]  # type: ignore[attr-defined]
    run.out.table(
        rows, (("name", "ROLE"), ("arn", "ARN"), ("policy", "POLICY"), ("changes", "CHANGES")), empty="no roles"
    )
    return EXIT_OK


def command_handoff(run: Invocation) -> int:
    from ram_delegate.handoff import handoff

    result = handoff(run.args.side, run.env, run.args.url)
    run.out.document(result.to_dict())
    for line in result.lines():
        run.out.line(line)
    return EXIT_FAILED if result.missing else EXIT_OK


# --- plumbing ----------------------------------------------------------------------------------------------------


def _read_event(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; the global flags are accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv: debug)")
    common.add_argument(
        "--endpoint", metavar="HOST:PORT", default=argparse.SUPPRESS, help="a local stack (plain http) instead of cloud"
    )
    common.add_argument("--region", default=argparse.SUPPRESS, help="region id (default: ALIBABA_CLOUD_REGION_ID)")

    parser = argparse.ArgumentParser(
        prog="ram-delegate",
        description="Time-bound, least-privilege partner access on Alibaba Cloud: run, inspect, verify.",
        parents=[common],
        epilog="Exit codes: 0 ok, 1 failed, 2 usage error.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[[Invocation], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = add("demo", command_demo, "tell the whole lifecycle on an in-process local stack")
    demo.add_argument("--template", default="template.yml", help="the Serverless Devs template (template.yml)")

    local = add("local", command_local, "serve every function of template.yml locally with an emulated cloud")
    local.add_argument("--template", default="template.yml")
    local.add_argument("--seed", default=None, help="emulator seed file (first account: owner, second: partner)")
    local.add_argument("--cloud-port", type=int, default=0, help="emulator port (default: a free one)")
    local.add_argument("--port", type=int, default=0, help="function host port (default: a free one)")
    local.add_argument(
        "--state", default=None, metavar="FILE", help="SQLite file keeping the cloud and its clock across restarts"
    )

    send = add("send", command_send, "sign an event (Standard Webhooks) and POST it; print the answer")
    send.add_argument("--url", required=True, help="the onboard function's HTTP trigger URL")
    source = send.add_mutually_exclusive_group(required=True)
    source.add_argument("--event", metavar="FILE", help="the CloudEvent JSON file ('-' for stdin)")
    source.add_argument("stdin", nargs="?", choices=["-"], default=None, help="read the event from stdin")
    send.add_argument("--secret", help=f"whsec_... signing secret (default: {ENV_WEBHOOK_SECRET})")
    send.add_argument("--timestamp", type=int, help="webhook-timestamp in Unix seconds (default: now)")
    send.add_argument("--webhook-id", help="webhook-id (default: a fresh random id; reuse one to replay)")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")
    send.add_argument(
        "--source",
        choices=["jira", "github", "dingtalk", "feishu", "token"],
        help="post a native payload to <url>/<source>, signed or encrypted as that vendor does (secrets from "
        "the variables RAM_DELEGATE_INTAKE_FILE names, else the README's defaults); --webhook-id sets the delivery id",
    )

    grants = add("grants", command_grants, "list the managed grants, read from RAM tags")
    grants.add_argument("--side", choices=["owner", "partner"], help="default: RAM_DELEGATE_SIDE or owner")
    grants.add_argument(
        "--show-external-id", action="store_true", help="print full ExternalIds (masked by default; partner side)"
    )

    audit = add(
        "audit", command_audit, "inventory external access; heal or revoke tampered grants (exit 1: high/critical)"
    )
    audit.add_argument("--side", choices=["owner", "partner"], help="default: RAM_DELEGATE_SIDE or owner")
    audit.add_argument("--dry-run", action="store_true", help="report only: heal and revoke nothing")

    sweep = add("sweep", command_sweep, "run the expiry sweep once (or print its plan with --dry-run)")
    sweep.add_argument("--dry-run", action="store_true", help="compute and print the plan, change nothing")
    sweep.add_argument("--side", choices=["owner", "partner"], help="default: RAM_DELEGATE_SIDE or owner")

    verify = add("verify", command_verify, "check every partner grant against the cloud and print the report")
    verify.add_argument(
        "--propagation-retries", type=int, default=0, help="re-check a refused young grant this many times"
    )

    invoke = add("invoke", command_invoke, "invoke a function through the FC 3.0 API (local or deployed)")
    invoke.add_argument("function", help=f"function name, e.g. {', '.join(FUNCTION_NAMES)}")
    invoke.add_argument("--event", metavar="FILE", help="event file ('-' for stdin; default: a timer event)")
    invoke.add_argument("--account-id", help="the FC account (default: RAM_DELEGATE_ACCOUNT_ID)")
    invoke.add_argument("--timeout", type=int, default=120, help="seconds to wait for the function")

    bootstrap = add("bootstrap", command_bootstrap, "create one side's function roles (idempotent)")
    bootstrap.add_argument("--side", choices=["owner", "partner"], required=True)

    handoff = add("handoff", command_handoff, "print what this side hands the other company and the ticketing system")
    handoff.add_argument("--side", choices=["owner", "partner"], required=True)
    handoff.add_argument("--url", help="this side's onboard HTTP trigger URL (from: s <side>-onboard info)")

    lint = add("lint", command_lint, "lint a policy document or every access profile; exit 1 on any error")
    target = lint.add_mutually_exclusive_group(required=True)
    target.add_argument("policy", nargs="?", metavar="POLICY.json", help="a RAM policy document")
    target.add_argument("--profiles", action="store_true", help="lint every access profile")
    lint.add_argument("--profiles-file", help="an extra profiles file (default: RAM_DELEGATE_PROFILES_FILE)")
    lint.add_argument("--kind", choices=["auto", "custom", "trust", "session"], default="auto")
    lint.add_argument("--time-bound", action="store_true", help="require an acs:CurrentTime expiry on every Allow")
    return parser


GLOBAL_DEFAULTS: Mapping[str, Any] = {"json": False, "verbose": 0, "endpoint": None, "region": None}


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, then fill the global flags nobody gave (they are suppressed so either position works)."""
    args = parser.parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parse_args(parser, argv)
    if args.command == "send" and args.stdin == "-":
        args.event = "-"
    out = Output(json_mode=args.json, stdout=stdout, stderr=stderr)
    _configure_logging(args.verbose, out.stderr)
    run = Invocation(args=args, out=out, env=os.environ if env is None else env)
    try:
        code: int = args.handler(run)
        return code
    except UsageError as exc:
        parser.print_usage(out.stderr)
        out.error(f"ram-delegate: error: {exc}")
        return EXIT_USAGE
    except RamDelegateError as exc:
        out.error(f"error: {exc.code}: {exc.message}")
        for problem in exc.problems:
            out.error(f"  - {problem}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130


def _configure_logging(verbosity: int, stream: TextIO) -> None:
    from ram_delegate.audit import install_redaction

    install_redaction()
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _CliLogHandler)]:
        root.removeHandler(previous)
    handler = _CliLogHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


class _CliLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The CLI's own stderr handler, replaced (not stacked) when ``main`` runs again in one process."""


if __name__ == "__main__":
    sys.exit(main())
