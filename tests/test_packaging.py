"""The distributions as a user installs them: the core is ``sts-scheduler``, every plugin
depends on it with bounds, and each plugin installs into a fresh environment from wheels
alone (no checkout on the path, no editable install hiding a missing dependency)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PLUGIN_DIRS = sorted(path.parent for path in ROOT.glob("plugins/*/pyproject.toml"))
CORE_REQUIREMENT = "sts-scheduler>=0.1,<0.2"

#: Building wheels and environments takes tens of seconds: CI always runs it; a developer's
#: default run skips it, saying how to run it.
needs_packaging_run = pytest.mark.skipif(
    os.environ.get("CI", "").lower() != "true" and not os.environ.get("STS_TEST_PACKAGING"),
    reason="builds wheels and fresh virtual environments (~40 s): CI runs it; "
    "set STS_TEST_PACKAGING=1 to run it here",
)


def project(directory: Path) -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
    return table


def requirement_lines(name: str) -> list[str]:
    lines = (ROOT / ".ci" / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_core_distribution_is_sts_scheduler_with_the_sts_command() -> None:
    core = project(ROOT)
    assert core["name"] == "sts-scheduler"
    assert core["scripts"] == {"sts": "sts_core.service.cli:main"}


@pytest.mark.parametrize("directory", PLUGIN_DIRS, ids=lambda path: path.name)
def test_each_plugin_depends_on_the_core_with_bounds(directory: Path) -> None:
    dependencies = project(directory)["dependencies"]
    assert isinstance(dependencies, list)
    assert CORE_REQUIREMENT in dependencies
    assert not [dep for dep in dependencies if re.match(r"sts([<>=!~ ;\[]|$)", dep)]


def test_the_core_extras_name_every_plugin() -> None:
    extras = project(ROOT)["optional-dependencies"]
    assert isinstance(extras, dict)
    for directory in PLUGIN_DIRS:
        name = str(project(directory)["name"])
        extra = name.removeprefix("sts-")
        assert extras[extra] == [f"{name}>=0.1,<0.2"], extra
        assert f"{name}>=0.1,<0.2" in extras["all"]


def test_the_run_requirements_are_the_core_and_every_plugin_without_tools() -> None:
    run = requirement_lines("requirements-run.txt")
    assert run[0] == "-e ."
    assert sorted(run[1:]) == sorted(f"-e ./plugins/{path.name}" for path in PLUGIN_DIRS), (
        "each plugin has its line '-e ./plugins/NAME' in .ci/requirements-run.txt (which "
        ".ci/requirements.txt includes): the README's demo command installs only that file"
    )
    full = requirement_lines("requirements.txt")
    assert full == ["-r requirements-run.txt", "-e .[dev,bench]"]


def test_install_hints_work_from_a_checkout() -> None:
    from sts_core.plugins import install_hint

    hint = install_hint("sts-cron")
    assert "pip install ./plugins/sts-cron" in hint
    assert (ROOT / "plugins" / "sts-cron" / "pyproject.toml").is_file()
    assert "pip install 'sts-scheduler[cron]'" in hint


def test_no_doc_tells_to_install_an_unpublished_name() -> None:
    # `pip install sts-shell` and `.[all]` cannot work before publication; every install
    # line names a directory, or says "once published".
    texts = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *ROOT.glob("docs/**/*.md")]
    texts += list(ROOT.glob("plugins/*/README.md"))
    wrong = []
    for path in texts:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in re.finditer(r"pip install ([^`\n]*)", line):
                words = re.split(r"&&|;", match.group(1))[0].split()
                names = [w for w in words if not w.startswith(("-", ".", "/", "'"))]
                if names and "once published" not in line and "**not**" not in line:
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert wrong == []


def _pip(*arguments: str | Path, python: str = sys.executable) -> None:
    subprocess.run(
        [python, "-m", "pip", "--disable-pip-version-check", "-q", *map(str, arguments)],
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the core, every plugin, and every third-party dependency: built once."""
    wheels = tmp_path_factory.mktemp("wheelhouse")
    # From copies: setuptools builds in the source tree, and a build/ left there by an
    # earlier run would put modules that no longer exist into the wheels.
    sources = tmp_path_factory.mktemp("sources")
    skip = shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "plugins", "results"
    )
    copies = [shutil.copytree(ROOT, sources / "core", ignore=skip)]
    copies += [shutil.copytree(path, sources / path.name, ignore=skip) for path in PLUGIN_DIRS]
    # Built with this environment's setuptools and wheel (the dev extra has them): an
    # isolated build environment per project costs a minute on a busy machine.
    _pip("wheel", "--no-build-isolation", "--wheel-dir", wheels, *copies)
    return wheels


@needs_packaging_run
@pytest.mark.parametrize("directory", PLUGIN_DIRS, ids=lambda path: path.name)
def test_each_plugin_installs_from_wheels_alone(
    directory: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    name = str(project(directory)["name"])
    module = name.replace("-", "_")
    env = tmp_path / "venv"
    # No pip inside: the outer pip installs into it (--python), which is much faster.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    python = str(env / "bin" / "python")
    _pip(
        "--python",
        python,
        "install",
        "--no-compile",
        "--no-index",
        "--find-links",
        wheelhouse,
        name,
    )
    outside = {**os.environ, "PYTHONPATH": "", "PWD": str(tmp_path)}
    imported = subprocess.run(
        [python, "-c", f"import {module}, sts; print(sts.__file__)"],
        cwd=tmp_path,
        env=outside,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert str(env) in imported.stdout  # from the wheel, not the checkout
    listed = subprocess.run(
        [str(env / "bin" / "sts"), "plugins"], cwd=tmp_path, env=outside, capture_output=True
    )
    assert listed.returncode == 0, listed.stderr
    assert f"[{name} 0.1.0]" in listed.stdout.decode()


@needs_packaging_run
def test_the_core_wheel_holds_exactly_the_source_modules(wheelhouse: Path) -> None:
    import zipfile

    (wheel,) = wheelhouse.glob("sts_scheduler-*.whl")
    packed = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    source = {
        str(path.relative_to(ROOT))
        for package in ("sts", "sts_core")
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert packed == source
