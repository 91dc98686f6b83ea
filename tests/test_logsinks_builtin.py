"""Log sinks: console, rotating file in the user log dir, JSON lines; chosen in
[logging]; a plugin's sink; the user's own logging config keeps working."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from config_helpers import make_plugins, write_config

import sts
from sts_core.service.config import load_config
from sts_core.service.logsinks import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    console_sink,
    file_sink,
    install_sinks,
    json_sink,
)
from sts_core.service.paths import log_directory

logger = logging.getLogger("sts.test.sinks")


def record(message: str, *args: Any, level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    return logger.makeRecord("sts.test.sinks", level, __file__, 1, message, args, None, extra=extra)


def test_text_format_and_colour() -> None:
    plain = TextFormatter().format(record("job %s done", "a", level=logging.WARNING))
    assert plain.endswith("WARNING sts.test.sinks: job a done")
    coloured = TextFormatter(colour=True).format(record("x", level=logging.ERROR))
    assert "\x1b[31mERROR\x1b[0m" in coloured


def test_console_colours_only_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    handler = console_sink()
    assert isinstance(handler.formatter, TextFormatter) and handler.formatter.colour
    monkeypatch.setenv("NO_COLOR", "1")
    handler = console_sink()
    assert isinstance(handler.formatter, TextFormatter) and not handler.formatter.colour
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delenv("NO_COLOR")
    handler = console_sink()
    assert isinstance(handler.formatter, TextFormatter) and not handler.formatter.colour
    assert isinstance(console_sink(format="json").formatter, JsonFormatter)


def test_json_lines_keep_extra_fields() -> None:
    line = JsonFormatter().format(record("run %s", "r1", job="nightly", attempt=2))
    entry = json.loads(line)
    assert entry["message"] == "run r1"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "sts.test.sinks"
    assert (entry["job"], entry["attempt"]) == ("nightly", 2)
    assert entry["time"].endswith("+00:00")


def test_file_sink_goes_to_the_user_log_dir_and_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    handler = file_sink(scheduler_name="nightly", max_bytes=200, backup_count=2)
    try:
        assert Path(handler.baseFilename) == log_directory() / "nightly.log"  # type: ignore[attr-defined]
        assert str(log_directory()).startswith(str(tmp_path / "state"))
        for number in range(20):
            handler.emit(record("line number %d", number))
    finally:
        handler.close()
    names = sorted(path.name for path in log_directory().iterdir())
    assert names == ["nightly.log", "nightly.log.1", "nightly.log.2"]


def test_json_sink_to_a_file(tmp_path: Path) -> None:
    handler = json_sink(path=tmp_path / "out.jsonl")
    try:
        handler.emit(record("first"))
        handler.emit(record("second"))
    finally:
        handler.close()
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["first", "second"]


def test_install_replaces_earlier_sinks_and_keeps_the_users(tmp_path: Path) -> None:
    sts_logger = logging.getLogger("sts")
    users = logging.StreamHandler(io.StringIO())
    sts_logger.addHandler(users)
    try:
        first = json_sink(path=tmp_path / "a.jsonl")
        install_sinks([first], logging.INFO)
        second = json_sink(path=tmp_path / "b.jsonl")
        install_sinks([second], logging.DEBUG)
        assert second in sts_logger.handlers and first not in sts_logger.handlers
        assert users in sts_logger.handlers
        assert sts_logger.level == logging.DEBUG
    finally:
        sts_logger.removeHandler(users)


def test_logging_section_chooses_the_sinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = write_config(
        tmp_path,
        "[scheduler]\nname = night\nstate = memory\n"
        "[logging]\nlevel = WARNING\nconsole = off\nfile = on\nformat = json\n",
    )
    load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    logging.getLogger("sts.engine").warning("disk %s full", "/var")
    logging.getLogger("sts.engine").info("not shown: below the level")
    for handler in logging.getLogger("sts").handlers:
        handler.flush()
    lines = (log_directory() / "night.log").read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["disk /var full"]


def test_run_keeps_the_configured_level(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[scheduler]\nstate = memory\n[logging]\nlevel = ERROR\n")
    load_config(
        path,
        environ={"LOG_LEVEL": "DEBUG"},
        overrides={"logging": {"level": "ERROR"}},
        plugins=make_plugins(),
    ).build_scheduler()
    configure_logging()  # what TaskScheduler.run() calls: the command line still wins
    assert logging.getLogger("sts").level == logging.ERROR


class ListSink(logging.Handler):
    """A log sink plugin with an option."""

    instances: list[ListSink] = []

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.lines: list[str] = []
        ListSink.instances.append(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{self.prefix}{record.getMessage()}")


class ListSinkPlugin:
    @sts.hookimpl
    def sts_register_log_sinks(self, register: Any) -> None:
        register("list", ListSink)


def test_a_plugin_sink(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[scheduler]\nstate = memory\n[logging]\nconsole = off\nsinks = list\n"
        "[logging:list]\nprefix = >> \n",
    )
    ListSink.instances.clear()
    load_config(path, environ={}, plugins=make_plugins(ListSinkPlugin())).build_scheduler()
    logging.getLogger("sts.x").warning("hello")
    assert [sink.lines for sink in ListSink.instances] == [[">>hello"]]


def test_json_sink_to_a_file_rotates_like_the_file_sink(tmp_path: Path) -> None:
    handler = json_sink(path=tmp_path / "out.jsonl", max_bytes=300, backup_count=2)
    try:
        for number in range(40):
            handler.emit(record("line %d", number))
    finally:
        handler.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["out.jsonl", "out.jsonl.1", "out.jsonl.2"]
    assert all(path.stat().st_size <= 300 for path in tmp_path.iterdir())
    newest = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert newest[-1]["message"] == "line 39"


def test_the_json_sink_redacts_a_secret_before_json_escapes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = 'Qz"Wv\\Xk\nJy'
    monkeypatch.setenv("STS_SINK_SECRET", secret)
    sts.resolve_secrets("${secret:STS_SINK_SECRET}")
    try:
        raise ValueError(f"bad {secret!r}")
    except ValueError:
        failed = logger.makeRecord(
            "sts.test.sinks", logging.ERROR, __file__, 1, "said %s", (secret,), sys.exc_info()
        )
    line = JsonFormatter().format(failed)
    entry = json.loads(line)
    assert entry["message"] == "said ********"
    assert "ValueError: bad '********'" in entry["exception"]
    # The traceback names this file, under a random temporary directory whose name may
    # hold any two letters ("/tmp/tmp.tWvs3MZX7y/..." failed a CI run): look elsewhere.
    shown = line.replace(json.dumps(__file__)[1:-1], "")
    assert not [marker for marker in ("Qz", "Wv", "Xk", "Jy") if marker in shown], line
