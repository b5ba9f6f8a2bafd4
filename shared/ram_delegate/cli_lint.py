"""``ram-delegate lint``: every policy document a file holds, or the profile catalog (``--profiles``), linted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ram_delegate.cli_common import EXIT_FAILED, EXIT_OK, Invocation, UsageError
from ram_delegate.errors import InvalidInputError, PolicyLintError, Problem

if TYPE_CHECKING:
    from ram_delegate.policy import Finding

PLACEHOLDER_ACCOUNT_ID = "0000000000000000"  # lint --profiles builds each profile's policy for this account


def command_lint(run: Invocation) -> int:
    catalog: list[dict[str, Any]] = []
    if run.args.profiles:
        rows, catalog = _lint_profiles(run)
    else:
        rows = _lint_file(run, Path(run.args.policy))
    document: dict[str, Any] = {"findings": rows, "errors": sum(1 for row in rows if row["severity"] == "error")}
    if run.args.profiles:
        document["profiles"] = catalog
    run.out.document(document)
    run.out.table(rows, LINT_COLUMNS, empty="no findings")
    errors = sum(1 for row in rows if row["severity"] == "error")
    if rows:
        run.out.line(f"{len(rows)} finding(s), {errors} error(s)")
    return EXIT_FAILED if errors else EXIT_OK


LINT_COLUMNS = (
    ("subject", "SUBJECT"),
    ("severity", "SEVERITY"),
    ("rule_id", "RULE"),
    ("path", "PATH"),
    ("message", "MESSAGE"),
)


def _finding_row(subject: str, finding: Finding) -> dict[str, Any]:
    return {
        "subject": subject,
        "severity": finding.severity,
        "rule_id": finding.rule_id,
        "path": finding.path,
        "message": finding.message,
    }


def _problem_rows(subject: str, rule_id: str, problems: Sequence[Problem], message: str) -> list[dict[str, Any]]:
    if not problems:
        return [{"subject": subject, "severity": "error", "rule_id": rule_id, "path": "", "message": message}]
    return [
        {"subject": subject, "severity": "error", "rule_id": rule_id, "path": p.path, "message": p.reason}
        for p in problems
    ]


def _lint_file(run: Invocation, path: Path) -> list[dict[str, Any]]:
    from ram_delegate.policy import lint, parse_policy

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    kind = run.args.kind
    if kind == "auto":
        kind = "trust" if '"Principal"' in text else "custom"
    try:
        document = parse_policy(text, kind=kind)
    except InvalidInputError as exc:
        return _problem_rows(path.name, "parse", exc.problems, exc.message)
    findings = lint(document, kind=kind, time_bound=run.args.time_bound)
    return [_finding_row(path.name, finding) for finding in findings]


def _lint_profiles(run: Invocation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every access profile linted as each time-bound access policy it builds (account-wide, and on named instances
    for a profile that scopes to instances), and the catalog as rows (profile, products, actions, scoping, probes)."""
    from ram_delegate.policy import lint, load_profiles, parse_policy
    from ram_delegate.policy.profiles import access_document

    settings = run.settings()
    extra = run.args.profiles_file or settings.profiles_file
    try:
        profiles = load_profiles(extra)
    except PolicyLintError as exc:
        return _problem_rows(str(extra or "profiles"), "profile-refused", exc.problems, exc.message), []
    rows: list[dict[str, Any]] = []
    catalog: list[dict[str, Any]] = []
    expires_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    for name, profile in sorted(profiles.items()):
        shapes: list[tuple[str, ...]] = [] if profile.resource_ids == "require" else [()]
        if profile.instances is not None:
            shapes.append(("<id-1>", "<id-2>"))
        findings = []
        for ids in shapes:
            document = access_document(
                profile,
                account_id=settings.account_id or PLACEHOLDER_ACCOUNT_ID,
                region=settings.region,
                expires_at=expires_at,
                resource_ids=ids,
            )
            findings.extend(lint(parse_policy(document, kind="custom"), time_bound=True))
        rows.extend(_finding_row(f"profile {name}", finding) for finding in findings)
        probes = [profile.positive_probe] if profile.positive_probe else []
        catalog.append(
            {
                "profile": name,
                "products": ", ".join(profile.products),
                "actions": ", ".join(profile.all_actions),
                "scoping": profile.scoping,
                "probes": ", ".join(
                    [f"+{probe.call}" for probe in probes]
                    + [f"-{probe.call}@{probe.target}" for probe in profile.negative_probes]
                )
                or "none (AssumeRole only)",
                "findings": len(findings),
                "description": profile.description,
            }
        )
    run.out.table(catalog, PROFILE_COLUMNS, empty="no profiles")
    return rows, catalog


PROFILE_COLUMNS = (
    ("profile", "PROFILE"),
    ("products", "PRODUCTS"),
    ("actions", "ACTIONS"),
    ("scoping", "SCOPING"),
    ("probes", "PROBES"),
    ("findings", "FINDINGS"),
)
