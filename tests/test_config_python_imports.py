"""``type = python`` callables import from the config file's directory, then the current
directory; when they still do not import, the error says where it looked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sts_core.service.config import ConfigError, load_config

CONFIG = """
[job:hello]
type = python
callable = {module}.tasks:hello
schedule = every 1h
"""


@pytest.fixture(autouse=True)
def _own_import_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))


def package(directory: Path, name: str, said: str) -> None:
    (directory / name).mkdir(parents=True)
    (directory / name / "__init__.py").write_text("")
    (directory / name / "tasks.py").write_text(f"def hello():\n    return {said!r}\n")


def test_a_module_beside_the_config_imports_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    package(project, "fh_beside", "beside the config")
    (project / "py.ini").write_text(CONFIG.format(module="fh_beside"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (job,) = load_config(project / "py.ini", environ={}).jobs()
    assert job.task.function() == "beside the config"  # type: ignore[attr-defined]


def test_the_config_directory_comes_before_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    package(project, "fh_both", "config directory")
    package(tmp_path, "fh_both", "current directory")
    (project / "py.ini").write_text(CONFIG.format(module="fh_both"))
    monkeypatch.chdir(tmp_path)
    (job,) = load_config(project / "py.ini", environ={}).jobs()
    assert job.task.function() == "config directory"  # type: ignore[attr-defined]


def test_the_current_directory_is_searched_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    package(tmp_path, "fh_cwd", "current directory")
    (project / "py.ini").write_text(CONFIG.format(module="fh_cwd"))
    monkeypatch.chdir(tmp_path)
    (job,) = load_config(project / "py.ini", environ={}).jobs()
    assert job.task.function() == "current directory"  # type: ignore[attr-defined]


def test_a_missing_module_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "py.ini").write_text(CONFIG.format(module="fh_nowhere"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError) as caught:
        load_config(project / "py.ini", environ={}).jobs()
    text = str(caught.value)
    assert "No module named 'fh_nowhere'" in text
    assert f"looked in {project}, {elsewhere}" in text
