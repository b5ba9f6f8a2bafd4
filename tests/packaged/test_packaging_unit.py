"""The packaging step's pieces that need no interpreter of the runtime's version."""

from __future__ import annotations

import os
from pathlib import Path

from ram_delegate.packaging import _requirements, imported_modules, mirror, write_zip

REPO = Path(__file__).resolve().parents[2]


def test_the_zip_depends_on_content_only(tmp_path: Path) -> None:
    folder = tmp_path / "code"
    (folder / "pkg").mkdir(parents=True)
    (folder / "index.py").write_text("x = 1\n")
    (folder / "pkg" / "a.py").write_text("y = 2\n")
    first = write_zip(folder, tmp_path / "one.zip")
    os.utime(folder / "index.py", (1, 1))
    assert write_zip(folder, tmp_path / "two.zip") == first
    (folder / "pkg" / "a.py").write_text("y = 3\n")
    assert write_zip(folder, tmp_path / "three.zip") != first


def test_mirror_keeps_the_source_index_and_drops_stale_files(tmp_path: Path) -> None:
    package, code = tmp_path / "package", tmp_path / "code"
    (package / "lib").mkdir(parents=True)
    (package / "index.py").write_text("packaged copy\n")
    (package / "lib" / "m.py").write_text("m = 1\n")
    (code / "stale").mkdir(parents=True)
    (code / "index.py").write_text("source\n")
    mirror(package, code)
    assert sorted(p.name for p in code.iterdir()) == ["index.py", "lib"]
    assert (code / "index.py").read_text() == "source\n"


def test_requirements_skip_extras(tmp_path: Path) -> None:
    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Name: demo\nRequires-Dist: cffi>=2.0.0 ; platform_python_implementation != 'PyPy'\n"
        "Requires-Dist: Typing_Extensions>=4\nRequires-Dist: bcrypt>=3.1.5 ; extra == 'ssh'\n"
    )
    assert _requirements(info) == {"cffi", "typing-extensions"}


def test_the_scan_follows_lazy_imports_and_never_reaches_the_local_tools() -> None:
    found = imported_modules(REPO / "functions" / "owner-onboard" / "index.py", [REPO / "shared"])
    assert {"ram_delegate.app", "ram_delegate.owner", "ram_delegate.notify", "ram_delegate.cloud"} <= set(found)
    assert not [name for name in found if name.startswith(("ram_delegate.local", "ram_delegate.cli"))]
