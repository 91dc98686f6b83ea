"""Every configuration error names the file, the line, the section and the key, and says
what would be valid; all problems are found before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import make_plugins, write_config

from sts_core.service.config import ConfigError, load_config
from sts_core.store import MemoryStore

JOB = "[job:report]\ntype = greet\nwho = Ada\nschedule = every 10s\n"


def error_of(tmp_path: Path, text: str, *, build: bool = True) -> str:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config = load_config(path, environ={}, plugins=make_plugins())
        if build:
            # The store named in the file is only opened when none is given.
            config.build_scheduler(store=None if "state" in text else MemoryStore())
    return str(caught.value).replace(str(path), "FILE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[schedular]\nname = x\n",
            ["FILE:1", "[schedular]", "did you mean [scheduler]?", "[job:NAME]"],
        ),
        (
            "[scheduler]\ntimezon = UTC\n",
            ["FILE:2", "[scheduler] timezon", "did you mean 'timezone'?", "stop_grace"],
        ),
        (
            "[scheduler]\ntimezone = Europe/Berln\n",
            ["FILE:2", "[scheduler] timezone", "'Europe/Berln'", "IANA time zone"],
        ),
        (
            "[scheduler]\nname = has space\n",
            ["FILE:2", "[scheduler] name", "letters, digits"],
        ),
        (
            "[logging]\nlevel = LOUD\n",
            ["FILE:2", "[logging] level", "DEBUG, INFO, WARNING, ERROR, CRITICAL"],
        ),
        ("[logging]\nformat = xml\n", ["FILE:2", "[logging] format", "text, json"]),
        ("[logging]\nconsole = maybe\n", ["FILE:2", "[logging] console", "true or false"]),
        ("[scheduler]\nstop_grace = soon\n", ["FILE:2", "[scheduler] stop_grace", "10s"]),
        ("[scheduler]\nmax_workers = 0\n", ["FILE:2", "[scheduler] max_workers", ">= 1"]),
        ("[secrets]\nproviders =\n", ["FILE:2", "[secrets] providers", "env, files"]),
        ("[job:]\ntype = greet\n", ["FILE:1", "[job:]", "needs a name"]),
        ("[DEFAULT]\nretries = 3\n", ["FILE:1", "[DEFAULT]", "unknown section"]),
    ],
)
def test_fixed_sections(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = error_of(tmp_path, text, build=False)
    for part in expected:
        assert part in message, (part, message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retries = 3\n[scheduler]\n", ["FILE:1", "before any section header", "[scheduler]"]),
        ("[logging]\nlevel = INFO\nlevel = DEBUG\n", ["FILE:3", "[logging] level", "twice"]),
        ("[logging]\n[logging]\n", ["FILE:2", "[logging]", "twice"]),
        ("[logging]\nthis is not a key\n", ["FILE:2", "'this is not a key'", "key = value"]),
    ],
)
def test_syntax(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = error_of(tmp_path, text, build=False)
    for part in expected:
        assert part in message, (part, message)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sts.ini"
    path.write_bytes(b"[scheduler]\nname = \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"sts\.ini: the file is not UTF-8 text \(byte 19\)"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            JOB.replace("greet", "gret"),
            ["FILE:2", "[job:report] type", "no task type 'gret'", "installed: greet, python"],
        ),
        (
            JOB.replace("type = greet\n", ""),
            ["FILE:1", "[job:report] type", "missing key", "greet, python"],
        ),
        (
            JOB + "whom = Bob\n",
            ["FILE:5", "[job:report] whom", "did you mean 'who'?", "times (a whole number)"],
        ),
        (JOB + "times = twice\n", ["FILE:5", "[job:report] times", "'twice'", "whole number"]),
        (JOB + "loud = very\n", ["FILE:5", "[job:report] loud", "true or false"]),
        (JOB + "ratio = nan\n", ["FILE:5", "[job:report] ratio", "finite number"]),
        (JOB + "mode = odd\n", ["FILE:5", "[job:report] mode", "one of plain, fancy"]),
        (JOB + "every = 3 parsecs\n", ["FILE:5", "[job:report] every", "duration"]),
        (
            JOB.replace("who = Ada\n", ""),
            ["FILE:1", "[job:report] who", "missing option", "needs who (text)"],
        ),
        (
            JOB.replace("every 10s", "every soon"),
            ["FILE:4", "[job:report] schedule", "'soon'", "500ms"],
        ),
        (
            JOB.replace("every 10s", "hourly"),
            ["FILE:4", "[job:report] schedule", "'hourly'", "kind one of at, every"],
        ),
        (
            JOB.replace("every 10s", "at tomorrow"),
            ["FILE:4", "[job:report] schedule", "'tomorrow'", "ISO 8601"],
        ),
        (
            JOB.replace("every 10s", "cron 0 3 * * *"),
            [
                "FILE:4",
                "[job:report] schedule",
                "pip install ./plugins/sts-cron",
                "sts-scheduler[cron]",
            ],
        ),
        (
            JOB.replace("schedule = every 10s\n", ""),
            ["FILE:1", "[job:report] schedule", "missing key", "'every 10s'"],
        ),
        (JOB + "retries = -1\n", ["FILE:5", "[job:report] retries", "whole number from 0 to 1000"]),
        (JOB + "overlap = sometimes\n", ["FILE:5", "[job:report] overlap", "skip, queue"]),
        (JOB + "timeout = 0s\n", ["FILE:5", "[job:report] timeout", "longer than zero"]),
        (JOB + "timezone = Mars/Base\n", ["FILE:5", "[job:report] timezone", "IANA"]),
        (JOB + "start = monday\n", ["FILE:5", "[job:report] start", "ISO 8601"]),
        (
            JOB + "times = ${secret:COUNT}\n",
            ["FILE:5", "[job:report] times", "secret reference can only fill a text option"],
        ),
        (
            "[job:report]\ntype = python\ncallable = no_such_module_x:run\nschedule = every 1s\n",
            ["FILE:3", "[job:report] callable", "cannot import 'no_such_module_x'"],
        ),
        (
            "[scheduler]\nstate = postgres\n" + JOB,
            ["FILE:2", "[scheduler] state", "no state store 'postgres'", "memory, sqlite"],
        ),
        (
            "[state]\npath = /x\n[scheduler]\nstate = memory\n" + JOB,
            ["FILE:2", "[state] path", "unknown option", "success_history (a whole number)"],
        ),
        (
            "[logging]\nsinks = syslog\n" + JOB,
            ["FILE:2", "[logging] sinks", "no log sink 'syslog'", "console, file, json"],
        ),
        (
            "[logging]\nconsole = on\n[logging:console]\nshade = blue\n" + JOB,
            ["FILE:4", "[logging:console] shade", "unknown option", "colour"],
        ),
        (
            "[secrets]\nproviders = env, vault\n" + JOB,
            ["FILE:2", "[secrets] providers", "no secret provider 'vault'", "env, files"],
        ),
    ],
)
def test_jobs_and_plugins(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = error_of(tmp_path, text)
    for part in expected:
        assert part in message, (part, message)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "[scheduler]\nstate = nowhere\n\n"
        "[job:a]\ntype = greet\nwho = x\nschedule = every never\nretries = lots\n\n"
        "[job:b]\ntype = nope\nschedule = every 1s\n"
    )
    message = error_of(tmp_path, text)
    assert message.startswith("4 problems in the configuration:")
    for part in [
        "FILE:7: [job:a] schedule",
        "FILE:8: [job:a] retries",
        "FILE:11: [job:b] type",
        "FILE:2: [scheduler] state",
    ]:
        assert part in message, (part, message)


def test_a_bad_config_creates_no_store_and_no_log_file(tmp_path: Path) -> None:
    text = (
        f"[scheduler]\nstate = sqlite\n[state]\npath = {tmp_path}/state.db\n"
        f"[logging]\nfile = {tmp_path}/sts.log\n"
        "[job:a]\ntype = greet\nwho = x\nschedule = every never\n"
    )
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError):
        load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sts.ini"]


def test_a_secret_like_value_is_never_quoted(tmp_path: Path) -> None:
    class Login:
        def __init__(self, password: int) -> None:
            self.password = password

    message = error_of(tmp_path, JOB + "ratio = x\n")
    assert "'x'" in message  # ordinary values are quoted...
    from sts_core.service.config.layers import Setting
    from sts_core.service.config.options import convert_options, signature_of

    _, problems = convert_options(
        signature_of(Login),
        "job:login",
        {"password": Setting("hunter2-plain", "FILE:3")},
        what="login",
        section_origin="FILE:1",
    )
    assert problems and "password" in str(problems[0])
    assert "hunter2-plain" not in str(problems[0])  # ...a secret-like one is not
