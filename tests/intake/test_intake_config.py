"""The intake file: the issue's sample parses, every problem is listed at once, the schema is published."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from intake_support import ENV, intake_yaml

from ram_delegate.errors import ConfigurationError
from ram_delegate.intake.config import ENV_INTAKE_FILE, intake_json_schema, intake_variables, load_intake, parse_intake

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "intake-file.schema.json"

ISSUE_SAMPLE = """
sources:
  jira:
    secret_env: RAM_DELEGATE_JIRA_SECRET
    approve_statuses: ["Access Approved"]
    revoke_statuses: ["Access Revoked", "Closed"]
    fields:                      # issue field ids; a field is optional unless the event needs it
      partner_account_id: customfield_10050
      partner_user: customfield_10051
      partner_name: customfield_10052
      profile: customfield_10053
      region: customfield_10054
      resource_group_id: customfield_10055
      expires_at: customfield_10056   # a date or date-time ...
      duration: customfield_10057     # ... or a duration such as "7d" or "36h", counted from the approval
  github:
    secret_env: RAM_DELEGATE_GITHUB_SECRET
    approve_label: access-approved
    revoke_label: access-revoked
    approvers: [octo-approver]
    fields:                      # issue-form headings
      partner_account_id: Partner account ID
      partner_user: Partner RAM user
      partner_name: Partner name
      profile: Access profile
      region: Region
      duration: Duration
  token:
    token_env: RAM_DELEGATE_INTAKE_TOKEN
"""


def test_the_issue_sample_parses_with_its_keys_letter_for_letter() -> None:
    intake = parse_intake(ISSUE_SAMPLE, ENV)
    assert intake.sources.jira is not None
    assert intake.sources.jira.fields.duration == "customfield_10057"
    assert intake.sources.github is not None
    assert intake.sources.github.approvers == ("octo-approver",)
    assert intake.sources.token is not None
    assert intake.sources.dingtalk is None
    assert intake.env_names() == ["RAM_DELEGATE_GITHUB_SECRET", "RAM_DELEGATE_INTAKE_TOKEN", "RAM_DELEGATE_JIRA_SECRET"]


def test_json_works_as_well_as_yaml() -> None:
    document = yaml.safe_load(ISSUE_SAMPLE)
    assert parse_intake(json.dumps(document), ENV) == parse_intake(ISSUE_SAMPLE, ENV)


def test_every_problem_is_listed_at_once() -> None:
    broken = """
sources:
  jira:
    secret_env: "not a variable name"
    approve_statuses: []
    colour: blue
  github:
    secret_env: RAM_DELEGATE_GITHUB_SECRET
    approve_label: same
    revoke_label: SAME
    approvers: [octo-approver]
  gitlab: {}
"""
    with pytest.raises(ConfigurationError) as caught:
        parse_intake(broken, ENV)
    paths = {problem.path for problem in caught.value.problems}
    assert {"sources.jira.secret_env", "sources.jira.approve_statuses", "sources.jira.colour"} <= paths
    assert "sources.github" in paths
    assert "sources.gitlab" in paths


def test_every_variable_the_file_names_must_be_set_and_all_missing_ones_are_listed() -> None:
    env = {k: v for k, v in ENV.items() if k not in ("RAM_DELEGATE_JIRA_SECRET", "RAM_DELEGATE_INTAKE_TOKEN")}
    with pytest.raises(ConfigurationError) as caught:
        parse_intake(ISSUE_SAMPLE, env)
    assert {p.path for p in caught.value.problems} == {"RAM_DELEGATE_JIRA_SECRET", "RAM_DELEGATE_INTAKE_TOKEN"}
    assert all("jira-webhook-secret" not in str(p) for p in caught.value.problems)


def test_an_unreadable_or_malformed_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_intake({ENV_INTAKE_FILE: str(tmp_path / "missing.yml")})
    bad = tmp_path / "bad.yml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(ConfigurationError):
        load_intake({ENV_INTAKE_FILE: str(bad)})
    assert load_intake({}) is None


def test_the_local_host_hands_over_the_file_and_every_variable_it_names(tmp_path: Path) -> None:
    path = tmp_path / "intake.yml"
    path.write_text(ISSUE_SAMPLE)
    env = {**ENV, ENV_INTAKE_FILE: str(path), "UNRELATED": "x"}
    handed = intake_variables(env)
    assert handed == {
        ENV_INTAKE_FILE: str(path),
        "RAM_DELEGATE_JIRA_SECRET": ENV["RAM_DELEGATE_JIRA_SECRET"],
        "RAM_DELEGATE_GITHUB_SECRET": ENV["RAM_DELEGATE_GITHUB_SECRET"],
        "RAM_DELEGATE_INTAKE_TOKEN": ENV["RAM_DELEGATE_INTAKE_TOKEN"],
    }


def test_the_published_schema_is_the_generated_one_and_accepts_the_samples() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema == intake_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(yaml.safe_load(ISSUE_SAMPLE))
    validator.validate(yaml.safe_load(intake_yaml("http://127.0.0.1:1")))
    assert list(validator.iter_errors({"sources": {"jira": {"secret_env": "X"}}}))
