"""Real commands run through a real scheduler: exit codes, signals, errors, arguments."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sts_shell import CommandFailed, CommandSetupError, ShellTask

import sts

RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]
PRINT_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"


def test_success_keeps_the_output_in_the_record(run_job: RunJob) -> None:
    task = ShellTask(["sh", "-c", "echo out; echo err >&2"])
    record, _ = asyncio.run(run_job(task))
    assert record.outcome is sts.Outcome.SUCCEEDED
    assert record.output == {"stdout": "out\n", "stderr": "err\n"}


def test_failure_exit_code_fails_the_run_with_the_code_and_the_output_tail(run_job: RunJob) -> None:
    task = ShellTask(["sh", "-c", "echo copying; echo 'disk full' >&2; exit 3"])
    record, _ = asyncio.run(run_job(task))
    assert record.outcome is sts.Outcome.FAILED
    assert record.error == ("CommandFailed: 'sh' exited with code 3 (success codes: 0): disk full")
    assert record.output == {"stdout": "copying\n", "stderr": "disk full\n"}


def test_an_exit_code_in_success_codes_succeeds(run_job: RunJob) -> None:
    record, _ = asyncio.run(run_job(ShellTask("sh -c 'exit 3'", success_codes="0 3")))
    assert record.outcome is sts.Outcome.SUCCEEDED


def test_a_failed_command_is_retried_per_the_jobs_policy(run_job: RunJob) -> None:
    task = ShellTask(["sh", "-c", "echo attempt $STS_ATTEMPT >&2; exit 1"])
    record, history = asyncio.run(run_job(task, retries=1, backoff="10ms"))
    assert [r.attempt for r in history] == [2, 1]
    assert [r.output["stderr"] for r in history] == ["attempt 2\n", "attempt 1\n"]
    assert record.outcome is sts.Outcome.FAILED and record.retry_at is None


def test_signal_death_names_the_signal(run_job: RunJob) -> None:
    record, _ = asyncio.run(run_job(ShellTask(["sh", "-c", "kill -SEGV $$"])))
    assert record.outcome is sts.Outcome.FAILED
    assert record.error is not None and record.error.endswith("was killed by signal SIGSEGV (11)")


def test_a_missing_executable_names_it_and_is_not_retried(run_job: RunJob) -> None:
    record, history = asyncio.run(run_job(ShellTask("/opt/nowhere/backup --full"), retries=2))
    assert record.error == "CommandSetupError: the executable '/opt/nowhere/backup' does not exist"
    assert len(history) == 1


def test_a_missing_executable_or_secret_logs_one_line_a_fire(
    run_job: RunJob, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An expected set-up problem: its traceback says nothing more than its line, and a job
    # firing every minute must not fill the log with twelve lines a fire.
    monkeypatch.delenv("STS_SHELL_NO_SUCH_SECRET", raising=False)
    missing_secret = ShellTask("true", env="TOKEN=${secret:STS_SHELL_NO_SUCH_SECRET}")
    with caplog.at_level(logging.ERROR, logger="sts"):
        asyncio.run(run_job(ShellTask("/opt/nowhere/backup --full"), name="backup"))
        asyncio.run(run_job(missing_secret, name="token"))
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [getattr(record, "job", None) for record in failures] == ["backup", "token"]
    assert all(record.exc_info is None for record in failures)
    assert "does not exist" in failures[0].getMessage()
    assert "STS_SHELL_NO_SUCH_SECRET" in failures[1].getMessage()


def test_a_program_missing_from_path_names_the_path() -> None:
    task = ShellTask("no-such-program-xyz", env="PATH=/usr/bin:/bin")
    with pytest.raises(CommandSetupError, match=r"'no-such-program-xyz' was not found in PATH "):
        asyncio.run(task.run())


def test_a_non_executable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    script = tmp_path / "backup.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(CommandSetupError, match=rf"'{script}' is not executable \(mode -rw-r--r--"):
        asyncio.run(ShellTask([str(script)]).run())
    # The same file found through PATH gets the same message.
    with pytest.raises(CommandSetupError, match=rf"'{script}' is not executable"):
        asyncio.run(ShellTask("backup.sh", env=f"PATH={tmp_path}").run())


def test_a_missing_working_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandSetupError, match=r"working directory '.*/gone' does not exist"):
        asyncio.run(ShellTask("pwd", cwd=tmp_path / "gone").run())


def test_cwd_and_relative_programs(tmp_path: Path) -> None:
    script = tmp_path / "hello"
    script.write_text("#!/bin/sh\npwd\n")
    script.chmod(0o755)
    result = asyncio.run(ShellTask("./hello", cwd=tmp_path).run())
    assert result.stdout == f"{tmp_path}\n"


def test_dangerous_arguments_arrive_verbatim_as_one_argument_each(
    tmp_path: Path, run_job: RunJob
) -> None:
    victim = tmp_path / "x"
    victim.mkdir()
    pwned = tmp_path / "pwned"
    command = (
        f'{sys.executable} -c "{PRINT_ARGV}" "; rm -rf {victim}" "$(touch {pwned})" '
        f"'`touch {pwned}`' {{job}} --id={{run_id}}"
    )
    task = ShellTask(command)
    record, _ = asyncio.run(run_job(task, retries=0))
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error
    assert json.loads(record.output["stdout"]) == [
        f"; rm -rf {victim}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        task.name,
        f"--id={record.run_id}",
    ]
    assert victim.is_dir() and not pwned.exists()


def test_a_job_name_with_shell_syntax_is_substituted_as_plain_text(
    tmp_path: Path, run_job: RunJob
) -> None:
    pwned = tmp_path / "pwned"
    name = f"nightly; touch {pwned} $(touch {pwned})"
    task = ShellTask([sys.executable, "-c", PRINT_ARGV, "{job}", "{fire_time}", "{attempt}"])
    record, _ = asyncio.run(run_job(task, name=name))
    assert json.loads(record.output["stdout"]) == [name, record.fire_time.isoformat(), "1"]
    assert not pwned.exists()


def test_env_clear_passes_only_the_given_variables_and_the_run_facts(run_job: RunJob) -> None:
    task = ShellTask("/usr/bin/env", env="ONLY='one value'", env_clear=True)
    record, _ = asyncio.run(run_job(task))
    variables = dict(line.split("=", 1) for line in record.output["stdout"].splitlines())
    assert variables == {
        "ONLY": "one value",
        "STS_JOB": "env",
        "STS_RUN_ID": record.run_id,
        "STS_FIRE_TIME": record.fire_time.isoformat(),
        "STS_ATTEMPT": "1",
        "STS_IDEMPOTENCY_KEY": f"env@{record.fire_time.astimezone(UTC).isoformat()}",
    }


def test_the_environment_is_inherited_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STS_SHELL_INHERITED", "from the scheduler")
    result = asyncio.run(
        ShellTask(["sh", "-c", "echo $STS_SHELL_INHERITED $EXTRA"], env={"EXTRA": "x"}).run()
    )
    assert result.stdout == "from the scheduler x\n"


def test_stdin_text_is_written_to_the_command() -> None:
    result = asyncio.run(ShellTask("cat", stdin="line 1\nline 2\n").run())
    assert result.stdout == "line 1\nline 2\n"
    # Without stdin the command reads /dev/null, never the scheduler's terminal.
    assert asyncio.run(ShellTask("cat").run()).stdout == ""


def test_shell_mode_runs_shell_code_with_the_facts_in_the_environment(run_job: RunJob) -> None:
    task = ShellTask('for word in a b; do echo "$word-$STS_JOB"; done | tr a-z A-Z', shell=True)
    record, _ = asyncio.run(run_job(task))
    assert record.output["stdout"] == "A-SHELL\nB-SHELL\n"


def test_a_command_awaited_directly_raises_command_failed() -> None:
    with pytest.raises(CommandFailed) as failure:
        asyncio.run(ShellTask(["sh", "-c", "exit 7"]).run())
    assert (failure.value.returncode, failure.value.signal) == (7, None)
    assert os.path.basename(sys.executable)  # the interpreter is still here
