"""docs/index.md's Troubleshooting quotes STS's messages as it prints them: each quote is
checked against the message a real run prints (paths put in the doc's place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sts_core.service.cli import main

DOC = (Path(__file__).parent.parent / "docs" / "index.md").read_text()
TROUBLESHOOTING = DOC[DOC.index("## Troubleshooting") :]

FILES = {
    "module": "[job:hello]\ntype = python\ncallable = app.tasks:hello\nschedule = every 10s\n",
    "cron": "[job:nightly]\ntype = python\ncallable = os:getcwd\nschedule = cron 0 3 * * *\n",
    "typo and secret": (
        "[job:backup]\ntype = shell\ncommand = /bin/true\nschedule = every 1h\n"
        "env = TOKEN=${secret:BACKUP_TOKEN}\nretires = 3\n"
    ),
    "cut": "[job:build]\ntype = shell\ncommand = make ; make install\nschedule = every 1h\n",
}


@pytest.mark.parametrize("case", FILES)
def test_each_quoted_message_is_what_sts_prints(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = tmp_path / "srv" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "sts.ini").write_text(FILES[case])
    monkeypatch.chdir(jobs)
    monkeypatch.delenv("BACKUP_TOKEN", raising=False)
    monkeypatch.setenv("STS_SECRETS_DIR", "/run/secrets")
    if case == "cron":
        monkeypatch.setenv("STS_DISABLE_PLUGINS", "cron")
        monkeypatch.setattr("sts_core.plugins._default", None)  # loaded anew, without it
    command = "run" if case == "module" else "check"
    main([command, "sts.ini"] if command == "check" else [command])
    printed = capsys.readouterr().err + "\n".join(r.getMessage() for r in caplog.records)
    lines = [
        line.strip().replace(f"sts {command}: error: ", "").replace(str(jobs), "/srv/jobs")
        for line in printed.splitlines()
    ]
    quoted = [line for line in lines if line.startswith("/srv/jobs/sts.ini:")]
    assert quoted, printed
    for line in quoted:
        # The doc may shorten a long list with "..." and shows an example home directory.
        head = line.split("; looked in")[0].split("expected one of command")[0]
        assert head in TROUBLESHOOTING, head


def test_the_quoted_store_in_use_and_nothing_to_run_messages_are_what_sts_prints(
    tmp_path: Path,
) -> None:
    """Two entries that are not about the config file: a second scheduler on one state
    file, and ``sts run`` with nothing to run."""
    import os
    import re
    import socket

    from sts_core.service.cli.run_command import NOTHING_TO_RUN
    from sts_core.service.sqlite_store import SQLiteStore, StoreInUseError

    path = tmp_path / "sts.db"
    first, second = (SQLiteStore(path, flush_interval=None) for _ in range(2))
    try:
        first.acquire()
        with pytest.raises(StoreInUseError) as raised:
            second.acquire()
    finally:
        first.close()
        second.close()
    printed = str(raised.value).replace(str(path), "/home/me/.local/share/sts/sts.db")
    printed = printed.replace(
        f"pid {os.getpid()} on host {socket.gethostname()}", "pid 4242 on host web1"
    )
    assert f"`sts run: error: {printed}`" in TROUBLESHOOTING
    assert f"`sts run: error: {NOTHING_TO_RUN}`" in TROUBLESHOOTING
    assert re.search(r"STS_CONFIG` names, else `\./sts\.ini`, then\s+`\./config\.ini`", DOC)
