"""Secrets in env (and stdin): given to the command, absent from logs and the store."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sts_shell import ShellTask

import sts

RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]

SECRET = "tok-5f1b9c2e8d7a"
# Receives the secret, keeps it where the test can check it, prints it everywhere it can,
# and fails, so that every path to the log and the store is taken.
LEAKY = (
    "import os, sys\n"
    "token = os.environ['API_TOKEN']\n"
    "open(sys.argv[1], 'w').write(token + '|' + sys.stdin.read())\n"
    "print('token is', token)\n"
    "print('connecting with', os.environ['DSN'], file=sys.stderr)\n"
    "sys.exit(2)\n"
)


def test_a_secret_reaches_the_command_but_no_log_and_no_record(
    run_job: RunJob,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("STS_SHELL_TEST_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    received = tmp_path / "received"
    task = ShellTask(
        [sys.executable, "-c", LEAKY, str(received)],
        env="API_TOKEN=${secret:STS_SHELL_TEST_TOKEN} "
        "'DSN=postgres://app:${secret:STS_SHELL_TEST_TOKEN}@db/app'",
        stdin="${secret:STS_SHELL_TEST_TOKEN}",
    )
    record, history = asyncio.run(run_job(task, retries=1, backoff="10ms"))
    assert received.read_text() == f"{SECRET}|{SECRET}"
    assert record.outcome is sts.Outcome.FAILED and len(history) == 2
    assert record.output == {
        "stdout": "token is ********\n",
        "stderr": "connecting with postgres://app:********@db/app\n",
    }
    assert record.error is not None and record.error.endswith(
        "exited with code 2 (success codes: 0): connecting with postgres://app:********@db/app"
    )
    logged = "\n".join(f"{r.getMessage()} {r.__dict__} {r.exc_text or ''}" for r in caplog.records)
    assert "token is ********" in logged  # the output was logged, masked
    assert SECRET not in logged
    assert SECRET not in caplog.text
    assert all(SECRET not in repr(r) for r in history)
    assert SECRET not in repr(task.__dict__)


def test_a_missing_secret_names_it_fails_at_once_and_starts_nothing(
    run_job: RunJob, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    task = ShellTask(["touch", str(marker)], env="TOKEN=${secret:STS_SHELL_NO_SUCH_SECRET}")
    record, history = asyncio.run(run_job(task, retries=3))
    assert record.error is not None
    assert record.error.startswith(
        "CommandSetupError: env TOKEN: secret 'STS_SHELL_NO_SUCH_SECRET' was not found"
    )
    assert len(history) == 1  # not retried
    assert not marker.exists()


def test_secrets_are_resolved_at_each_run_not_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = ShellTask(["sh", "-c", "echo ${#TOKEN}"], env={"TOKEN": "${secret:STS_SHELL_ROTATED}"})
    monkeypatch.setenv("STS_SHELL_ROTATED", "first-value")
    assert asyncio.run(task.run()).stdout == "11\n"
    monkeypatch.setenv("STS_SHELL_ROTATED", "second-longer-value")
    assert asyncio.run(task.run()).stdout == "19\n"


# The secret arrives in two reads 0.2 s apart, straddles the 8 KiB log piece, and holds a
# newline, so a logger that cut before masking would log part of it in each piece or line.
SPLIT = (
    "import os, sys, time\n"
    "token = os.environ['TOKEN']\n"
    "half = len(token) // 2\n"
    "out = sys.stdout.buffer\n"
    "out.write(b'x' * (8192 - half) + token[:half].encode()); out.flush(); time.sleep(0.2)\n"
    "out.write(token[half:].encode() + b'y\\n'); out.flush()\n"
)
SPLIT_SECRET = "Qz-Kw\nVx-Üm-Jz"


def test_a_secret_cut_by_reads_pieces_or_lines_is_never_logged_in_part(
    run_job: RunJob, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STS_SHELL_SPLIT_TOKEN", SPLIT_SECRET)
    caplog.set_level(logging.INFO, logger="sts.shell")
    task = ShellTask([sys.executable, "-c", SPLIT], env="TOKEN=${secret:STS_SHELL_SPLIT_TOKEN}")
    record, _ = asyncio.run(run_job(task))
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error
    logged = "".join(
        r.getMessage().split(": ", 1)[1] for r in caplog.records if "stdout" in r.getMessage()
    )
    assert logged == "x" * (8192 - len(SPLIT_SECRET) // 2) + "********y"
    assert record.output["stdout"].endswith("x********y\n")
    for part in ("Qz", "Kw", "Vx", "Üm", "Jz"):
        assert part not in caplog.text
