"""template.yml as the local host reads it: variables rendered from a given mapping, handlers found by file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from ram_delegate.local.template import TemplateError, load_template

TEMPLATE = """
edition: 3.0.0
name: sample
access: owner
vars:
  region: cn-shanghai
  memory: 256
resources:
  hello:
    component: fc3
    props:
      region: ${vars.region}
      functionName: hello-${env('STAGE')}
      runtime: python3.10
      handler: index.handler
      code: ./code/hello
      memorySize: ${vars.memory}
      timeout: 30
      role: acs:ram::${env('OWNER_ACCOUNT_ID')}:role/ram-delegate-owner
      environmentVariables:
        GREETING: ${env("GREETING")}
        FALLBACK: ${env('NOT_SET', 'plain')}
        ABSENT: ${env('ABSENT_ONE')}
        LITERAL: fixed
      triggers:
        - triggerName: web
          triggerType: http
          triggerConfig: {authType: anonymous, methods: [post, GET]}
        - triggerName: tick
          triggerType: timer
          triggerConfig: {cronExpression: '0 */5 * * * *', enable: true, payload: '{"job":"sweep"}'}
        - triggerName: paused
          triggerType: timer
          triggerConfig: {cronExpression: '@every 1m', enable: false}
  partner-side:
    component: fc3
    access: partner
    props:
      region: ${vars.region}
      functionName: partner-side
      runtime: python3.12
      handler: main.entry
      code: ./code/partner
  not-a-function:
    component: some-other-component
    props: {}
"""


def write(tmp_path: Path, text: str, handlers: dict[str, str] | None = None) -> Path:
    path = tmp_path / "template.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    for relative, source in (handlers or {}).items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
    return path


def test_renders_env_and_vars_from_the_given_mapping(tmp_path: Path) -> None:
    env = {"STAGE": "dev", "GREETING": "hi", "OWNER_ACCOUNT_ID": "1357924680135792"}
    template = load_template(write(tmp_path, TEMPLATE), env)

    assert template.name == "sample"
    assert [spec.name for spec in template.functions] == ["hello-dev", "partner-side"]
    hello = template.function("hello-dev")
    assert template.function("hello") is hello  # by resource key too
    assert hello.region == "cn-shanghai"
    assert hello.memory_mb == 256
    assert hello.timeout_seconds == 30
    assert hello.access == "owner"
    assert hello.role == "acs:ram::1357924680135792:role/ram-delegate-owner"
    assert hello.environment == {"GREETING": "hi", "FALLBACK": "plain", "ABSENT": "", "LITERAL": "fixed"}
    assert template.missing_env == {"ABSENT_ONE"}
    assert hello.handler_file == tmp_path / "code" / "hello" / "index.py"
    assert [(t.name, t.methods) for t in hello.http_triggers] == [("web", ("POST", "GET"))]
    assert [(t.name, t.cron_expression, t.payload, t.enabled) for t in hello.timer_triggers] == [
        ("tick", "0 */5 * * * *", '{"job":"sweep"}', True),
        ("paused", "@every 1m", "", False),
    ]
    partner = template.function("partner-side")
    assert partner.access == "partner"
    assert partner.handler_file == tmp_path / "code" / "partner" / "main.py"
    assert partner.handler_attribute == "entry"


def test_process_environment_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETING", "from-os-environ")
    template = load_template(write(tmp_path, TEMPLATE), {"STAGE": "x"})
    assert template.function("hello-x").environment["GREETING"] == ""
    assert "GREETING" in template.missing_env


def test_loads_the_handler_from_its_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        TEMPLATE,
        {"code/hello/index.py": "def handler(event, context):\n    return event[::-1]\n"},
    )
    spec = load_template(path, {"STAGE": "a"}).function("hello-a")
    assert spec.load_handler()(b"abc", None) == b"cba"


@pytest.mark.parametrize(
    ("handlers", "fragment"),
    [
        ({}, "does not exist"),
        ({"code/hello/index.py": "handle = 1\n"}, "has no function 'handler'"),
    ],
)
def test_a_missing_handler_is_reported(tmp_path: Path, handlers: dict[str, str], fragment: str) -> None:
    spec = load_template(write(tmp_path, TEMPLATE, handlers), {"STAGE": "a"}).function("hello-a")
    with pytest.raises(TemplateError, match=fragment):
        spec.load_module()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("resources: [1, 2]\n", "expected a mapping with 'resources'"),
        ("resources: {a: {component: fc3, props: {functionName: x}}}\n", "props.handler: expected a non-empty string"),
        ("vars: {}\nresources: {a: {component: fc3, props: {functionName: '${vars.nope}'}}}\n", "no such variable"),
        ("resources: {a: {component: fc3, props: {functionName: '${config(\"AccountID\")}'}}}\n", "only env('X')"),
        ("resources: {a: [\n", "not valid YAML"),
    ],
)
def test_templates_the_host_cannot_serve_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(fragment)):
        load_template(write(tmp_path, text), {})


def test_a_function_name_used_twice_is_refused(tmp_path: Path) -> None:
    function = "{component: fc3, props: {functionName: same, handler: index.handler, code: ., runtime: python3.10}}"
    with pytest.raises(TemplateError, match="functionName used twice: same"):
        load_template(write(tmp_path, f"resources:\n  a: {function}\n  b: {function}\n"), {})
