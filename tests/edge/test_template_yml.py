"""template.yml renders offline (as ``s preview`` does), validates against the fc3 schema, and matches the code."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from ram_delegate import settings as settings_module
from ram_delegate.bootstrap import OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE
from ram_delegate.events import event_json_schema
from ram_delegate.intake.config import CONVENTIONAL_ENV, ENV_INTAKE_FILE
from ram_delegate.local.template import render
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yml"
SCHEMA_COPY = REPO / "tests" / "data" / "fc3-schema.json"
SCHEMA_REFERENCE = REPO / ".." / "shared" / "reference" / "fc3-schema.json"
EVENT_SCHEMA = REPO / "schemas" / "partner-access-event.schema.json"

DEPLOY_ENV = {
    "RAM_DELEGATE_REGION": "cn-hangzhou",
    "OWNER_ACCOUNT_ID": "1111111111111111",
    "PARTNER_ACCOUNT_ID": "2222222222222222",
    "RAM_DELEGATE_VERIFIER_ROLE": "ram-delegate-verifier",
    "RAM_DELEGATE_WEBHOOK_SECRET": generate_secret(),
    "RAM_DELEGATE_PARTNER_SECRET": generate_secret(),
    "RAM_DELEGATE_PARTNER_ENDPOINT": "https://partner.example.com/hook",
    "RAM_DELEGATE_KMS_WEBHOOK_SECRET": "ram-delegate/owner/webhook",
    "RAM_DELEGATE_KMS_PARTNER_SECRET": "ram-delegate/partner/forwarding",
}


def rendered_template(env: Mapping[str, str] = DEPLOY_ENV, missing: set[str] | None = None) -> dict[str, Any]:
    """The template as ``s preview`` renders it, with the same renderer the local host serves it with."""
    missing = set() if missing is None else missing
    raw = yaml.safe_load(TEMPLATE.read_text())
    variables = render(raw.get("vars", {}), env, {}, missing)
    rendered: dict[str, Any] = render(raw, env, variables, missing)
    return rendered


TEMPLATE_DOC = rendered_template()
RESOURCES: dict[str, Any] = TEMPLATE_DOC["resources"]
SETTINGS_VARIABLES = {
    value for name, value in vars(settings_module).items() if name.startswith("ENV_") and isinstance(value, str)
} | {ENV_INTAKE_FILE, *CONVENTIONAL_ENV}  # the intake file and the variables its README sample names


def test_template_header() -> None:
    assert TEMPLATE_DOC["edition"] == "3.0.0"
    assert set(RESOURCES) == {"owner-onboard", "owner-expire", "partner-onboard", "partner-expire", "partner-verify"}


def test_schema_copy_matches_the_reference() -> None:
    if not SCHEMA_REFERENCE.exists():
        pytest.skip("the shared reference folder is not beside this clone")
    assert json.loads(SCHEMA_COPY.read_text()) == json.loads(SCHEMA_REFERENCE.read_text())


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_props_validate_against_the_fc3_schema(name: str) -> None:
    resource = RESOURCES[name]
    assert resource["component"] == "fc3"
    validator = Draft7Validator(json.loads(SCHEMA_COPY.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(resource["props"])]
    assert errors == []


def test_the_schema_check_catches_a_broken_resource() -> None:
    broken = {**RESOURCES["owner-onboard"]["props"], "runtime": "python3.11", "memorySize": 100}
    errors = list(Draft7Validator(json.loads(SCHEMA_COPY.read_text())).iter_errors(broken))
    assert {e.absolute_path[0] for e in errors} == {"runtime", "memorySize"}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_each_side_deploys_with_its_own_access_and_role(name: str) -> None:
    resource = RESOURCES[name]
    side = name.split("-", 1)[0]
    props = resource["props"]
    assert resource["access"] == side
    assert props["environmentVariables"]["RAM_DELEGATE_SIDE"] == side
    assert props["runtime"] in ("python3.10", "python3.12")
    account = DEPLOY_ENV["OWNER_ACCOUNT_ID"] if side == "owner" else DEPLOY_ENV["PARTNER_ACCOUNT_ID"]
    role = {
        "owner": OWNER_FUNCTION_ROLE,
        "partner": PARTNER_FUNCTION_ROLE,
        "verify": DEPLOY_ENV["RAM_DELEGATE_VERIFIER_ROLE"],
    }["verify" if name == "partner-verify" else side]
    assert props["role"] == f"acs:ram::{account}:role/{role}"


EXPECTED_TRIGGERS = {
    "owner-onboard": ("http", None),
    "owner-expire": ("timer", "0 */5 * * * *"),
    "partner-onboard": ("http", None),
    "partner-expire": ("timer", "0 */5 * * * *"),
    "partner-verify": ("timer", "0 0 * * * *"),
}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_triggers_follow_our_own_rules(name: str) -> None:
    [trigger] = RESOURCES[name]["props"]["triggers"]
    config = trigger["triggerConfig"]
    kind, cron = EXPECTED_TRIGGERS[name]
    assert trigger["triggerType"] == kind
    assert isinstance(trigger["triggerName"], str)
    if kind == "timer":
        assert isinstance(config["cronExpression"], str)
        assert isinstance(config["enable"], bool)
        assert config["enable"] is True
        assert config["cronExpression"] == cron
        assert len(config["cronExpression"].split()) == 6
    else:
        assert config["authType"] == "anonymous"
        assert isinstance(config["methods"], list)
        assert config["methods"] == ["POST"]


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_handler_named_exists(name: str) -> None:
    props = RESOURCES[name]["props"]
    module, _, function = props["handler"].rpartition(".")
    path = (TEMPLATE.parent / props["code"] / (module.replace(".", "/") + ".py")).resolve()
    assert path == REPO / "functions" / name / "index.py"
    tree = ast.parse(path.read_text())
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    assert [[a.arg for a in h.args.args] for h in handlers] == [["event", "context"]]


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_environment_variable_set_is_read_by_settings(name: str) -> None:
    variables = RESOURCES[name]["props"]["environmentVariables"]
    assert set(variables) - SETTINGS_VARIABLES == set()
    assert all(isinstance(value, str) for value in variables.values())


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_rendered_environment_builds_settings(name: str) -> None:
    for env in (DEPLOY_ENV, {**DEPLOY_ENV, "RAM_DELEGATE_MAX_GRANT_DAYS": "", "RAM_DELEGATE_DRY_RUN": ""}):
        variables = rendered_template(env)["resources"][name]["props"]["environmentVariables"]
        settings = Settings.from_env(variables)
        assert settings.side == name.split("-", 1)[0]
        assert settings.verifier_role == DEPLOY_ENV["RAM_DELEGATE_VERIFIER_ROLE"]


def test_webhook_endpoints_get_a_secret_and_the_partner_checks_what_the_owner_signs_with() -> None:
    owner = Settings.from_env(RESOURCES["owner-onboard"]["props"]["environmentVariables"])
    partner = Settings.from_env(RESOURCES["partner-onboard"]["props"]["environmentVariables"])
    assert owner.webhook_secrets == (DEPLOY_ENV["RAM_DELEGATE_WEBHOOK_SECRET"],)
    assert owner.partner_signing_secret in partner.webhook_secrets


def test_published_event_schema_is_the_generated_one() -> None:
    assert json.loads(EVENT_SCHEMA.read_text()) == event_json_schema()


SIDE_VARIABLES = {
    "owner": {"OWNER_ACCOUNT_ID", "RAM_DELEGATE_PARTNER_ENDPOINT", "RAM_DELEGATE_KMS_WEBHOOK_SECRET"},
    "partner": {"PARTNER_ACCOUNT_ID", "RAM_DELEGATE_KMS_PARTNER_SECRET"},
}
REQUIRED_DEPLOY_VARIABLES = SIDE_VARIABLES["owner"] | SIDE_VARIABLES["partner"]


def test_every_variable_has_a_default_so_each_company_renders_alone() -> None:
    """``s`` refuses to render ``${env('X')}`` when X is unset: each company sets only its own variables."""
    missing: set[str] = set()
    rendered = rendered_template({}, missing)
    assert missing == set()
    assert rendered["vars"]["region"] == "cn-hangzhou"
    assert rendered["vars"]["verifierRole"] == "ram-delegate-verifier"


def test_the_side_variables_alone_render_a_valid_template() -> None:
    missing: set[str] = set()
    rendered = rendered_template({name: DEPLOY_ENV[name] for name in REQUIRED_DEPLOY_VARIABLES}, missing)
    assert missing == set()
    validator = Draft7Validator(json.loads(SCHEMA_COPY.read_text()))
    for resource in rendered["resources"].values():
        assert list(validator.iter_errors(resource["props"])) == []
        Settings.from_env(resource["props"]["environmentVariables"])
