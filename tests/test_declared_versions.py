"""The versions the distributions declare are the ones the tests run: each installed
dependency satisfies its declared bounds, and the bounds are the ones that matter."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).parent.parent


def declared(directory: Path, extra: str | None = None) -> dict[str, Requirement]:
    project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
    lines = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {(req := Requirement(line)).name: req for line in lines}


def lower_bound(requirement: Requirement) -> Version:
    (bound,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return Version(bound)


@pytest.mark.parametrize(
    ("directory", "extra"),
    [
        (ROOT, None),
        (ROOT, "dev"),
        *[(p.parent, None) for p in ROOT.glob("plugins/*/pyproject.toml")],
    ],
    ids=lambda value: value if isinstance(value, str) else getattr(value, "name", "core"),
)
def test_installed_versions_satisfy_what_is_declared(directory: Path, extra: str | None) -> None:
    for name, requirement in declared(directory, extra).items():
        if name.startswith("sts-"):
            continue  # ours: installed from the checkout
        installed = metadata.version(name)
        assert requirement.specifier.contains(installed, prereleases=True), (name, installed)


def test_pytest_asyncio_is_new_enough_for_the_loop_scope_setting() -> None:
    # asyncio_default_fixture_loop_scope (pyproject's pytest options) came in 0.24.
    assert lower_bound(declared(ROOT, "dev")["pytest-asyncio"]) >= Version("0.24")


def test_textual_is_bounded_to_the_major_version_the_tests_run() -> None:
    textual = declared(ROOT / "plugins" / "sts-tui")["textual"]
    installed = Version(metadata.version("textual"))
    assert lower_bound(textual).major == installed.major
    assert not textual.specifier.contains(f"{installed.major + 1}.0")


def test_the_zone_database_comes_with_the_core() -> None:
    # zoneinfo needs the IANA database: Windows and slim containers have none.
    assert "tzdata" in declared(ROOT)
