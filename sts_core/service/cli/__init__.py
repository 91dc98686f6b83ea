# PYTHON_ARGCOMPLETE_OK (argcomplete's global completion looks for this marker)
"""The ``sts`` command: ``main`` parses the command line and runs one subcommand.

Exit codes: 0 ok, 1 a job failed (where it applies) or no scheduler answers, 2 usage or
configuration error (or one of the machine's: a read-only state dir, a scheduler already
running), with one error sentence on stderr and no traceback; 130 after Ctrl-C, 141 when
the reader of the output went away (``sts jobs | head -1``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import JOB_FAILED, OK, USAGE_ERROR, CommandError
from .failures import BROKEN_PIPE, expected_failure, silence_broken_stdout

if TYPE_CHECKING:
    from ...plugins import Registration
    from ..registries import Command

__all__ = ["JOB_FAILED", "OK", "USAGE_ERROR", "CommandError", "main"]

#: Exit code of a command stopped with Ctrl-C, as shells report it.
INTERRUPTED = 130


def _plugin_commands() -> list[Registration[Command]]:
    from ...plugins import default_plugins
    from ..registries import commands
    from .parser import BUILTIN_COMMANDS

    registered = []
    for registration in commands(default_plugins()).items():
        if registration.name in BUILTIN_COMMANDS:
            print(
                f"sts: plugin {registration.plugin!r} registered the command "
                f"{registration.name!r}, which is built in; ignored",
                file=sys.stderr,
            )
            continue
        registered.append(registration)
    return registered


def _resolve(handler: str | Callable[[Any], int]) -> Callable[[Any], int]:
    if callable(handler):
        return handler
    from ...importing import import_callable

    return import_callable(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sts`` with ``argv`` (``sys.argv[1:]`` by default); return the exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, so that a closed pipe is seen while we can handle it
        return code
    except BrokenPipeError:  # `sts jobs | head -1`: the reader has all it wanted
        silence_broken_stdout()
        return BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    from .parser import build_parser

    parser = build_parser(_plugin_commands())
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (docs/cli.md)
        from .completion import complete

        complete(parser)  # writes them and exits
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version, or a usage error
        return exit_request.code if isinstance(exit_request.code, int) else USAGE_ERROR
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    if args.log_level is not None:
        # The environment layer is below command-line flags; setting it here lets the flag
        # reach every logger the command configures, including a module's own scheduler.
        os.environ["LOG_LEVEL"] = args.log_level
    prefix = f"sts {args.command}"
    try:
        return int(_resolve(args.handler)(args))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        raise  # an OSError too, but not a failure: main() ends quietly
    except Exception as error:
        failure = expected_failure(error)
        if failure is None:
            raise  # a bug: its traceback is what a report needs
        message, code = failure
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return code
