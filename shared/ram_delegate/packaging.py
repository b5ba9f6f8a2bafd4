"""``make package FUNCTION=<name>``: one function's deployable code directory, slim and compiled for its runtime.

Why each step:

* **Only what the function reaches.** Each ``functions/<name>/index.py`` imports its own handler module
  (``ram_delegate.handlers.<name>``). Our library is scanned from there through its syntax tree, lazy imports inside
  functions included and imports under ``if TYPE_CHECKING:`` left out (they never run), and copied module by module
  (never the emulator, local host, CLI, demo or bootstrap). A product SDK is kept only if the reached code calls its
  ``CloudClients`` accessor (``PRODUCT_SDKS``): the partner functions carry no Resource Manager or FC client, the owner
  functions no STS, SLB, ALB, NLB or ECS client. The third-party modules our code imports are then followed by
  ``modulefinder``; a third-party package is copied whole once any of its modules is reached (packages such as
  pydantic import their parts dynamically, which a static scan cannot see), with its ``.dist-info`` and what it
  requires.
* **Vendor imports that only serve asynchronous calls are deferred** (``VENDOR_PATCHES``, then
  ``ram_delegate.deferred_imports`` at run time): each patch is exact text, applied once, and the build fails if the
  SDK's file no longer holds it.
* **Bytecode for the runtime's interpreter.** FC's code directory is read-only, so a missing or mismatched
  ``.pyc`` means compiling from source at every cold start (2.4-4.1 s measured). The package is compiled by the
  runtime's own Python version (``python3.12`` on PATH, pyenv, or ``FC_PYTHON_BIN``) into ``unchecked-hash`` pycs:
  valid whatever timestamps the zip upload and extraction leave (zip stores 2-second times), and identical from one
  build to the next. Tracebacks name ``/code/...``, where FC mounts the code.
* **Reproducible.** Same lock, same interpreter version -> the same files and bytes; the zip is written with sorted
  entries and fixed times, and its SHA-256 is part of the report.

Nothing deployed imports this module (it is a build step, like the CLI).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import modulefinder
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RUNTIME_PYTHON = "3.12"
FC_CODE_ROOT = "/code"
LIBRARY = "ram_delegate"
NEVER_PACKAGED = frozenset({"ram_delegate.local", "ram_delegate.cli", "ram_delegate.demo", "ram_delegate.packaging"})
"""Modules of ours a function must never carry (the scan would only reach them by a mistake worth failing on)."""
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PRODUCT_SDKS = {
    "ram": "alibabacloud_ram20150501",
    "sts": "alibabacloud_sts20150401",
    "resource_manager": "alibabacloud_resourcemanager20200331",
    "slb": "alibabacloud_slb20140515",
    "alb": "alibabacloud_alb20200616",
    "nlb": "alibabacloud_nlb20220430",
    "ecs": "alibabacloud_ecs20140526",
    "fc": "alibabacloud_fc20230330",
}
"""``CloudClients`` accessor -> the SDK it imports: a function carries an SDK only if its code reads the accessor."""


@dataclass(frozen=True)
class VendorPatch:
    path: str
    old: str
    new: str
    why: str


VENDOR_PATCHES = (
    VendorPatch(
        "darabonba/response.py",
        "from aiohttp import ClientResponse\n",
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from aiohttp import ClientResponse\n",
        "the name only annotates a local variable, which Python never evaluates",
    ),
    VendorPatch(
        "darabonba/utils/stream.py",
        "import json\nimport re\nimport aiohttp\n",
        "from __future__ import annotations\n\nimport json\nimport re\nimport aiohttp\n",
        "aiohttp types annotate a parameter; as strings they no longer load aiohttp when the class is defined",
    ),
    VendorPatch(
        "alibabacloud_credentials/provider/ecs_ram_role.py",
        "from apscheduler.schedulers.background import BackgroundScheduler\n",
        "",
        "the scheduler serves the ECS instance-role provider's background refresh only (imported where used below)",
    ),
    VendorPatch(
        "alibabacloud_credentials/provider/ecs_ram_role.py",
        "            scheduler = BackgroundScheduler()\n",
        "            from apscheduler.schedulers.background import BackgroundScheduler\n\n"
        "            scheduler = BackgroundScheduler()\n",
        "the import moved here from the top of the module",
    ),
)
"""Import-time reads of modules a synchronous function never uses; with them gone, ``deferred_imports`` keeps aiohttp
(about a third of a client import), asyncio and aiofiles unloaded, and APScheduler is never imported."""


@dataclass(frozen=True)
class PackageReport:
    function: str
    python: str
    files: int
    mib: float
    zipped_mib: float
    zip_sha256: str
    distributions: tuple[str, ...]


def find_runtime_python(version: str = RUNTIME_PYTHON) -> str | None:
    """An interpreter of the runtime's version: FC_PYTHON_BIN, ``python3.12`` on PATH, or a pyenv install."""
    candidates = [os.environ.get("FC_PYTHON_BIN", ""), shutil.which(f"python{version}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(path) for path in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))]
    for candidate in candidates:
        if candidate and _python_version(candidate) == version:
            return candidate
    return None


def _python_version(interpreter: str) -> str | None:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def stage(lock: Path, stage_dir: Path, wheels: Path, version: str = RUNTIME_PYTHON) -> Path:
    """Install the whole runtime lock for the runtime's Python into ``stage_dir`` once (no bytecode)."""
    marker = stage_dir / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest() + version
    if marker.exists() and marker.read_text() == digest:
        return stage_dir
    shutil.rmtree(stage_dir, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Some Alibaba SDK packages are published as sdists only: build them into (pure-Python) wheels first.
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), "-r", str(lock)], check=True)
    subprocess.run(
        [
            *pip,
            "install",
            "--no-deps",
            "--no-compile",
            "--target",
            str(stage_dir),
            "--platform",
            "manylinux2014_x86_64",
            "--implementation",
            "cp",
            "--python-version",
            version,
            "--only-binary=:all:",
            "--find-links",
            str(wheels),
            "-r",
            str(lock),
        ],
        check=True,
    )
    marker.write_text(digest)
    return stage_dir


