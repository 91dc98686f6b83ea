"""``ShellTask``: an external command as a task, run the way a careful systemd unit runs.

The command gets its own process group; a timeout or a cancelled run stops the whole group
(SIGTERM, then SIGKILL after ``kill_grace``), so no grandchild outlives its run. Output is
streamed to the log and its tail kept in the run record, in bounded memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sts

from .errors import CommandFailed, CommandSetupError
from .executable import find_executable
from .options import (
    SECRET_REFERENCE,
    parse_command,
    parse_env,
    parse_flag,
    parse_size,
    parse_success_codes,
)
from .output import UTF8_WIDTH, CommandProtocol, LineLogger, OutputTail
from .parent_death import die_with_parent
from .process_group import KILL_WAIT, group_members, signal_group, stop_group

logger = logging.getLogger("sts.shell")

#: Once the process group is gone, how long its pipes may stay open before reading stops:
#: only a process that left the group (``setsid``) can still hold them.
DRAIN_TIMEOUT = 2.0
#: The shell that runs ``shell = true`` commands.
SHELL = "/bin/sh"
_DISPLAY_LIMIT = 120


@dataclass(frozen=True, slots=True)
class ShellResult:
    """What ``ShellTask.run`` returns: the exit code and the kept output tails."""

    returncode: int
    stdout: str
    stderr: str


class ShellTask(sts.Task):
    """Run an external command.

    :param command: the program and its arguments: text split with POSIX shell quoting
        (never run by a shell), or a list. Arguments may contain ``{run_id}``,
        ``{fire_time}``, ``{job}``, ``{attempt}`` and ``{idempotency_key}``; each is
        replaced inside its argument, which stays one argument (``{{job}}`` is a literal
        ``{job}``).
    :param env: variables to set: a mapping, or text of ``KEY=value`` entries separated by
        spaces or newlines, with shell quoting. Values may be ``${secret:NAME}``, resolved
        when the run starts and never logged or stored.
    :param env_clear: start from an empty environment instead of the scheduler's.
    :param cwd: the working directory; the scheduler's by default.
    :param shell: run ``command`` as shell code with ``/bin/sh -c``.
    :param success_codes: exit codes that mean success (``"0 3"`` in a config file).
    :param stdin: text written to the command's standard input (``${secret:NAME}`` is
        resolved); ``/dev/null`` when ``None``.
    :param output_limit: bytes of stdout and of stderr kept in the run record (``"64KiB"``).
    :param log_limit: bytes of stdout and of stderr logged per run (``"1MiB"``); what a
        flooding command prints beyond it is counted and summarised in one log line
        (``... 198 MiB more not logged``), so one job cannot fill (or rotate away) the logs.
    :param kill_grace: how long the process group has to exit after SIGTERM before
        SIGKILL (``"10s"``).
    :param name: the task's name; the program's name by default.
    :raises ValueError: for an invalid option, naming it and what would be valid.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        env: str | Mapping[str, str] | None = None,
        env_clear: bool | str = False,
        cwd: str | os.PathLike[str] | None = None,
        shell: bool | str = False,
        success_codes: str | Iterable[int] = (0,),
        stdin: str | None = None,
        output_limit: int | str = "64KiB",
        log_limit: int | str = "1MiB",
        kill_grace: str | float | timedelta = "10s",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.shell = parse_flag(shell, what="shell")
        self.arguments = parse_command(command, shell=self.shell)
        self.command = command if isinstance(command, str) else shlex.join(self.arguments)
        self.env = parse_env(env)
        self.env_clear = parse_flag(env_clear, what="env_clear")
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.success_codes = parse_success_codes(success_codes)
        if stdin is not None and not isinstance(stdin, str):
            raise ValueError(f"invalid stdin {stdin!r}: expected text")
        self.stdin = stdin
        self.output_limit = parse_size(output_limit, what="output_limit")
        self.log_limit = parse_size(log_limit, what="log_limit")
        self.kill_grace = sts.parse_duration(kill_grace, what="kill_grace")

    @property
    def name(self) -> str:
        # The program's name reads better in the history than "ShellTask".
        if self.has_explicit_name:
            return super().name
        return "shell" if self.shell else os.path.basename(self.arguments[0]) or "shell"

    @property
    def display(self) -> str:
        """The command for messages, shortened."""
        text = " ".join(self.command.split())
        return text if len(text) <= _DISPLAY_LIMIT else text[: _DISPLAY_LIMIT - 3] + "..."

    def __repr__(self) -> str:
        return f"<ShellTask {self.name!r} command={self.display!r}>"

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> ShellResult:
        """Run the command once; raise :class:`CommandFailed` unless it succeeds."""
        run = _current_run_or_none()
        facts = sts.run_facts(self.name)
        secrets: list[str] = []
        env = self._environment(facts, secrets)
        stdin_data = None if self.stdin is None else self._resolve(self.stdin, "stdin", secrets)
        mask = sts.redact  # hides every secret resolved so far, these ones included
        arguments, program = self._program(facts, env)
        job, run_id = facts["job"], facts["run_id"]
        # Every secret this run uses is resolved by now: the margin covers them all.
        margin = sts.redaction_margin() * UTF8_WIDTH
        stdout = OutputTail(self.output_limit, margin)
        stderr = OutputTail(self.output_limit, margin)
        limits = {"log_limit": self.log_limit, "kept": self.output_limit}
        protocol = CommandProtocol(
            {
                1: (stdout, LineLogger(logger, "stdout", job, run_id, mask, **limits)),
                2: (stderr, LineLogger(logger, "stderr", job, run_id, mask, **limits)),
            }
        )
        # Recorded until the group is gone: if the scheduler dies first, a guard process
        # (or the next scheduler, before its first fire) kills the group. First with no
        # number: a kill just after the spawn, before the number is written, must still
        # find a child the command started meanwhile (the death signal misses it).
        sts.track_process_group(None, run_id=run_id, job=job)
        try:
            transport = await self._spawn(protocol, arguments, program, env, stdin_data)
        except BaseException:
            sts.untrack_process_group(run_id)
            raise
        pgid = transport.get_pid()  # the leader of a new group: its pid is the group id
        sts.track_process_group(pgid, run_id=run_id, job=job)
        logger.debug("job=%s run=%s: started %s (pid %d)", job, run_id, self.display, pgid)
        try:
            try:
                await protocol.exited
                await self._stop_leftovers(pgid, job, run_id)
                await _wait_output(protocol, job, run_id)
            except asyncio.CancelledError:
                await self._stop_cancelled(protocol, pgid, run, job, run_id)
                raise
            returncode = transport.get_returncode()
        finally:
            sts.untrack_process_group(run_id)
            transport.close()
            if run is not None:
                for key, tail in (("stdout", stdout), ("stderr", stderr)):
                    if tail.total:
                        run.output[key] = tail.text(mask)
        assert returncode is not None
        if returncode not in self.success_codes:
            program = "shell code" if self.shell else self.arguments[0]
            raise CommandFailed(program, returncode, self.success_codes, stderr.last_line(mask))
        return ShellResult(returncode, stdout.text(mask), stderr.text(mask))

    def _environment(self, facts: Mapping[str, str], secrets: list[str]) -> dict[str, str]:
        env = {} if self.env_clear else dict(os.environ)
        for key, value in self.env.items():
            env[key] = self._resolve(value, f"env {key}", secrets)
        # The run's facts, for shell code, where placeholders are refused.
        env.update({f"STS_{name.upper()}": value for name, value in facts.items()})
        return env

    @staticmethod
    def _resolve(text: str, where: str, secrets: list[str]) -> str:
        try:
            for reference in SECRET_REFERENCE.findall(text):
                secrets.append(sts.resolve_secrets(reference))
            return sts.resolve_secrets(text)
        except sts.SecretError as error:
            raise CommandSetupError(f"{where}: {error}") from None

    def _program(self, facts: Mapping[str, str], env: Mapping[str, str]) -> tuple[list[str], str]:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise CommandSetupError(
                f"the working directory {self.cwd!r} does not exist or is not a directory"
            )
        if self.shell:
            return [SHELL, "-c", self.arguments[0]], SHELL
        arguments = [sts.fill_placeholders(argument, facts) for argument in self.arguments]
        search_path = env.get("PATH", os.defpath)
        return arguments, find_executable(arguments[0], search_path=search_path, cwd=self.cwd)

    async def _spawn(
        self,
        protocol: CommandProtocol,
        arguments: list[str],
        program: str,
        env: Mapping[str, str],
        stdin_data: str | None,
    ) -> asyncio.SubprocessTransport:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: protocol,
                *arguments,
                executable=program,
                stdin=subprocess.DEVNULL if stdin_data is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                env=env,
                process_group=0,  # its own group, so that stopping it reaches every child
                preexec_fn=die_with_parent(),
            )
        except OSError as error:
            raise CommandSetupError(
                f"could not start {program!r}: {error.strerror or error}"
            ) from None
        if stdin_data is not None:
            pipe = transport.get_pipe_transport(0)
            assert isinstance(pipe, asyncio.WriteTransport)
            # Buffered by the transport and closed once written; if the command exits
            # without reading it all, the rest is dropped: its choice.
            pipe.write(stdin_data.encode())
            pipe.close()
        return transport

    async def _stop_leftovers(self, pgid: int, job: str, run_id: str) -> None:
        # Like systemd's KillMode=control-group: what the command left behind in its group
        # (a daemonized helper, a forgotten "&") ends with the run.
        members = group_members(pgid)
        if members:
            logger.warning(
                "job=%s run=%s: the command exited but left %d process(es) in its group "
                "(pids %s); stopping them",
                job,
                run_id,
                len(members),
                ", ".join(map(str, members)),
            )
            await stop_group(pgid, self.kill_grace)

    async def _stop_cancelled(
        self,
        protocol: CommandProtocol,
        pgid: int,
        run: sts.RunContext | None,
        job: str,
        run_id: str,
    ) -> None:
        logger.warning(
            "job=%s run=%s: the run was cancelled or timed out; stopping process group %d "
            "(SIGTERM, SIGKILL after %gs)",
            job,
            run_id,
            pgid,
            self.kill_grace,
        )
        try:
            ended_by = await stop_group(pgid, self.kill_grace)
            await asyncio.wait({protocol.exited}, timeout=KILL_WAIT)
            await _wait_output(protocol, job, run_id)
        except asyncio.CancelledError:
            # Cancelled again while waiting (a scheduler that stops for good): no more grace.
            signal_group(pgid, signal.SIGKILL)
            raise
        if ended_by == "SIGKILL":
            logger.warning(
                "job=%s run=%s: the command did not exit within kill_grace (%gs) of SIGTERM; "
                "killed it with SIGKILL",
                job,
                run_id,
                self.kill_grace,
            )
            note = f"killed with SIGKILL: it outlived SIGTERM by kill_grace ({self.kill_grace:g}s)"
        else:
            note = "stopped with SIGTERM"
        if run is not None:
            run.output["stop"] = note


def _current_run_or_none() -> sts.RunContext | None:
    try:
        return sts.current_run()
    except LookupError:
        return None


async def _wait_output(protocol: CommandProtocol, job: str, run_id: str) -> None:
    if not await protocol.output_closed(DRAIN_TIMEOUT):
        logger.warning(
            "job=%s run=%s: a process outside the command's group (started with setsid?) "
            "still holds its output open; the rest of its output is not read",
            job,
            run_id,
        )
