"""The packaging step's pieces that need no interpreter of the runtime's version."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ram_delegate.packaging import (
    VENDOR_PATCHES,
    Reach,
    _requirements,
    apply_vendor_patches,
    lazy_models_init,
    mirror,
    reach,
    write_zip,
)

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
    found = reach(REPO / "functions" / "owner-onboard" / "index.py", REPO / "shared").ours
    assert {"ram_delegate.handlers.owner_onboard", "ram_delegate.owner", "ram_delegate.notify"} <= set(found)
    assert "ram_delegate.cloud" in found  # imported lazily inside a function
    assert not [name for name in found if name.startswith(("ram_delegate.local", "ram_delegate.cli"))]
    assert "ram_delegate.app" not in found  # the five-in-one module is for the local host and the tests


def test_vendor_patches_apply_exactly_and_fail_loudly_when_the_sdk_changed(tmp_path: Path) -> None:
    for patch in VENDOR_PATCHES:
        target = tmp_path / patch.path
        target.parent.mkdir(parents=True, exist_ok=True)
        before = target.read_text() if target.exists() else "# vendor file\n"
        target.write_text(before + patch.old)
    apply_vendor_patches(tmp_path)
    for patch in VENDOR_PATCHES:
        assert patch.new in (tmp_path / patch.path).read_text()
    credentials = (tmp_path / "alibabacloud_credentials/provider/ecs_ram_role.py").read_text()
    assert "\nfrom apscheduler" not in credentials  # imported only where the scheduler is started
    changed = tmp_path / VENDOR_PATCHES[0].path
    changed.write_text("from aiohttp import ClientResponse, ClientSession\n")
    with pytest.raises(SystemExit, match="no longer applies"):
        apply_vendor_patches(tmp_path)


def test_the_scan_keeps_each_function_to_its_own_paths_and_clients() -> None:
    def reached(function: str) -> Reach:
        return reach(REPO / "functions" / function / "index.py", REPO / "shared")

    partner, verify, owner = reached("partner-onboard"), reached("partner-verify"), reached("owner-onboard")
    expire = reached("partner-expire")
    assert "ram_delegate.handlers.partner_onboard" in partner.ours
    for side in (partner, expire):
        assert not [name for name in side.ours if name.startswith(("ram_delegate.intake.", "ram_delegate.owner"))]
        tops = {name.split(".")[0] for name in side.third_party}
        assert "yaml" not in tops
        partner_never = {"alibabacloud_sts20150401", "alibabacloud_slb20140515", "alibabacloud_fc20230330"}
        assert not tops & {*partner_never, "alibabacloud_resourcemanager20200331"}
    assert {"alibabacloud_sts20150401", "alibabacloud_slb20140515"} <= {n.split(".")[0] for n in verify.third_party}
    owner_tops = {name.split(".")[0] for name in owner.third_party}
    assert {"yaml", "alibabacloud_fc20230330", "alibabacloud_resourcemanager20200331"} <= owner_tops
    assert not owner_tops & {"alibabacloud_sts20150401", "alibabacloud_slb20140515", "alibabacloud_ecs20140526"}


PUBLISHED_MODELS = """# -*- coding: utf-8 -*-
from __future__ import annotations

from ._thing_request import ThingRequest
from ._thing_response_body import ThingResponseBody
from ._thing_response_body import ThingResponseBodyPart

__all__ = [
    ThingRequest,
    ThingResponseBody,
    ThingResponseBodyPart
]
"""


def test_lazy_models_import_a_model_at_its_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "rd_fake_sdk" / "models"
    models.mkdir(parents=True)
    (models.parent / "__init__.py").write_text("")
    (models / "__init__.py").write_text(lazy_models_init(PUBLISHED_MODELS, "rd_fake_sdk"))
    (models / "_thing_request.py").write_text("class ThingRequest:\n    pass\n")
    (models / "_thing_response_body.py").write_text(
        "from rd_fake_sdk import models as main_models\n\n"
        "class ThingResponseBody:\n    part = None\n\n"
        "class ThingResponseBodyPart:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import rd_fake_sdk.models as loaded  # type: ignore[import-not-found]

    try:
        assert loaded.__all__ == ["ThingRequest", "ThingResponseBody", "ThingResponseBodyPart"]
        assert "rd_fake_sdk.models._thing_request" not in sys.modules
        from rd_fake_sdk.models import ThingResponseBodyPart  # type: ignore[import-not-found]

        assert ThingResponseBodyPart.__module__ == "rd_fake_sdk.models._thing_response_body"
        assert "rd_fake_sdk.models._thing_request" not in sys.modules
        assert loaded.ThingRequest.__name__ == "ThingRequest"
        with pytest.raises(AttributeError):
            _ = loaded.Missing
    finally:
        for name in [n for n in sys.modules if n.startswith("rd_fake_sdk")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    "published",
    [
        PUBLISHED_MODELS + "VERSION = '1'\n",
        PUBLISHED_MODELS.replace("    ThingResponseBodyPart\n", "    ThingResponseBody\n"),
    ],
    ids=["extra-statement", "all-differs"],
)
def test_lazy_models_refuse_a_file_that_is_not_only_model_imports(published: str) -> None:
    with pytest.raises(SystemExit, match="review"):
        lazy_models_init(published, "rd_fake_sdk")
