"""Config layers and their precedence: defaults < file < config sources < environment <
command line; where the file is found; what each value's origin says; `sts config`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from config_helpers import make_plugins, write_config

import sts
from sts_core.service.config import Config, ConfigError, load_config

FILE = """\
[scheduler]
timezone = Europe/Berlin
stop_grace = 10s

[logging]
level = WARNING   ; an inline comment is not part of the value
format = json
"""


def test_defaults_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-such-dir"))
    config = load_config(environ={})
    assert config.path is None
    assert config.scheduler_name == "sts"
    assert config.value("scheduler", "state") == "sqlite"
    assert config.value("logging", "level") == "INFO"
    assert config.origin("logging", "level") == "default"
    assert config.value("scheduler", "max_workers") is None
    assert config.origin("scheduler", "max_workers") == "unset"


def test_file_values_carry_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, FILE)
    config = load_config(path, environ={})
    assert config.path == path
    assert config.value("scheduler", "timezone") == "Europe/Berlin"
    assert config.origin("scheduler", "timezone") == f"{path}:2"
    assert config.value("logging", "level") == "WARNING"
    assert config.origin("logging", "level") == f"{path}:6"
    assert config.origin("scheduler", "name") == "default"


def test_environment_beats_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, FILE)
    environ = {"STS_SCHEDULER_TIMEZONE": "UTC", "LOG_LEVEL": "debug", "STS_CONFIG": "ignored"}
    config = load_config(path, environ=environ)
    assert config.value("scheduler", "timezone") == "UTC"
    assert config.origin("scheduler", "timezone") == "env STS_SCHEDULER_TIMEZONE"
    assert config.value("logging", "level") == "debug"
    assert config.origin("logging", "level") == "env LOG_LEVEL"
    assert config.origin("scheduler", "stop_grace") == f"{path}:3"


def test_sts_logging_level_beats_log_level(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, FILE),
        environ={"LOG_LEVEL": "DEBUG", "STS_LOGGING_LEVEL": "ERROR"},
    )
    assert (config.value("logging", "level"), config.origin("logging", "level")) == (
        "ERROR",
        "env STS_LOGGING_LEVEL",
    )


def test_engine_switches_are_not_keys(tmp_path: Path) -> None:
    # STS_SECRETS_DIR and friends look like STS_<SECTION>_<KEY> but are no config keys.
    config = load_config(
        write_config(tmp_path, FILE),
        environ={"STS_SECRETS_DIR": "/x", "STS_BLOCKING": "false", "STS_LOAD_PLUGINS": "a"},
    )
    assert config.value("secrets", "dir") is None
    assert "dir" not in config.render()


def test_command_line_beats_the_environment(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, FILE),
        environ={"LOG_LEVEL": "DEBUG", "STS_SCHEDULER_NAME": "from-env"},
        overrides={"logging": {"level": "CRITICAL"}},
    )
    assert config.value("logging", "level") == "CRITICAL"
    assert config.origin("logging", "level") == "command line"
    assert config.scheduler_name == "from-env"


class DictSource:
    """A config source plugin: a dict, with options from [source:dict]."""

    loaded: list[dict[str, Any]] = []

    def __init__(self, prefix: str, retries: int = 0) -> None:
        self.prefix = prefix
        self.retries = retries
        self.origin = f"dict://{prefix}"

    def load(self) -> dict[str, dict[str, str]]:
        DictSource.loaded.append({"prefix": self.prefix, "retries": self.retries})
        return {
            "scheduler": {"timezone": "America/New_York", "stop_grace": "5s"},
            "logging": {"format": "text"},
        }


class DictSourcePlugin:
    @sts.hookimpl
    def sts_register_config_sources(self, register: Any) -> None:
        register("dict", DictSource)


def test_config_source_sits_between_file_and_environment(tmp_path: Path) -> None:
    text = FILE.replace("[scheduler]\n", "[scheduler]\nsources = dict\n")
    path = write_config(tmp_path, text + "\n[source:dict]\nprefix = /sts\nretries = 2\n")
    DictSource.loaded.clear()
    config = load_config(
        path,
        environ={"STS_SCHEDULER_STOP_GRACE": "1s"},
        plugins=make_plugins(DictSourcePlugin()),
    )
    assert DictSource.loaded == [{"prefix": "/sts", "retries": 2}]  # options converted
    # The source beats the file...
    assert config.value("scheduler", "timezone") == "America/New_York"
    assert config.origin("scheduler", "timezone") == "dict:///sts"
    assert config.value("logging", "format") == "text"
    # ...and the environment beats the source.
    assert config.value("scheduler", "stop_grace") == "1s"
    assert config.origin("scheduler", "stop_grace") == "env STS_SCHEDULER_STOP_GRACE"


def test_a_missing_config_source_names_the_installed_ones(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[scheduler]\nsources = etcd\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={}, plugins=make_plugins())
    text = str(caught.value)
    assert f"{path}:2" in text and "[scheduler] sources" in text
    assert "no config source 'etcd' is installed" in text


@pytest.mark.parametrize("where", ["[config] sources", "STS_CONFIG_SOURCES"])
def test_config_sources_are_listed_in_the_config_section_or_its_variable(
    tmp_path: Path, where: str
) -> None:
    """``[config] sources`` (the issue's spelling) and ``STS_CONFIG_SOURCES`` turn a source
    on, as ``[scheduler] sources`` does; a missing one is named with its key."""
    in_file = "[config]\nsources = dict\n" if where.startswith("[") else ""
    environ = {} if in_file else {"STS_CONFIG_SOURCES": "dict"}
    path = write_config(tmp_path, f"{FILE}\n{in_file}\n[source:dict]\nprefix = /c\n")
    DictSource.loaded.clear()
    config = load_config(path, environ=environ, plugins=make_plugins(DictSourcePlugin()))
    assert DictSource.loaded == [{"prefix": "/c", "retries": 0}]
    assert config.origin("scheduler", "timezone") == "dict:///c"
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ, plugins=make_plugins())
    assert "[config] sources" in str(caught.value)


@pytest.mark.parametrize("how", ["argument", "env", "cwd", "cwd-config", "user"])
def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    places = {
        "argument": tmp_path / "given.ini",
        "env": tmp_path / "from-env.ini",
        "cwd": tmp_path / "work" / "sts.ini",
        "cwd-config": tmp_path / "work" / "config.ini",  # the seed README's name
        "user": tmp_path / "xdg" / "sts" / "config.ini",
    }
    order = list(places)
    for name in order[order.index(how) :]:  # the wanted place and every later one exist
        places[name].parent.mkdir(parents=True, exist_ok=True)
        places[name].write_text(f"[scheduler]\nname = {name}\n")
    (tmp_path / "work").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    environ = {"STS_CONFIG": str(places["env"])} if how in ("argument", "env") else {}
    path = places["argument"] if how == "argument" else None
    config = load_config(path, environ=environ)
    assert config.scheduler_name == how
    assert config.path == places[how].absolute()


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the --config option.*missing\.ini.*does not exist"):
        load_config(tmp_path / "missing.ini", environ={})
    with pytest.raises(ConfigError, match=r"env STS_CONFIG.*gone\.ini.*does not exist"):
        load_config(environ={"STS_CONFIG": str(tmp_path / "gone.ini")})


def test_render_shows_every_value_with_its_origin(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        FILE + "\n[job:greeting]\ntype = greet\nwho = Ada\nschedule = every 10s\n",
    )
    config = load_config(
        path, environ={"LOG_LEVEL": "ERROR"}, overrides={"scheduler": {"name": "cli"}}
    )
    lines = config.render().splitlines()
    assert f"# effective configuration; file: {path}" == lines[0]

    def line_of(entry: str) -> str:
        return next(line for line in lines if line.startswith(entry))

    assert line_of("timezone = Europe/Berlin").endswith(f"; {path}:2")
    assert line_of("level = ERROR").endswith("; env LOG_LEVEL")
    assert line_of("name = cli").endswith("; command line")
    assert line_of("state = sqlite").endswith("; default")
    assert line_of("who = Ada").endswith(f"; {path}:11")
    assert "[job:greeting]" in lines


def test_render_reads_back_as_the_same_values(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, FILE + "\n[job:x]\ntype = greet\nwho = a, b\nschedule = every 1s\n"
    )
    config = load_config(path, environ={})
    again = load_config(write_config(tmp_path, config.render(), name="again.ini"), environ={})
    for section, keys in config.settings.sections.items():
        for key, setting in keys.items():
            assert again.value(section, key) == setting.value


def test_config_is_a_plain_object(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, FILE), environ={})
    assert isinstance(config, Config)
    assert config.job_names == []


def test_a_found_file_of_another_scheduler_is_not_mixed_into_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sts.ini").write_text(
        "[scheduler]\nname = app\n\n[job:backup]\ntype = python\ncallable = os:getcwd\n"
        "schedule = every 1h\n"
    )
    mine = load_config(overrides={"scheduler": {"name": "app"}}, environ={})
    assert mine.job_names == ["backup"]
    other = load_config(overrides={"scheduler": {"name": "demo"}}, environ={})
    assert other.path is None and other.job_names == [] and other.scheduler_name == "demo"
    assert "configures the scheduler 'app', not 'demo'" in other.warnings[0]
    # Named explicitly, the file is the user's choice: --name renames its scheduler.
    named = load_config(tmp_path / "sts.ini", overrides={"scheduler": {"name": "demo"}}, environ={})
    assert named.job_names == ["backup"] and named.scheduler_name == "demo"
