"""Why a shell task failed: its command could not start, or it ended badly."""

from __future__ import annotations

import signal

import sts


class CommandSetupError(sts.SetupError):
    """The command could not be started: a missing executable, a bad working directory, a
    secret that cannot be resolved.

    It is a ``SetupError`` (a ``PermanentError``), so the run is not retried: retrying at
    once rarely fixes a missing file, and the job's next fire tries again anyway; and the
    log gets one line a fire, not a traceback.
    """


class CommandFailed(Exception):
    """The command exited with a code outside ``success_codes``, or a signal killed it.

    It is an ordinary exception, so the job's retry policy applies.

    :param program: the program as the command names it, for the message.
    :param returncode: the exit code; negative for a signal death (``-9`` for SIGKILL).
    :param last_error_line: the last non-empty line of stderr, quoted in the message.
    """

    def __init__(
        self,
        program: str,
        returncode: int,
        success_codes: frozenset[int],
        last_error_line: str = "",
    ) -> None:
        self.program = program
        self.returncode = returncode
        self.success_codes = success_codes
        self.signal = signal_name(-returncode) if returncode < 0 else None
        if self.signal is not None:
            what = f"{program!r} was killed by signal {self.signal} ({-returncode})"
        else:
            codes = ", ".join(str(code) for code in sorted(success_codes))
            what = f"{program!r} exited with code {returncode} (success codes: {codes})"
        super().__init__(f"{what}: {last_error_line}" if last_error_line else what)


def signal_name(number: int) -> str:
    """``SIGTERM`` for 15; ``signal 64`` for a number without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