class _Finder(modulefinder.ModuleFinder):
    """``modulefinder`` fails on a folder without ``__init__.py`` (a namespace package): treat it as not found."""

    def find_module(  # type: ignore[override]
        self, name: str, path: str | None, parent: modulefinder.Module | None = None
    ) -> object:
        try:
            return super().find_module(name, path, parent)
        except AttributeError:
            raise ImportError(name) from None


@dataclass(frozen=True)
class Reach:
    """What a function's entry reaches: our modules (name -> file) and the third-party modules they import."""

    ours: dict[str, Path]
    third_party: frozenset[str]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_and_attributes(tree: ast.AST, package: str) -> tuple[set[str], set[str]]:
    """The modules a module's code may import (at any depth, never under ``if TYPE_CHECKING:``) and the attribute
    names it reads. ``from x import y`` yields ``x`` and ``x.y`` (``y`` may be a submodule)."""
    imports: set[str] = set()
    attributes: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            imports.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            imports.add(base)
            imports.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute):
            attributes.add(node.attr)
        pending.extend(ast.iter_child_nodes(node))
    return imports, attributes


def _module_file(name: str, root: Path) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reach(entry: Path, library_root: Path) -> Reach:
    """Our modules ``entry`` may import, and the third-party modules those import (product SDKs pruned to the
    ``CloudClients`` accessors the reached code reads)."""
    ours: dict[str, Path] = {}
    outside: set[str] = set()
    attributes: set[str] = set()
    pending: list[tuple[str, Path]] = [("", entry)]
    while pending:
        name, path = pending.pop()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imports, read = _imports_and_attributes(ast.parse(path.read_text(encoding="utf-8")), package)
        attributes |= read
        for imported in imports:
            if _top_level(imported) != LIBRARY:
                outside.add(imported)
                continue
            parts = imported.split(".")
            for depth in range(1, len(parts) + 1):  # a module's parent packages run first
                module = ".".join(parts[:depth])
                file = _module_file(module, library_root)
                if file is not None and module not in ours:
                    ours[module] = file
                    pending.append((module, file))
    unused = {sdk for accessor, sdk in PRODUCT_SDKS.items() if accessor not in attributes}
    return Reach(ours, frozenset(name for name in outside if _top_level(name) not in unused))


def third_party_modules(names: Iterable[str], stage_dir: Path) -> set[str]:
    """The top-level packages under ``stage_dir`` that importing ``names`` may load (lazy imports included).

    A name that is not a module there (the standard library, or ``x.y`` where ``y`` is a class) adds nothing more.
    """
    root = stage_dir.resolve()
    finder = _Finder(path=[str(root)])
    for name in sorted(names):
        try:
            finder.import_hook(name)
        except ImportError:
            continue
    found = set()
    for name, module in finder.modules.items():
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            found.add(_top_level(name))
    return found


