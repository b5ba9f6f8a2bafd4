"""``deferred_imports``: a stand-in costs nothing until read, then behaves as the real module in every import form."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ram_delegate.deferred_imports import DeferredModule, defer

NAME = "rd_deferred_probe"


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package that counts its own executions in ``sys.rd_loads`` (nothing else may run it)."""
    package = tmp_path / NAME
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            import sys
            sys.rd_loads = getattr(sys, "rd_loads", 0) + 1
            class Session:
                kind = "real"
            """
        )
    )
    (package / "part.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "rd_loads", 0, raising=False)
    yield package
    for name in [n for n in sys.modules if n == NAME or n.startswith(NAME + ".")]:
        del sys.modules[name]


def test_a_deferred_module_runs_only_when_read_and_then_answers_as_the_real_one(probe: Path) -> None:
    assert defer((NAME,)) == (NAME,)
    stand_in = importlib.import_module(NAME)
    assert isinstance(stand_in, DeferredModule)
    assert sys.rd_loads == 0  # type: ignore[attr-defined]
    assert stand_in.Session.kind == "real"
    assert sys.rd_loads == 1  # type: ignore[attr-defined]
    real = sys.modules[NAME]
    assert real is not stand_in
    assert not isinstance(real, DeferredModule)
    assert stand_in.Session is real.Session
    from rd_deferred_probe import Session  # type: ignore[import-not-found]

    assert Session is real.Session
    assert sys.rd_loads == 1  # type: ignore[attr-defined]


def test_a_submodule_import_through_a_stand_in_loads_the_package_once(probe: Path) -> None:
    defer((NAME,))
    part = importlib.import_module(f"{NAME}.part")
    assert part.VALUE == 42
    assert sys.rd_loads == 1  # type: ignore[attr-defined]
    assert not isinstance(sys.modules[NAME], DeferredModule)


def test_a_module_already_imported_is_left_alone(probe: Path) -> None:
    real = importlib.import_module(NAME)
    assert defer((NAME,)) == ()
    assert sys.modules[NAME] is real
