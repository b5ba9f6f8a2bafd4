"""Reading template.yml the way Serverless Devs renders it, so the local host serves exactly what ``s deploy`` deploys.

Only what the host needs is modelled: each ``component: fc3`` resource's function name, handler file, memory,
timeout, role, environment variables and triggers. Variables are rendered as ``s preview`` does: ``${env('X')}``
(or ``${env("X")}``, ``${env.X}``) from a given mapping — never ``os.environ`` implicitly — and ``${vars.x}`` from the
template's ``vars``. A variable that is not set renders empty and is recorded in ``Template.missing_env``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

Handler = Callable[[bytes, Any], Any]

_VARIABLE = re.compile(r"\$\{\s*([^{}]+?)\s*\}")
_ENV_CALL = re.compile(r"""^env\(\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s*(?:,\s*(['"])(.*?)\3\s*)?\)$""")
_ENV_DOT = re.compile(r"^env\.([A-Za-z_][A-Za-z0-9_]*)$")
_VARS_PATH = re.compile(r"^vars((?:\.[A-Za-z0-9_-]+)+)$")


class TemplateError(ValueError):
    """template.yml cannot be served: the message names the resource and the field."""


@dataclass(frozen=True)
class HttpTrigger:
    name: str
    auth_type: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class TimerTrigger:
    name: str
    cron_expression: str
    payload: str
    enabled: bool


DEFAULT_ASYNC_RETRIES = 3  # FC's default maxAsyncRetryAttempts


@dataclass(frozen=True)
class FunctionSpec:
    """One fc3 resource, rendered."""

    resource: str
    name: str
    access: str | None
    region: str
    runtime: str
    handler: str
    code_dir: Path
    memory_mb: int
    timeout_seconds: int
    role: str | None
    environment: Mapping[str, str]
    http_triggers: tuple[HttpTrigger, ...] = ()
    timer_triggers: tuple[TimerTrigger, ...] = ()
    async_retries: int = DEFAULT_ASYNC_RETRIES  # asyncInvokeConfig.maxAsyncRetryAttempts
    async_on_failure: str = ""  # asyncInvokeConfig.destinationConfig.onFailure.destination

    @property
    def handler_file(self) -> Path:
        """``index.handler`` -> ``<code>/index.py``."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    def load_module(self) -> ModuleType:
        """Import the handler file by path (as the runtime does), under a name private to this function."""
        path = self.handler_file
        if not path.is_file():
            raise TemplateError(f"resources.{self.resource}: handler file {path} does not exist")
        module_name = "fc_local_" + re.sub(r"\W", "_", self.name)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise TemplateError(f"resources.{self.resource}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, self.handler_attribute, None)):
            raise TemplateError(f"resources.{self.resource}: {path} has no function {self.handler_attribute!r}")
        return module

    def load_handler(self) -> Handler:
        handler: Handler = getattr(self.load_module(), self.handler_attribute)
        return handler


@dataclass(frozen=True)
class Template:
    path: Path
    name: str
    functions: tuple[FunctionSpec, ...]
    missing_env: frozenset[str] = field(default_factory=frozenset)

    def function(self, name: str) -> FunctionSpec:
        """The function called ``name`` (its functionName, or its resource key)."""
        for spec in self.functions:
            if name in (spec.name, spec.resource):
                return spec
        raise KeyError(name)


def load_template(path: str | Path, env: Mapping[str, str]) -> Template:
    """Read and render ``path``; raise TemplateError on anything the host could not serve."""
    template_path = Path(path)
    try:
        raw = yaml.safe_load(template_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"cannot read {template_path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{template_path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("resources"), dict):
        raise TemplateError(f"{template_path}: expected a mapping with 'resources'")
    missing: set[str] = set()
    variables = raw.get("vars") or {}
    rendered_vars = render(variables, env, {}, missing)
    top_access = raw.get("access")
    functions: list[FunctionSpec] = []
    for resource, body in raw["resources"].items():
        if not isinstance(body, dict) or body.get("component") != "fc3":
            continue
        rendered = render(body, env, rendered_vars, missing)
        functions.append(_function(str(resource), rendered, template_path.parent, top_access))
    names = [spec.name for spec in functions]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TemplateError(f"{template_path}: functionName used twice: {', '.join(duplicates)}")
    return Template(
        path=template_path,
        name=str(raw.get("name", "")),
        functions=tuple(functions),
        missing_env=frozenset(missing),
    )


def render(value: Any, env: Mapping[str, str], variables: Mapping[str, Any], missing: set[str]) -> Any:
    """Substitute ``${...}`` everywhere in ``value``; a string that is exactly one variable keeps the value's type."""
    if isinstance(value, dict):
        return {key: render(item, env, variables, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, env, variables, missing) for item in value]
    if not isinstance(value, str):
        return value
    whole = _VARIABLE.fullmatch(value.strip())
    if whole is not None:
        return _resolve(whole.group(1), env, variables, missing)
    return _VARIABLE.sub(lambda match: str(_resolve(match.group(1), env, variables, missing)), value)


def _resolve(expression: str, env: Mapping[str, str], variables: Mapping[str, Any], missing: set[str]) -> Any:
    call = _ENV_CALL.match(expression) or _ENV_DOT.match(expression)
    if call is not None:
        name = call.group(2) if call.re is _ENV_CALL else call.group(1)
        default = call.group(4) if call.re is _ENV_CALL else None
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.add(name)
        return ""
    path = _VARS_PATH.match(expression)
    if path is not None:
        current: Any = variables
        for key in path.group(1).strip(".").split("."):
            if not isinstance(current, Mapping) or key not in current:
                raise TemplateError(f"${{{expression}}}: no such variable")
            current = current[key]
        return current
    raise TemplateError(f"${{{expression}}}: only env('X') and vars.x are supported by the local host")


def _function(resource: str, body: Mapping[str, Any], base: Path, top_access: Any) -> FunctionSpec:
    props = body.get("props")
    where = f"resources.{resource}.props"
    if not isinstance(props, dict):
        raise TemplateError(f"{where}: missing")
    for required in ("functionName", "handler", "code", "runtime"):
        if not isinstance(props.get(required), str) or not props[required]:
            raise TemplateError(f"{where}.{required}: expected a non-empty string")
    code = props["code"]
    code_dir = base / code if isinstance(code, str) else base / str(code.get("src", ""))
    environment = props.get("environmentVariables") or {}
    if not isinstance(environment, dict):
        raise TemplateError(f"{where}.environmentVariables: expected a mapping")
    http: list[HttpTrigger] = []
    timers: list[TimerTrigger] = []
    for index, trigger in enumerate(props.get("triggers") or []):
        config = trigger.get("triggerConfig") if isinstance(trigger, dict) else None
        if not isinstance(config, dict):
            raise TemplateError(f"{where}.triggers[{index}].triggerConfig: expected a mapping")
        name = str(trigger.get("triggerName", f"trigger-{index}"))
        kind = trigger.get("triggerType")
        if kind == "http":
            methods = config.get("methods") or []
            if not isinstance(methods, list):
                raise TemplateError(f"{where}.triggers[{index}].triggerConfig.methods: expected a list")
            auth_type = str(config.get("authType", "anonymous"))
            http.append(HttpTrigger(name, auth_type, tuple(str(method).upper() for method in methods)))
        elif kind == "timer":
            cron = config.get("cronExpression")
            if not isinstance(cron, str):
                raise TemplateError(f"{where}.triggers[{index}].triggerConfig.cronExpression: expected a string")
            timers.append(TimerTrigger(name, cron, str(config.get("payload") or ""), config.get("enable") is True))
    access = body.get("access", top_access)
    raw_async = props.get("asyncInvokeConfig")
    async_config: dict[str, Any] = raw_async if isinstance(raw_async, dict) else {}
    retries = async_config.get("maxAsyncRetryAttempts", DEFAULT_ASYNC_RETRIES)
    if not isinstance(retries, int) or not 0 <= retries <= 8:
        raise TemplateError(f"{where}.asyncInvokeConfig.maxAsyncRetryAttempts: expected 0..8")
    on_failure = ((async_config.get("destinationConfig") or {}).get("onFailure") or {}).get("destination", "")
    return FunctionSpec(
        resource=resource,
        name=props["functionName"],
        access=str(access) if access is not None else None,
        region=str(props.get("region", "")),
        runtime=props["runtime"],
        handler=props["handler"],
        code_dir=code_dir.resolve(),
        memory_mb=int(props.get("memorySize", 128)),
        timeout_seconds=int(props.get("timeout", 3)),
        role=str(props["role"]) if props.get("role") else None,
        environment={str(key): "" if value is None else str(value) for key, value in environment.items()},
        http_triggers=tuple(http),
        timer_triggers=tuple(timers),
        async_retries=retries,
        async_on_failure=str(on_failure or ""),
    )