def _top_level(name: str) -> str:
    return name.split(".", 1)[0]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(info: Path) -> set[str]:
    """The distributions ``info`` requires (``Requires-Dist`` without an ``extra`` marker), normalised."""
    metadata = info / "METADATA"
    if not metadata.exists():
        return set()
    needed = set()
    for line in metadata.read_text(encoding="utf-8").splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement, _, marker = line.removeprefix("Requires-Dist:").partition(";")
        if "extra" in marker:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match:
            needed.add(_normalise(match[1]))
    return needed


def _distributions_for(stage_dir: Path, top_levels: Iterable[str]) -> dict[str, list[Path]]:
    """``.dist-info`` folder -> its installed files, for the distributions owning any of ``top_levels`` and what
    they require (a C extension may import a module no scan sees, as cryptography's bindings import cffi's)."""
    wanted = set(top_levels)
    installed: dict[str, tuple[Path, list[Path], set[str]]] = {}
    for info in sorted(stage_dir.glob("*.dist-info")):
        record = info / "RECORD"
        if not record.exists():
            continue
        files = [stage_dir / line.split(",", 1)[0] for line in record.read_text().splitlines() if line.strip()]
        tops = {file.relative_to(stage_dir).parts[0].split(".", 1)[0] for file in files}
        name = _normalise(info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        installed[name] = (info, [f for f in files if f.exists() and "__pycache__" not in f.parts], tops)
    chosen = {name for name, (_, _, tops) in installed.items() if tops & wanted}
    pending = list(chosen)
    while pending:
        for required in _requirements(installed[pending.pop()][0]):
            if required in installed and required not in chosen:
                chosen.add(required)
                pending.append(required)
    return {installed[name][0].name: installed[name][1] for name in sorted(chosen)}


def build(function: str, repo: Path, stage_dir: Path, out: Path, python: str) -> PackageReport:
    """Write ``out`` (the function's code directory) from scratch and compile it with ``python``."""
    entry = repo / "functions" / function / "index.py"
    library_root = repo / "shared"
    reached = reach(entry, library_root)
    forbidden = sorted(
        name for name in reached.ours if any(name == n or name.startswith(n + ".") for n in NEVER_PACKAGED)
    )
    if forbidden:
        raise SystemExit(f"{function} reaches modules that must not be deployed: {', '.join(forbidden)}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    third_party = third_party_modules(reached.third_party, stage_dir)
    shutil.copy2(entry, out / "index.py")
    for path in sorted(reached.ours.values()):
        target = out / path.relative_to(library_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        for data in sorted(path.parent.glob("*.json")):  # package data beside a copied module (profiles)
            shutil.copy2(data, target.parent / data.name)
    distributions = _distributions_for(stage_dir, third_party)
    for files in distributions.values():
        for file in files:
            target = out / file.relative_to(stage_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: nothing runs them in a function
    apply_vendor_patches(out)
    apply_lazy_models(out)
    _compile(out, python)
    return _report(function, out, python, tuple(sorted(distributions)))


LAZY_MODELS_HEADER = '''"""{sdk}.models, each model imported at its first use.

Written by ram_delegate.packaging from the SDK's own ``models/__init__.py``, which imported all {count} models at
once although a function uses a handful; the names and the modules defining them are the published file's.
"""'''


def lazy_models_init(text: str, sdk: str) -> str:
    """A product SDK's ``models/__init__.py`` rewritten to import each model on first use (PEP 562).

    The published file is only ``from ._module import Name`` lines and an ``__all__`` of the same names; anything
    else fails the build, as the rewrite would no longer be the same package.
    """
    where: dict[str, str] = {}
    listed: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                where[alias.asname or alias.name] = f".{node.module}:{alias.name}"
            continue
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["__all__"]
            and isinstance(node.value, ast.List)
        ):
            listed = {element.id for element in node.value.elts if isinstance(element, ast.Name)}
            continue
        raise SystemExit(f"{sdk}/models/__init__.py holds more than model imports (line {node.lineno}): review")
    if not where or listed != set(where):
        raise SystemExit(f"{sdk}/models/__init__.py: its __all__ and its imports differ: review the lazy models")
    entries = "".join(f"    {name!r}: {location!r},\n" for name, location in sorted(where.items()))
    return (
        LAZY_MODELS_HEADER.format(sdk=sdk, count=len(where))
        + "\nfrom __future__ import annotations\n\nimport importlib\n\n"
        + f"_WHERE = {{\n{entries}}}\n__all__ = sorted(_WHERE)\n\n\n"
        + "def __getattr__(name: str) -> object:\n"
        + "    try:\n        module, attribute = _WHERE[name].split(':')\n"
        + "    except KeyError:\n"
        + "        raise AttributeError(f'module {__name__!r} has no attribute {name!r}') from None\n"
        + "    value = getattr(importlib.import_module(module, __name__), attribute)\n"
        + "    globals()[name] = value\n    return value\n\n\n"
        + "def __dir__() -> list[str]:\n    return sorted({*globals(), *_WHERE})\n"
    )


def apply_lazy_models(out: Path) -> None:
    """Each product SDK the package carries gets a ``models`` package that imports a model at its first use."""
    for sdk in sorted(set(PRODUCT_SDKS.values())):
        init = out / sdk / "models" / "__init__.py"
        if init.exists():
            init.write_text(lazy_models_init(init.read_text(encoding="utf-8"), sdk), encoding="utf-8")


def apply_vendor_patches(out: Path) -> None:
    """``VENDOR_PATCHES`` on the copied SDK files the package holds; a patch whose text is not there exactly once
    fails the build (the SDK changed: the patch must be looked at again, never skipped)."""
    for patch in VENDOR_PATCHES:
        target = out / patch.path
        if not target.exists():
            continue  # this function does not carry that SDK
        text = target.read_text(encoding="utf-8")
        if text.count(patch.old) != 1:
            raise SystemExit(f"vendor patch for {patch.path} no longer applies ({patch.why}): review VENDOR_PATCHES")
        target.write_text(text.replace(patch.old, patch.new), encoding="utf-8")


def _compile(out: Path, python: str) -> None:
    """One process, files in a fixed order: marshal output can depend on what a worker compiled before (parallel
    workers made pycparser's parser module differ from one build to the next)."""
    subprocess.run(
        [
            python,
            "-I",
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(out),
            "-p",
            FC_CODE_ROOT,
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def mirror(package: Path, code_dir: Path) -> None:
    """Make ``code_dir`` hold exactly the package (its own ``index.py`` is the one the package copied)."""
    for child in code_dir.iterdir():
        if child.name == "index.py":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in package.iterdir():
        if child.name == "index.py":
            continue
        target = code_dir / child.name
        if child.is_dir():
            shutil.copytree(child, target)
        else:
            shutil.copy2(child, target)


def write_zip(directory: Path, target: Path) -> str:
    """A deterministic zip of ``directory`` (sorted entries, fixed times); returns its SHA-256."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return hashlib.sha256(target.read_bytes()).hexdigest()


def _report(function: str, out: Path, python: str, distributions: tuple[str, ...]) -> PackageReport:
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    archive = out.parent / f"{out.name}.zip"
    digest = write_zip(out, archive)
    return PackageReport(
        function=function,
        python=_python_version(python) or "?",
        files=len(files),
        mib=round(size / 2**20, 2),
        zipped_mib=round(archive.stat().st_size / 2**20, 2),
        zip_sha256=digest,
        distributions=distributions,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ram_delegate.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="the folder name under functions/ (e.g. owner-onboard)")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--out", type=Path, help="the code directory to write (default: build/package/<function>)")
    parser.add_argument("--lock", type=Path, help="default: requirements-runtime.lock")
    parser.add_argument(
        "--code-dir",
        type=Path,
        help="also mirror the package into this folder (template.yml's code:), keeping index.py",
    )
    args = parser.parse_args(argv)
    repo: Path = args.repo.resolve()
    if not (repo / "functions" / args.function / "index.py").is_file():
        parser.error(f"no functions/{args.function}/index.py under {repo}")
    python = find_runtime_python()
    if python is None:
        print(
            f"no Python {RUNTIME_PYTHON} found (PATH, pyenv or FC_PYTHON_BIN): the bytecode must be compiled by the "
            "runtime's version, or every cold start compiles from source",
            file=sys.stderr,
        )
        return 2
    build_dir = repo / "build"
    stage_dir = stage(
        args.lock or repo / "requirements-runtime.lock", build_dir / f"stage-cp{RUNTIME_PYTHON}", build_dir / "wheels"
    )
    out = args.out or build_dir / "package" / args.function
    report = build(args.function, repo, stage_dir, out, python)
    if args.code_dir is not None:
        mirror(out, args.code_dir)
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
